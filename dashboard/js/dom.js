// A tiny hyperscript: enough to build pages without a framework or a build step.
export function h(tag, attrs, ...children) {
  const svg = tag.startsWith('svg:');
  const el = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (!svg && k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export const badge = (state) => h('span', { class: `badge s-${state}`, 'data-state': state }, state);

export function bytes(n) {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) (n /= 1024), i++;
  return `${i ? n.toFixed(n < 10 ? 1 : 0) : n} ${units[i]}`;
}

export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${Math.floor(ms / 3_600_000)} h ${Math.round((ms % 3_600_000) / 60_000)} min`;
}

export const time = (ms) => (ms ? new Date(ms).toLocaleString() : '–');
export const span = (a, b) => (a ? duration((b ?? Date.now()) - a) : '–');

/** Turn an input[type=datetime-local] value into ISO 8601 (local time), or undefined. */
export const isoFromLocal = (v) => (v ? new Date(v).toISOString() : undefined);

export function showError(e) {
  const s = document.getElementById('status');
  s.className = '';
  s.textContent = e?.message ?? String(e);
}
export function notify(text) {
  const s = document.getElementById('status');
  s.className = 'ok';
  s.textContent = text;
  setTimeout(() => s.textContent === text && (s.textContent = ''), 4000);
}
export const clearStatus = () => (document.getElementById('status').textContent = '');

/** replaceChildren that skips null/false like h() does, so conditional parts never render as "null". */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}
