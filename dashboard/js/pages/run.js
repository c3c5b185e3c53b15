import { download, events, get, getText, postJson } from '../api.js';
import { componentName, componentsByDigest } from '../components.js';
import { dag, flowGraph } from '../dag.js';
import { badge, bytes, duration, fill, h, notify, showError, span, time } from '../dom.js';
import { gantt } from '../gantt.js';

const LIVE = new Set(['queued', 'running']);
const MAX_TIMELINE = 500;

export async function runPage(id, q, signal) {
  const rid = encodeURIComponent(id);
  let run = await get(`/api/v1/runs/${rid}`);
  const [rev, byDigest] = await Promise.all([get(`/api/v1/flows/${encodeURIComponent(run.flowId)}/revisions/${run.revision}`), componentsByDigest(true)]);
  const spec = rev.spec;
  let selected = q.get('task') ?? null;
  let assets = [];

  const { nodes, edges } = flowGraph(spec, (t) => componentName(t, byDigest));
  const graph = dag(nodes, edges, (node) => !node.startsWith('input:') && pick(node));
  const header = h('div');
  const taskTable = h('div', { class: 'scroll' });
  const taskPanel = h('section', { class: 'panel', id: 'task-panel', hidden: !selected });
  const logPanel = h('section', { class: 'panel', id: 'log-panel', hidden: true });
  const assetPanel = h('section', { class: 'panel', id: 'assets' });

  const pick = (taskId) => {
    selected = taskId;
    history.replaceState(null, '', `#/runs/${rid}?task=${encodeURIComponent(taskId)}`);
    logPanel.hidden = true;
    refresh();
  };

  const renderHeader = () => {
    const actions = [];
    if (LIVE.has(run.state)) actions.push(h('button', { id: 'cancel', class: 'ghost', onclick: () => act('cancel') }, 'Cancel'));
    if (run.state === 'failed' || run.state === 'cancelled') actions.push(h('button', { id: 'retry', onclick: () => act('retry') }, 'Retry failed part'));
    fill(header, 
      h('h1', {}, 'Run ', h('span', { class: 'mono' }, run.id), h('span', { id: 'run-state' }, badge(run.state)), ...actions),
      h('dl', { class: 'kv panel' },
        h('dt', {}, 'flow'), h('dd', {}, h('a', { href: `#/flows/${encodeURIComponent(run.flowId)}` }, run.flowId), ` revision ${run.revision}`),
        h('dt', {}, 'trigger'), h('dd', {}, run.trigger, run.backfillId ? ` (backfill ${run.backfillId})` : ''),
        run.logicalTime ? [h('dt', {}, 'logical time'), h('dd', {}, time(run.logicalTime))] : null,
        Object.keys(run.params).length ? [h('dt', {}, 'params'), h('dd', { class: 'mono' }, JSON.stringify(run.params))] : null,
        h('dt', {}, 'created'), h('dd', {}, time(run.createdAt)),
        h('dt', {}, 'duration'), h('dd', {}, run.startedAt ? span(run.startedAt, run.finishedAt) : '–'),
        run.error ? [h('dt', {}, 'error'), h('dd', { class: 'error' }, run.error)] : null,
      ),
    );
  };

  const counts = (t) => Object.entries(t.instances).map(([s, n]) => `${n} ${s}`).join(', ');
  const renderTasks = () => {
    graph.update(new Map(run.tasks.map((t) => [t.taskId, { state: t.state, selected: t.taskId === selected, sub: `${t.instanceCount ?? 0} inst · ${t.state}` }])));
    fill(taskTable, h('table', { class: 'tasks' },
      h('thead', {}, h('tr', {}, h('th', {}, 'task'), h('th', {}, 'state'), h('th', {}, 'instances'), h('th', { class: 'hide-sm' }, 'policy'), h('th', {}, 'duration'))),
      h('tbody', {}, run.tasks.map((t) => h('tr', { 'data-task': t.taskId, 'data-state': t.state },
        h('td', {}, h('a', { href: `#/runs/${rid}?task=${encodeURIComponent(t.taskId)}`, onclick: (e) => (e.preventDefault(), pick(t.taskId)) }, t.taskId)),
        h('td', {}, badge(t.state), t.error ? h('div', { class: 'error' }, t.error) : null),
        h('td', {}, String(t.instanceCount ?? '–'), h('div', { class: 'muted' }, counts(t))),
        h('td', { class: 'hide-sm' }, t.policy ?? '–'),
        h('td', {}, t.startedAt ? span(t.startedAt, t.finishedAt) : '–'),
      ))),
    ));
  };

  /** The bytes a task was planned from: the flow inputs it reads and every output of the tasks it needs. */
  const inputsOf = (taskId) => {
    const t = spec.tasks.find((x) => x.id === taskId);
    return assets.filter((a) => (a.taskId === null && (t?.inputs ?? []).includes(a.name)) || (a.taskId !== null && (t?.needs ?? []).includes(a.taskId)));
  };

  const renderTask = async () => {
    if (!selected) return;
    const t = run.tasks.find((x) => x.taskId === selected);
    if (!t) return;
    const items = [];
    let after = -1;
    while (items.length < MAX_TIMELINE) {
      const page = await get(`/api/v1/runs/${rid}/tasks/${encodeURIComponent(selected)}/instances?after=${after}&limit=${Math.min(1000, MAX_TIMELINE - items.length)}`);
      items.push(...page.items);
      if (page.nextAfter === null) break;
      after = page.nextAfter;
    }
    const ins = inputsOf(selected);
    const total = ins.reduce((a, x) => a + x.size, 0);
    taskPanel.hidden = false;
    taskPanel.dataset.task = selected;
    fill(taskPanel, 
      h('h2', {}, `Task ${selected} `, badge(t.state)),
      h('dl', { class: 'kv' },
        h('dt', {}, 'instances'), h('dd', { 'data-instance-count': t.instanceCount ?? 0 }, `${t.instanceCount ?? '–'}`, h('span', { class: 'muted' }, t.instanceCount ? ` (${counts(t)})` : '')),
        h('dt', {}, 'decided by'), h('dd', { 'data-policy': '' }, t.policy ?? 'not planned yet'),
        h('dt', {}, 'from inputs'), h('dd', {}, ins.length ? `${ins.length} asset(s), ${bytes(total)}: ${ins.slice(0, 6).map((a) => `${a.taskId ?? 'input'}/${a.name} ${bytes(a.size)}`).join(', ')}${ins.length > 6 ? ', …' : ''}` : '–'),
      ),
      h('h2', { style: { marginTop: '12px' } }, 'Timeline'),
      gantt(items, openLog),
      (t.instanceCount ?? 0) > items.length ? h('p', { class: 'hint' }, `The first ${items.length} of ${t.instanceCount} instances.`) : null,
      h('div', { class: 'scroll' }, h('table', { class: 'instances' },
        h('thead', {}, h('tr', {}, h('th', {}, '#'), h('th', {}, 'state'), h('th', {}, 'attempt'), h('th', {}, 'duration'), h('th', {}, 'failure'), h('th', {}, ''))),
        h('tbody', {}, items.slice(0, 50).map((i) => h('tr', { 'data-instance-row': i.idx, 'data-state': i.state },
          h('td', {}, String(i.idx)), h('td', {}, badge(i.state)), h('td', {}, String(i.attempt)),
          h('td', {}, i.startedAt ? span(i.startedAt, i.finishedAt) : '–'),
          h('td', {}, i.errorKind ? h('span', { class: 'error', title: i.error ?? '' }, i.errorKind) : '–'),
          h('td', {}, i.attempt > 0 && i.state !== 'running' && i.state !== 'pending' ? h('button', { class: 'ghost', 'data-log': i.idx, onclick: () => openLog(i.idx) }, 'log') : null),
        ))),
      )),
    );
  };

  const openLog = async (idx) => {
    try {
      const base = `/api/v1/runs/${rid}/tasks/${encodeURIComponent(selected)}/instances/${idx}`;
      const inst = await get(base);
      const pre = h('pre', { id: 'log-text' });
      const show = async (attempt) => {
        pre.textContent = (await getText(`${base}/log?attempt=${attempt}`)) || '(empty log)';
        tabs.querySelectorAll('button').forEach((b) => b.classList.toggle('on', Number(b.dataset.attempt) === attempt));
      };
      const tabs = h('div', { class: 'tabs' }, inst.attempts.map((a) => h('button', { 'data-attempt': a.attempt, onclick: () => show(a.attempt) }, `attempt ${a.attempt}: ${a.outcome}${a.errorKind ? ` (${a.errorKind})` : ''} · ${duration(a.finishedAt - a.startedAt)}`)));
      logPanel.hidden = false;
      fill(logPanel, h('h2', {}, `Log of ${selected} #${idx} `, badge(inst.state)), inst.error ? h('p', { class: 'error' }, inst.error) : null, tabs, pre);
      if (inst.attempts.length) await show(inst.attempts.at(-1).attempt);
      else pre.textContent = 'No finished attempt yet.';
      logPanel.scrollIntoView({ behavior: 'smooth', block: 'start' });
    } catch (e) {
      showError(e);
    }
  };

  const renderAssets = () => {
    fill(assetPanel, h('h2', {}, 'Assets'), assets.length ? h('div', { class: 'scroll' }, h('table', {},
      h('thead', {}, h('tr', {}, h('th', {}, 'name'), h('th', {}, 'from'), h('th', {}, 'size'), h('th', { class: 'hide-sm' }, 'sha256'), h('th', {}, ''))),
      h('tbody', {}, assets.slice(0, 200).map((a) => h('tr', { 'data-asset': a.id },
        h('td', {}, a.name), h('td', {}, a.taskId === null ? 'run input' : `${a.taskId} #${a.instanceIdx}`), h('td', {}, bytes(a.size)),
        h('td', { class: 'hide-sm mono', title: a.sha256 }, a.sha256.slice(0, 12)),
        h('td', {}, h('button', { class: 'ghost', onclick: () => download(a.url, a.name).catch(showError) }, 'download')),
      ))),
    )) : h('p', { class: 'muted' }, 'None yet.'), assets.length > 200 ? h('p', { class: 'hint' }, `The first 200 of ${assets.length}.`) : null);
  };

  let pending = null;
  const refresh = () => (pending ??= (async () => {
    await new Promise((r) => setTimeout(r, 150));
    pending = null;
    if (signal.aborted) return;
    try {
      [run, { items: assets }] = await Promise.all([get(`/api/v1/runs/${rid}`), get(`/api/v1/runs/${rid}/assets`)]);
      if (signal.aborted) return;
      renderHeader();
      renderTasks();
      renderAssets();
      await renderTask();
    } catch (e) {
      if (!signal.aborted) showError(e);
    }
  })());

  const act = async (what) => {
    try {
      run = await postJson(`/api/v1/runs/${rid}/${what}`);
      notify(what === 'retry' ? 'Queued again: the failed part runs again' : 'Cancelled');
      renderHeader();
      follow();
      refresh();
    } catch (e) {
      showError(e);
    }
  };

  // The run's event stream says when something changed; the page then re-reads the run (one request per burst).
  const follow = () => events(`/api/v1/runs/${rid}/events`, () => refresh(), signal).then(() => refresh(), (e) => !signal.aborted && showError(e));

  [{ items: assets }] = await Promise.all([get(`/api/v1/runs/${rid}/assets`)]);
  renderHeader();
  renderTasks();
  renderAssets();
  await renderTask();
  if (LIVE.has(run.state)) follow();
  return [header, h('section', { class: 'panel' }, h('h2', {}, 'Graph'), graph.el), h('section', { class: 'panel' }, h('h2', {}, 'Tasks'), taskTable), taskPanel, logPanel, assetPanel];
}
