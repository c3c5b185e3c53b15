// The only way the dashboard learns anything: the public HTTP API, at a configurable base URL with an optional token.
const KEY = 'tutti.connection';

/** ?api=…&token=… in the page URL wins (and is remembered), so a link can point a fresh browser at a server. */
export function loadConnection() {
  const q = new URLSearchParams(location.search);
  const saved = JSON.parse(localStorage.getItem(KEY) || '{}');
  if (q.has('api') || q.has('token')) {
    saveConnection({ api: q.get('api') ?? saved.api ?? '', token: q.get('token') ?? saved.token ?? '' });
    // Keep the token out of the address bar and history.
    history.replaceState(null, '', location.pathname + location.hash);
    return loadConnection();
  }
  return { api: saved.api ?? '', token: saved.token ?? '' };
}

export function saveConnection(c) {
  localStorage.setItem(KEY, JSON.stringify({ api: (c.api || '').trim().replace(/\/+$/, ''), token: (c.token || '').trim() }));
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code;
  }
}

const base = () => loadConnection().api || location.origin;
const authHeaders = () => {
  const t = loadConnection().token;
  return t ? { authorization: `Bearer ${t}` } : {};
};

export const url = (p) => base() + p;

export async function request(method, path, body, headers = {}) {
  let res;
  try {
    res = await fetch(url(path), { method, body, headers: { ...authHeaders(), ...headers } });
  } catch (e) {
    throw new ApiError(0, { error: { message: `cannot reach the API at ${base()} (${e.message}); check the URL in settings, and --cors-origin when this page is on another origin` } });
  }
  if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => undefined));
  return res;
}

export const get = async (path) => (await request('GET', path)).json();
export const getText = async (path) => (await request('GET', path)).text();
export const postJson = async (path, value) => (await request('POST', path, JSON.stringify(value ?? {}), { 'content-type': 'application/json' })).json();

/** Download with the token (a plain link cannot carry it): fetch, then save the blob under the server's file name. */
export async function download(path, fallbackName) {
  const res = await request('GET', path);
  const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? fallbackName;
  const href = URL.createObjectURL(await res.blob());
  const a = Object.assign(document.createElement('a'), { href, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10_000);
}

/**
 * Server-sent events read with fetch, because EventSource cannot send an Authorization header.
 * Reconnects after the last event id until `signal` aborts or the server ends a run's stream.
 */
export async function events(path, onEvent, signal) {
  let last;
  for (let tries = 0; !signal.aborted && tries < 20; tries++) {
    try {
      const res = await request('GET', path, undefined, last ? { 'last-event-id': String(last) } : {});
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      signal.addEventListener('abort', () => reader.cancel().catch(() => {}), { once: true });
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += value;
        let cut;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const ev = {};
          for (const line of block.split('\n')) {
            const m = /^(id|event|data): ?(.*)$/.exec(line);
            if (m) ev[m[1]] = ev[m[1]] === undefined || m[1] !== 'data' ? m[2] : ev[m[1]] + '\n' + m[2];
          }
          if (ev.id) last = Number(ev.id);
          if (ev.data) onEvent(ev.event, JSON.parse(ev.data));
        }
      }
    } catch (e) {
      if (signal.aborted) return;
      if (e instanceof ApiError && e.status >= 400 && e.status < 500) throw e;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
