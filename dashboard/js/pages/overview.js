import { get } from '../api.js';
import { runsPerHourChart, ring } from '../charts.js';
import { badge, duration, h, span, time } from '../dom.js';

export async function overviewPage(signal) {
  const [stats, recent] = await Promise.all([get('/api/v1/stats?hours=24'), get('/api/v1/runs?limit=10')]);
  const card = (k, v, extra) => h('div', { class: 'card', 'data-stat': k }, h('div', { class: 'v' }, v), h('div', { class: 'k' }, k), extra);
  const cards = h('div', { class: 'cards' },
    card('runs (24 h)', String(stats.hours.reduce((a, b) => a + Object.values(b.states).reduce((x, n) => x + n, 0), 0))),
    card('success rate', stats.successRate === null ? '–' : `${Math.round(stats.successRate * 100)}%`, h('div', { class: 'k' }, `${stats.succeeded} ok · ${stats.failed} failed`)),
    card('duration p50', duration(stats.durationMs.p50)),
    card('duration p95', duration(stats.durationMs.p95)),
    card('instances running', String(stats.instancesRunning)),
    card('queue depth', String(stats.queueDepth), h('div', { class: 'k' }, `${stats.workers} workers`)),
  );
  // The numbers move while runs go on: refresh them while this page is open.
  const timer = setInterval(async () => {
    try {
      const s = await get('/api/v1/stats?hours=24');
      cards.querySelector('[data-stat="instances running"] .v').textContent = String(s.instancesRunning);
      cards.querySelector('[data-stat="queue depth"] .v').textContent = String(s.queueDepth);
    } catch {
      // a transient miss; the next tick tries again
    }
  }, 5000);
  signal.addEventListener('abort', () => clearInterval(timer), { once: true });
  return [
    h('h1', {}, 'Overview'),
    cards,
    h('div', { class: 'grid' },
      h('section', { class: 'panel' }, h('h2', {}, 'Runs per hour, last 24 h'), runsPerHourChart(stats.hours)),
      h('section', { class: 'panel' }, h('h2', {}, 'Success rate'), ring(stats.successRate, 'success rate'), h('p', { class: 'hint' }, `${stats.durationMs.finished} runs finished in the window`)),
    ),
    h('section', { class: 'panel' }, h('h2', {}, 'Latest runs ', h('a', { href: '#/runs' }, 'all runs →')), runTable(recent.items)),
  ];
}

export function runTable(runs) {
  if (!runs.length) return h('p', { class: 'muted' }, 'No runs yet.');
  return h('div', { class: 'scroll' }, h('table', { class: 'runs' },
    h('thead', {}, h('tr', {}, h('th', {}, 'run'), h('th', {}, 'flow'), h('th', {}, 'state'), h('th', { class: 'hide-sm' }, 'trigger'), h('th', {}, 'created'), h('th', { class: 'hide-sm' }, 'duration'))),
    h('tbody', {}, runs.map((r) => h('tr', { 'data-run': r.id },
      h('td', {}, h('a', { href: `#/runs/${encodeURIComponent(r.id)}`, class: 'mono' }, r.id.slice(0, 14))),
      h('td', {}, h('a', { href: `#/flows/${encodeURIComponent(r.flowId)}` }, r.flowId), h('span', { class: 'muted' }, ` r${r.revision}`)),
      h('td', {}, badge(r.state)),
      h('td', { class: 'hide-sm' }, r.trigger, r.logicalTime ? h('div', { class: 'muted' }, time(r.logicalTime)) : null),
      h('td', {}, time(r.createdAt)),
      h('td', { class: 'hide-sm' }, r.startedAt ? span(r.startedAt, r.finishedAt) : '–'),
    ))),
  ));
}
