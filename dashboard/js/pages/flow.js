import { get, postJson, request } from '../api.js';
import { componentName, componentsByDigest, scalingPolicy } from '../components.js';
import { dag, flowGraph } from '../dag.js';
import { h, isoFromLocal, notify, showError, time } from '../dom.js';
import { runTable } from './overview.js';
import { flowEditor } from './flows.js';

export async function flowPage(id) {
  const [flow, byDigest, runs] = await Promise.all([get(`/api/v1/flows/${encodeURIComponent(id)}`), componentsByDigest(true), get(`/api/v1/runs?flow=${encodeURIComponent(id)}&limit=10`)]);
  const spec = flow.spec;
  const { nodes, edges } = flowGraph(spec, (t) => componentName(t, byDigest));
  const graph = dag(nodes, edges, (node) => document.querySelector(`[data-task-row="${CSS.escape(node)}"]`)?.scrollIntoView({ behavior: 'smooth', block: 'center' }));

  const tasks = h('div', { class: 'scroll' }, h('table', { class: 'tasks' },
    h('thead', {}, h('tr', {}, h('th', {}, 'task'), h('th', {}, 'component'), h('th', {}, 'scaling policy'), h('th', { class: 'hide-sm' }, 'needs / inputs'), h('th', { class: 'hide-sm' }, 'retry · timeout'))),
    h('tbody', {}, spec.tasks.map((t) => h('tr', { 'data-task-row': t.id },
      h('td', {}, t.id),
      h('td', {}, componentName(t, byDigest), h('div', { class: 'muted mono', title: t.digest }, t.digest.slice(0, 12))),
      h('td', { 'data-policy': t.id }, scalingPolicy(t, byDigest)),
      h('td', { class: 'hide-sm' }, [...(t.needs ?? []), ...(t.inputs ?? [])].join(', ') || '–'),
      h('td', { class: 'hide-sm' }, `${t.retry?.attempts ?? 1} attempt(s) · ${t.timeout ?? '15m'}`),
    ))),
  ));

  const yaml = h('pre', { id: 'flow-source' }, flow.source);
  const revisionPicker = h('select', { 'aria-label': 'revision', onchange: async (e) => {
    try {
      yaml.textContent = (await get(`/api/v1/flows/${encodeURIComponent(id)}/revisions/${e.target.value}`)).source;
    } catch (err) {
      showError(err);
    }
  } }, [...flow.revisions].sort((a, b) => b.revision - a.revision).map((r) => h('option', { value: r.revision, selected: r.revision === flow.revision }, `revision ${r.revision} · ${time(r.createdAt)}`)));

  const triggers = spec.triggers ?? [];
  return [
    h('h1', {}, `Flow ${id}`, h('span', { class: 'muted' }, `revision ${flow.revision}`)),
    spec.description ? h('p', { class: 'muted' }, spec.description) : null,
    h('section', { class: 'panel' }, h('h2', {}, 'Graph'), graph.el),
    h('section', { class: 'panel' }, h('h2', {}, 'Tasks'), tasks),
    h('div', { class: 'grid' },
      triggerForm(id, spec),
      h('section', { class: 'panel' }, h('h2', {}, 'Triggers'),
        triggers.length ? h('ul', {}, triggers.map((t) => h('li', { class: 'mono' }, describeTrigger(t)))) : h('p', { class: 'muted' }, 'Only by hand or the API.'),
        flow.schedules.map((s) => h('p', { 'data-next-fire': '' }, `Next fire of `, h('code', {}, s.cron), `: ${time(s.nextFireAt)}`, s.lastFireAt ? h('span', { class: 'muted' }, ` (last ${time(s.lastFireAt)})`) : null)),
        triggers.some((t) => t.type === 'schedule') ? backfillForm(id) : null,
      ),
    ),
    h('section', { class: 'panel' }, h('h2', {}, 'Recent runs ', h('a', { href: `#/runs?flow=${encodeURIComponent(id)}` }, 'all →')), runTable(runs.items)),
    h('section', { class: 'panel' }, h('div', { class: 'row' }, h('h2', { style: { margin: 0 } }, 'Document'), revisionPicker), yaml),
    flowEditor(flow.source, 'Edit (saves a new revision)', () => dispatchEvent(new HashChangeEvent('hashchange'))),
  ];
}

function describeTrigger(t) {
  switch (t.type) {
    case 'schedule': return `schedule ${t.cron}${t.timezone ? ` (${t.timezone})` : ''}, missed: ${t.missed ?? 'skip'}`;
    case 'webhook': return `webhook POST /api/v1/flows/…/webhook${t.input ? ` → input ${t.input}` : ''}`;
    case 'flow': return `after flow ${t.flow} ${t.on ?? 'succeeded'}`;
    case 'asset': return `when ${t.flow} materializes ${t.asset}`;
    default: return JSON.stringify(t);
  }
}

/** A form from the flow's inputs: a file picker per asset input, a typed field per other input; sent as multipart. */
function triggerForm(id, spec) {
  const fields = Object.entries(spec.inputs ?? {}).map(([name, input]) => {
    const type = input.type ?? 'asset';
    const label = `${name}${input.description ? ` — ${input.description}` : ''}`;
    if (type === 'asset') return h('label', {}, label, h('input', { type: 'file', name, 'data-input': name }));
    if (type === 'boolean') return h('label', {}, h('input', { type: 'checkbox', name, 'data-input': name, checked: input.default === true }), ` ${label}`);
    return h('label', {}, label, h('input', { type: type === 'number' ? 'number' : 'text', step: 'any', name, 'data-input': name, value: input.default !== undefined ? String(input.default) : undefined }));
  });
  const submit = async (e) => {
    e.preventDefault();
    const data = new FormData();
    for (const el of e.target.querySelectorAll('[data-input]')) {
      if (el.type === 'file') for (const f of el.files) data.append(el.name, f, f.name);
      else if (el.type === 'checkbox') data.append(el.name, String(el.checked));
      else if (el.value !== '') data.append(el.name, el.value);
    }
    try {
      const run = await (await request('POST', `/api/v1/flows/${encodeURIComponent(id)}/runs`, data)).json();
      location.hash = `#/runs/${encodeURIComponent(run.id)}`;
    } catch (err) {
      showError(err);
    }
  };
  return h('section', { class: 'panel' }, h('h2', {}, 'Trigger a run'), h('form', { id: 'trigger-form', onsubmit: submit }, fields.length ? fields : h('p', { class: 'muted' }, 'This flow has no inputs.'), h('menu', {}, h('button', { type: 'submit', id: 'trigger' }, 'Run now'))));
}

function backfillForm(id) {
  const from = h('input', { type: 'datetime-local', name: 'from', required: true });
  const to = h('input', { type: 'datetime-local', name: 'to', required: true });
  const conc = h('input', { type: 'number', name: 'concurrency', min: 1, value: '1' });
  const submit = async (e) => {
    e.preventDefault();
    try {
      const b = await postJson(`/api/v1/flows/${encodeURIComponent(id)}/backfills`, { from: isoFromLocal(from.value), to: isoFromLocal(to.value), concurrency: Number(conc.value) || 1 });
      notify(`Backfill ${b.id}: ${b.runs} runs`);
      location.hash = `#/runs?flow=${encodeURIComponent(id)}&backfill=${encodeURIComponent(b.id)}`;
    } catch (err) {
      showError(err);
    }
  };
  return h('form', { id: 'backfill-form', onsubmit: submit }, h('h2', {}, 'Backfill'), h('div', { class: 'row' }, h('label', {}, 'from', from), h('label', {}, 'to (exclusive)', to), h('label', {}, 'concurrency', conc), h('button', { type: 'submit' }, 'Start backfill')));
}
