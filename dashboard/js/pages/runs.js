import { get } from '../api.js';
import { h, isoFromLocal } from '../dom.js';
import { runTable } from './overview.js';

const STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'skipped'];
const localValue = (iso) => {
  if (!iso) return '';
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
};

export async function runsPage(q) {
  const api = new URLSearchParams();
  for (const k of ['flow', 'state', 'since', 'until', 'backfill', 'trigger', 'cursor']) if (q.get(k)) api.set(k, q.get(k));
  api.set('limit', q.get('limit') ?? '25');
  const [page, flows] = await Promise.all([get(`/api/v1/runs?${api}`), get('/api/v1/flows')]);

  const flow = h('select', { name: 'flow', 'aria-label': 'flow' }, h('option', { value: '' }, 'all flows'), flows.items.map((f) => h('option', { value: f.id, selected: f.id === q.get('flow') }, f.id)));
  const state = h('select', { name: 'state', 'aria-label': 'state' }, h('option', { value: '' }, 'any state'), STATES.map((s) => h('option', { value: s, selected: s === q.get('state') }, s)));
  const since = h('input', { type: 'datetime-local', name: 'since', value: localValue(q.get('since')) });
  const until = h('input', { type: 'datetime-local', name: 'until', value: localValue(q.get('until')) });
  const apply = (e) => {
    e.preventDefault();
    const next = new URLSearchParams();
    if (flow.value) next.set('flow', flow.value);
    if (state.value) next.set('state', state.value);
    if (since.value) next.set('since', isoFromLocal(since.value));
    if (until.value) next.set('until', isoFromLocal(until.value));
    if (q.get('backfill')) next.set('backfill', q.get('backfill'));
    location.hash = `#/runs?${next}`;
  };
  const without = (key) => {
    const n = new URLSearchParams(q);
    n.delete(key);
    return `#/runs?${n}`;
  };
  const nextHref = () => {
    const n = new URLSearchParams(q);
    n.set('cursor', page.nextCursor);
    return `#/runs?${n}`;
  };
  return [
    h('h1', {}, 'Runs'),
    h('section', { class: 'panel' },
      h('form', { class: 'row', id: 'run-filters', onsubmit: apply }, h('label', {}, 'flow', flow), h('label', {}, 'state', state), h('label', {}, 'created since', since), h('label', {}, 'until', until), h('button', { type: 'submit' }, 'Filter')),
      q.get('backfill') ? h('p', {}, `Runs of backfill ${q.get('backfill')} `, h('a', { href: without('backfill') }, '(all runs)')) : null,
      runTable(page.items),
      h('div', { class: 'row', style: { marginTop: '10px' } },
        q.get('cursor') ? h('a', { class: 'button', href: without('cursor') }, '« newest') : null,
        page.nextCursor ? h('a', { class: 'button', href: nextHref(), id: 'next-page' }, 'older »') : null,
      ),
    ),
  ];
}
