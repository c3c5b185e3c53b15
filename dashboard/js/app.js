// Hash routes, so the folder works from any static host with no server-side rewrites.
import { acceptLink, loadConnection, normalizeBase, originOf, saveConnection, takeLink, tokenFor } from './api.js';
import { clearStatus, fill, h, showError } from './dom.js';
import { overviewPage } from './pages/overview.js';
import { flowsPage } from './pages/flows.js';
import { flowPage } from './pages/flow.js';
import { runsPage } from './pages/runs.js';
import { runPage } from './pages/run.js';
import { componentsPage } from './pages/components.js';

const routes = [
  [/^\/?$/, 'overview', (_, q, s) => overviewPage(s)],
  [/^\/flows$/, 'flows', (_, q) => flowsPage(q)],
  [/^\/flows\/([^/]+)$/, 'flows', (m) => flowPage(decodeURIComponent(m[1]))],
  [/^\/runs$/, 'runs', (_, q) => runsPage(q)],
  [/^\/runs\/([^/]+)$/, 'runs', (m, q, s) => runPage(decodeURIComponent(m[1]), q, s)],
  [/^\/components$/, 'components', () => componentsPage()],
];

let leave = new AbortController();
// A link's connection waiting for the user's answer: no page loads meanwhile, so nothing is requested from either side.
let pendingLink = null;

async function render() {
  leave.abort();
  leave = new AbortController();
  const signal = leave.signal;
  clearStatus();
  const main = document.getElementById('app');
  if (pendingLink) {
    main.removeAttribute('aria-busy');
    fill(main, h('p', { class: 'muted' }, 'Answer the question above to go on.'));
    return;
  }
  const [path, query = ''] = location.hash.slice(1).split('?');
  const q = new URLSearchParams(query);
  for (const [re, nav, page] of routes) {
    const m = re.exec(path || '/');
    if (!m) continue;
    document.querySelectorAll('[data-nav]').forEach((a) => a.classList.toggle('active', a.dataset.nav === nav));
    main.replaceChildren();
    main.dataset.page = nav;
    main.setAttribute('aria-busy', 'true');
    try {
      const el = await page(m, q, signal);
      if (signal.aborted) return;
      fill(main, el);
    } catch (e) {
      if (!signal.aborted) showError(e);
    } finally {
      if (!signal.aborted) main.removeAttribute('aria-busy');
    }
    return;
  }
  main.textContent = 'No such page.';
}

/** The in-page question about a link's connection (or why it was refused); one at a time, above the page. */
function banner(link) {
  document.getElementById('connect-banner')?.remove();
  if (!link) return;
  const close = (accept) => () => {
    if (accept) acceptLink(link);
    pendingLink = null;
    el.remove();
    render();
  };
  const origin = h('strong', { class: 'mono', id: 'connect-origin' }, link.origin);
  const current = originOf(loadConnection().api);
  const el = link.kind === 'rejected'
    ? h('div', { id: 'connect-banner', class: 'banner bad', role: 'alert', 'data-kind': 'rejected' },
        h('p', {}, link.message),
        h('menu', {}, h('button', { id: 'connect-dismiss', class: 'ghost', onclick: () => el.remove() }, 'Dismiss')))
    : h('div', { id: 'connect-banner', class: 'banner', role: 'alertdialog', 'aria-labelledby': 'connect-question', 'data-kind': 'confirm' },
        h('p', { id: 'connect-question' }, link.switches
          ? ['A link asks this dashboard to use the API server at ', origin, link.api && link.api !== link.origin ? ` (${link.api})` : '', '.']
          : ['A link asks this dashboard to use its token for ', origin, '.']),
        h('p', { class: 'hint' },
          `Its requests would carry ${link.token ? 'the token from the link' : tokenFor(link.origin) ? 'the token saved for that origin' : 'no token'}`,
          current !== link.origin ? `; a token saved for ${current} is never sent there` : '',
          '. Go on only if you trust that server.'),
        h('menu', {}, h('button', { id: 'connect-cancel', class: 'ghost', onclick: close(false) }, 'Cancel'), h('button', { id: 'connect-confirm', onclick: close(true) }, link.switches ? 'Connect' : 'Use the token')));
  if (link.kind === 'confirm') pendingLink = link;
  document.getElementById('status').before(el);
}

const dialog = document.getElementById('settings-dialog');
const form = document.getElementById('settings-form');
// The token field follows the API field: it shows the token saved for that origin, so a token typed or shown for
// one server is not saved for another by changing only the URL. Once the user types a token, it is theirs to keep.
let tokenTyped = false;
const showTokenOfForm = () => {
  form.api.setCustomValidity('');
  if (tokenTyped) return;
  try {
    form.token.value = tokenFor(originOf(normalizeBase(form.api.value)));
  } catch {
    form.token.value = '';
  }
};
form.api.addEventListener('input', showTokenOfForm);
form.token.addEventListener('input', () => (tokenTyped = true));
document.getElementById('settings').addEventListener('click', () => {
  const c = loadConnection();
  form.api.value = c.api;
  form.token.value = c.token;
  tokenTyped = false;
  form.api.setCustomValidity('');
  dialog.showModal();
});
form.addEventListener('submit', (e) => {
  if (e.submitter?.value !== 'save') return;
  try {
    normalizeBase(form.api.value);
  } catch (err) {
    e.preventDefault();
    form.api.setCustomValidity(err.message);
    form.api.reportValidity();
  }
});
dialog.addEventListener('close', () => {
  if (dialog.returnValue !== 'save') return;
  try {
    saveConnection({ api: form.api.value, token: form.token.value });
  } catch (e) {
    return showError(e);
  }
  render();
});
document.getElementById('theme').addEventListener('click', () => {
  const next = document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark';
  document.documentElement.dataset.theme = next;
  localStorage.setItem('tutti.theme', next);
});

addEventListener('hashchange', render);
banner(takeLink());
render();
