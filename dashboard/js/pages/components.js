import { get, request } from '../api.js';
import { manifestText } from '../components.js';
import { bytes, h, notify, showError, time } from '../dom.js';

export async function componentsPage() {
  const { items } = await get('/api/v1/components');
  const name = h('input', { name: 'name', placeholder: 'name', required: true, pattern: '[a-z0-9_.-]+' });
  const version = h('input', { name: 'version', placeholder: '1.0.0', required: true });
  const file = h('input', { type: 'file', name: 'wasm', accept: '.wasm,application/wasm', required: true });
  const upload = async (e) => {
    e.preventDefault();
    try {
      await request('POST', `/api/v1/components?name=${encodeURIComponent(name.value)}&version=${encodeURIComponent(version.value)}`, file.files[0], { 'content-type': 'application/wasm' });
      notify(`Uploaded ${name.value}@${version.value}`);
      dispatchEvent(new HashChangeEvent('hashchange'));
    } catch (err) {
      showError(err);
    }
  };
  return [
    h('h1', {}, 'Components'),
    h('section', { class: 'panel' }, items.length ? h('div', { class: 'scroll' }, h('table', { class: 'components' },
      h('thead', {}, h('tr', {}, h('th', {}, 'name'), h('th', {}, 'contract'), h('th', {}, 'scaling'), h('th', { class: 'hide-sm' }, 'exports'), h('th', {}, 'size'), h('th', { class: 'hide-sm' }, 'digest'), h('th', { class: 'hide-sm' }, 'added'))),
      h('tbody', {}, items.map((c) => h('tr', { 'data-component': c.digest },
        h('td', {}, c.versions.join(', ') || h('span', { class: 'muted' }, 'unlabelled')),
        h('td', {}, c.contract === 'task' ? 'tutti:task' : 'wasi:cli/command'),
        h('td', {}, c.hasPlan ? 'plan export' : c.manifest ? h('span', { title: JSON.stringify(c.manifest) }, manifestText(c.manifest)) : 'single instance'),
        h('td', { class: 'hide-sm mono' }, c.exports.join(', ')),
        h('td', {}, bytes(c.size)),
        h('td', { class: 'hide-sm mono', title: c.digest }, c.digest.slice(0, 16)),
        h('td', { class: 'hide-sm' }, time(c.createdAt)),
      ))),
    )) : h('p', { class: 'muted' }, 'No components yet.')),
    h('section', { class: 'panel' }, h('h2', {}, 'Upload a component'), h('form', { class: 'row', onsubmit: upload }, h('label', {}, 'name', name), h('label', {}, 'version', version), h('label', {}, '.wasm', file), h('button', { type: 'submit' }, 'Upload'))),
  ];
}
