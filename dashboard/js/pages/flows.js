import { get, request } from '../api.js';
import { h, notify, showError, time } from '../dom.js';

const EXAMPLE = `id: my-flow
inputs:
  text: { type: asset }
tasks:
  - id: count
    component: wordcount@1.0.0
    inputs: [text]
  - id: total
    component: sum@1.0.0
    needs: [count]
`;

export async function flowsPage(q) {
  const search = q.get('q') ?? '';
  const { items } = await get(`/api/v1/flows${search ? `?q=${encodeURIComponent(search)}` : ''}`);
  const box = h('input', { type: 'search', name: 'q', placeholder: 'search id or description', value: search, 'aria-label': 'search flows' });
  const form = h('form', { class: 'row', onsubmit: (e) => {
    e.preventDefault();
    location.hash = `#/flows${box.value ? `?q=${encodeURIComponent(box.value)}` : ''}`;
  } }, box, h('button', { type: 'submit' }, 'Search'));
  return [
    h('h1', {}, 'Flows'),
    h('section', { class: 'panel' }, form,
      items.length
        ? h('div', { class: 'scroll' }, h('table', { class: 'flows' },
            h('thead', {}, h('tr', {}, h('th', {}, 'flow'), h('th', {}, 'tasks'), h('th', { class: 'hide-sm' }, 'triggers'), h('th', {}, 'next fire'), h('th', { class: 'hide-sm' }, 'updated'))),
            h('tbody', {}, items.map((f) => h('tr', { 'data-flow': f.id },
              h('td', {}, h('a', { href: `#/flows/${encodeURIComponent(f.id)}` }, f.id), h('span', { class: 'muted' }, ` r${f.revision}`), f.description ? h('div', { class: 'muted' }, f.description) : null),
              h('td', {}, String(f.tasks)),
              h('td', { class: 'hide-sm' }, f.triggers.map((t) => t.type).join(', ') || '–'),
              h('td', {}, f.nextFireAt ? time(f.nextFireAt) : '–'),
              h('td', { class: 'hide-sm' }, time(f.updatedAt)),
            )))))
        : h('p', { class: 'muted' }, search ? 'No flow matches.' : 'No flows yet: create one below.'),
    ),
    flowEditor(EXAMPLE, 'New flow', (id) => (location.hash = `#/flows/${encodeURIComponent(id)}`)),
  ];
}

/** A YAML editor that saves with POST /flows (a new revision when the document changed). */
export function flowEditor(source, title, onSaved) {
  const area = h('textarea', { name: 'yaml', spellcheck: false, 'aria-label': 'flow YAML' });
  area.value = source;
  const out = h('div', { class: 'error', role: 'alert' });
  const save = async (e) => {
    e.preventDefault();
    out.textContent = '';
    try {
      const res = await (await request('POST', '/api/v1/flows', area.value, { 'content-type': 'application/yaml' })).json();
      notify(res.created ? `Saved ${res.id} revision ${res.revision}` : `${res.id} is unchanged (revision ${res.revision})`);
      onSaved(res.id);
    } catch (err) {
      // A bad flow lists every problem with its place: show them all, not only the first.
      out.textContent = err.message;
      if (err.status === 0) showError(err);
    }
  };
  return h('section', { class: 'panel', id: 'flow-editor' }, h('h2', {}, title), h('form', { onsubmit: save }, area, out, h('menu', {}, h('button', { type: 'submit', id: 'save-flow' }, 'Save flow'))));
}
