// Hash routes, so the folder works from any static host with no server-side rewrites.
import { loadConnection, saveConnection } from './api.js';
import { clearStatus, fill, showError } from './dom.js';
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

async function render() {
  leave.abort();
  leave = new AbortController();
  const signal = leave.signal;
  clearStatus();
  const [path, query = ''] = location.hash.slice(1).split('?');
  const q = new URLSearchParams(query);
  const main = document.getElementById('app');
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

const dialog = document.getElementById('settings-dialog');
const form = document.getElementById('settings-form');
document.getElementById('settings').addEventListener('click', () => {
  const c = loadConnection();
  form.api.value = c.api;
  form.token.value = c.token;
  dialog.showModal();
});
dialog.addEventListener('close', () => {
  if (dialog.returnValue !== 'save') return;
  saveConnection({ api: form.api.value, token: form.token.value });
  render();
});
document.getElementById('theme').addEventListener('click', () => {
  const next = document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark';
  document.documentElement.dataset.theme = next;
  localStorage.setItem('tutti.theme', next);
});

addEventListener('hashchange', render);
loadConnection();
render();
