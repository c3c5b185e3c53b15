// Stacked bars per hour (runs by state), SVG with no library.
import { h } from './dom.js';

const ORDER = ['succeeded', 'failed', 'cancelled', 'skipped', 'running', 'queued'];

export function runsPerHourChart(hours) {
  const W = 640, H = 180, pad = 24;
  const totals = hours.map((b) => Object.values(b.states).reduce((a, n) => a + n, 0));
  const max = Math.max(1, ...totals);
  const bw = (W - pad) / Math.max(1, hours.length);
  const svg = h('svg:svg', { viewBox: `0 0 ${W} ${H + 18}`, class: 'bars', width: '100%', role: 'img', 'aria-label': 'runs per hour' });
  svg.append(h('svg:line', { x1: pad, x2: W, y1: H, y2: H, class: 'axis' }), h('svg:text', { x: 0, y: 10 }, String(max)), h('svg:text', { x: 0, y: H }, '0'));
  hours.forEach((b, i) => {
    let y = H;
    for (const s of ORDER) {
      const n = b.states[s] ?? 0;
      if (!n) continue;
      const bh = (n / max) * (H - 10);
      y -= bh;
      svg.append(h('svg:rect', { class: `bar s-${s}`, x: pad + i * bw + 1, y, width: Math.max(1, bw - 2), height: bh }, h('svg:title', {}, `${new Date(b.hour).toLocaleString()}: ${n} ${s}`)));
    }
    if (i % Math.ceil(hours.length / 8) === 0) svg.append(h('svg:text', { x: pad + i * bw, y: H + 14 }, new Date(b.hour).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })));
  });
  return h('div', {}, svg, legend(ORDER));
}

export const legend = (states) => h('div', { class: 'legend' }, states.map((s) => h('span', { class: `s-${s}` }, h('i'), s)));

/** A ring for a share (0..1), e.g. the success rate. */
export function ring(share, label) {
  const r = 34, c = 2 * Math.PI * r;
  const on = share === null ? 0 : share * c;
  return h('svg:svg', { viewBox: '0 0 90 90', width: 90, height: 90, role: 'img', 'aria-label': label },
    h('svg:circle', { cx: 45, cy: 45, r, fill: 'none', style: 'stroke: var(--line)', 'stroke-width': 10 }),
    h('svg:circle', { cx: 45, cy: 45, r, fill: 'none', style: 'stroke: var(--ok)', 'stroke-width': 10, 'stroke-dasharray': `${on} ${c}`, transform: 'rotate(-90 45 45)' }),
    h('svg:text', { x: 45, y: 50, 'text-anchor': 'middle', 'font-weight': 600 }, share === null ? '–' : `${Math.round(share * 100)}%`),
  );
}
