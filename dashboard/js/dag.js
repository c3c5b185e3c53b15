// A flow's DAG as SVG: layers by longest path from the sources, left to right; small flows need no layout library.
import { h } from './dom.js';

const W = 180, H = 50, GX = 60, GY = 18;

/** nodes: [{id, label, sub, kind, state}], edges: [[from, to]]; onPick(id) on a click. Returns {el, update(states)}. */
export function dag(nodes, edges, onPick) {
  const layer = new Map();
  const preds = new Map(nodes.map((n) => [n.id, []]));
  for (const [a, b] of edges) preds.get(b)?.push(a);
  const depth = (id, seen = new Set()) => {
    if (layer.has(id)) return layer.get(id);
    if (seen.has(id)) return 0;
    seen.add(id);
    const d = Math.max(-1, ...preds.get(id).map((p) => depth(p, seen))) + 1;
    layer.set(id, d);
    return d;
  };
  nodes.forEach((n) => depth(n.id));
  const columns = [];
  for (const n of nodes) (columns[layer.get(n.id)] ??= []).push(n);
  const pos = new Map();
  const tallest = Math.max(...columns.map((c) => c.length));
  columns.forEach((col, x) =>
    col.forEach((n, y) => pos.set(n.id, { x: 10 + x * (W + GX), y: 10 + (y + (tallest - col.length) / 2) * (H + GY) })),
  );
  const width = 20 + columns.length * (W + GX) - GX, height = 20 + tallest * (H + GY) - GY;
  const svg = h('svg:svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': 'flow graph' });
  svg.append(h('svg:defs', {}, h('svg:marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto' }, h('svg:path', { d: 'M0,0 L10,5 L0,10 z', fill: 'currentColor', class: 'muted' }))));
  for (const [a, b] of edges) {
    const p = pos.get(a), q = pos.get(b);
    if (!p || !q) continue;
    const x1 = p.x + W, y1 = p.y + H / 2, x2 = q.x, y2 = q.y + H / 2, mx = (x1 + x2) / 2;
    svg.append(h('svg:path', { class: 'edge', d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2 - 2},${y2}`, 'marker-end': 'url(#arrow)' }));
  }
  const els = new Map();
  for (const n of nodes) {
    const { x, y } = pos.get(n.id);
    const sub = h('svg:text', { x: x + 10, y: y + 38, class: 'sub' }, clip(n.sub ?? '', 28));
    const g = h('svg:g', { class: `node ${n.kind} s-${n.state ?? 'none'}`, 'data-node': n.id, transform: '', tabindex: 0, onclick: () => onPick?.(n.id), onkeydown: (e) => e.key === 'Enter' && onPick?.(n.id) },
      h('svg:title', {}, `${n.label}${n.sub ? `\n${n.sub}` : ''}`),
      h('svg:rect', { x, y, width: W, height: H, rx: 8 }),
      h('svg:text', { x: x + 10, y: y + 20, 'font-weight': 600 }, clip(n.label, 24)),
      sub,
    );
    els.set(n.id, { g, sub, kind: n.kind });
    svg.append(g);
  }
  return {
    el: h('div', { class: 'dag' }, svg),
    /** states: Map id -> {state, sub}; the colours follow the live run. */
    update(states) {
      for (const [id, s] of states) {
        const e = els.get(id);
        if (!e) continue;
        e.g.setAttribute('class', `node ${e.kind} s-${s.state}${s.selected ? ' selected' : ''}`);
        e.g.dataset.state = s.state;
        if (s.sub !== undefined) e.sub.textContent = clip(s.sub, 28);
      }
    },
  };
}

const clip = (s, n) => (s.length > n ? s.slice(0, n - 1) + '…' : s);

/** The graph of a flow spec: asset inputs as dashed nodes, tasks with their component. */
export function flowGraph(spec, componentName) {
  const nodes = [], edges = [];
  for (const [name, input] of Object.entries(spec.inputs ?? {})) {
    if ((input.type ?? 'asset') === 'asset') nodes.push({ id: `input:${name}`, label: name, sub: 'input (asset)', kind: 'input', state: 'none' });
  }
  for (const t of spec.tasks) {
    nodes.push({ id: t.id, label: t.id, sub: componentName(t), kind: 'task', state: 'none' });
    for (const n of t.needs ?? []) edges.push([n, t.id]);
    for (const i of t.inputs ?? []) if (nodes.some((n) => n.id === `input:${i}`)) edges.push([`input:${i}`, t.id]);
  }
  return { nodes, edges };
}
