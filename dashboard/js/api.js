// The only way the dashboard learns anything: the public HTTP API, at a configurable base URL with an optional token.
//
// Tokens are kept per origin and a request carries only the token saved for the origin it goes to, so whatever the
// API base becomes (a link, the settings, a stale entry), no token reaches an origin it was not saved for.
const KEY = 'tutti.connections'; // { api: '' | 'http(s)://host[/path]', tokens: { [origin]: token } }
const OLD_KEY = 'tutti.connection'; // { api, token }, before tokens were kept per origin

/**
 * The API base as kept: '' for this page's origin, else an absolute http(s) URL without a trailing slash.
 * Throws a message fit to show on anything else: a base is where the token goes, so it must be a plain web origin.
 */
export function normalizeBase(input) {
  const raw = String(input ?? '').trim();
  if (!raw) return '';
  let u;
  try {
    u = new URL(raw, location.href);
  } catch {
    throw new Error(`"${clip(raw)}" is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`only http and https API URLs are allowed, not "${clip(u.protocol)}"`);
  if (u.username || u.password) throw new Error('an API URL with a user name or password is not allowed (use the token)');
  if (u.search || u.hash) throw new Error('an API URL cannot have a query or a fragment');
  const base = (u.origin + u.pathname).replace(/\/+$/, '');
  return base === location.origin ? '' : base;
}

/** The origin a base's requests go to, the key of its token. */
export const originOf = (base) => (base ? new URL(base, location.href).origin : location.origin);

const clip = (s) => (s.length > 120 ? `${s.slice(0, 119)}…` : s);

function read() {
  let s;
  try {
    s = JSON.parse(localStorage.getItem(KEY) ?? 'null');
  } catch {
    s = null;
  }
  if (!s || typeof s !== 'object') return migrate();
  if (localStorage.getItem(OLD_KEY) !== null) localStorage.removeItem(OLD_KEY);
  let api = '';
  try {
    api = normalizeBase(typeof s.api === 'string' ? s.api : '');
  } catch {
    // edited by hand into something we would not send a token to: back to this origin
  }
  const tokens = {};
  if (s.tokens && typeof s.tokens === 'object') for (const [o, t] of Object.entries(s.tokens)) if (typeof t === 'string' && t) tokens[o] = t;
  return { api, tokens };
}

const write = (s) => localStorage.setItem(KEY, JSON.stringify(s));

/** The single entry of older dashboards: its token was saved with its API base, so it belongs to that base's origin. */
function migrate() {
  const s = { api: '', tokens: {} };
  const old = localStorage.getItem(OLD_KEY);
  if (old !== null) {
    try {
      const o = JSON.parse(old);
      const api = normalizeBase(typeof o?.api === 'string' ? o.api : '');
      s.api = api;
      const token = typeof o?.token === 'string' ? o.token.trim() : '';
      if (token) s.tokens[originOf(api)] = token;
    } catch {
      // no origin we could trust it to: the token goes, and the base falls back to this origin
    }
    localStorage.removeItem(OLD_KEY);
  }
  write(s);
  return s;
}

const tokenOf = (s, origin) => (Object.hasOwn(s.tokens, origin) ? s.tokens[origin] : '');

/** The token saved for an origin ('' if none). */
export const tokenFor = (origin) => tokenOf(read(), origin);

/** The current API base and the token saved for its origin. */
export function loadConnection() {
  const s = read();
  return { api: s.api, token: tokenOf(s, originOf(s.api)) };
}

/** Make `api` the base and keep `token` for its origin (none: forget that origin's token). Throws on a bad base. */
export function saveConnection({ api, token }) {
  const s = read();
  s.api = normalizeBase(api);
  setToken(s, originOf(s.api), token);
  write(s);
}

function setToken(s, origin, token) {
  const t = String(token ?? '').trim();
  if (t) s.tokens[origin] = t;
  else delete s.tokens[origin];
}

/**
 * Read ?api= and ?token= once, then take them out of the address bar (and history) so the token is not left there.
 * What only concerns this page's own origin applies at once: it already holds everything kept in this storage.
 * Anything that would change where requests go, or keep a token for another origin, comes back for the user to
 * confirm: { kind: 'confirm', api, origin, token, switches }, applied by acceptLink(). A base that is no http(s)
 * URL comes back as { kind: 'rejected', message }. Nothing to do: null.
 */
export function takeLink() {
  const q = new URLSearchParams(location.search);
  if (!q.has('api') && !q.has('token')) return null;
  const rest = new URLSearchParams(q);
  rest.delete('api');
  rest.delete('token');
  const others = rest.toString();
  history.replaceState(history.state, '', location.pathname + (others ? `?${others}` : '') + location.hash);

  const current = read().api;
  let api = current;
  if (q.has('api')) {
    try {
      api = normalizeBase(q.get('api'));
    } catch (e) {
      return { kind: 'rejected', message: `The link's API URL was ignored: ${e.message}.` };
    }
  }
  const origin = originOf(api);
  const token = (q.get('token') ?? '').trim();
  const switches = api !== current;
  if (!switches && (!token || origin === location.origin)) {
    if (token) {
      const s = read();
      setToken(s, origin, token);
      write(s);
    }
    return null;
  }
  return { kind: 'confirm', api, origin, token, switches };
}

/** The user said yes to a link: its base becomes current, and its token (if any) is kept for that base's origin. */
export function acceptLink(link) {
  const s = read();
  s.api = link.api;
  if (link.token) setToken(s, originOf(link.api), link.token);
  write(s);
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code;
  }
}

const base = () => read().api || location.origin;

export const url = (p) => base() + p;

export async function request(method, path, body, headers = {}) {
  const target = url(path);
  // The token of the origin the request really goes to, whatever the base and path made of it.
  const token = tokenFor(new URL(target, location.href).origin);
  let res;
  try {
    res = await fetch(target, { method, body, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });
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
