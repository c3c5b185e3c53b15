/**
 * The dashboard in a real browser (Debian's chromium via playwright-core) against a real `tutti serve`:
 * once served by the API at /ui, once from a second static server on another origin (CORS). Any browser
 * console error fails the test. With TUTTI_SCREENSHOTS=1 it rewrites the README's screenshots in docs/screenshots/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { packageRoot } from '../src/paths.js';
import { embedManifest } from '../src/runtime/manifest.js';
import { module, tempDir } from './helpers.js';
import { startServer, type Server } from './server.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'dashboard-test-token';
// The README's pictures are refreshed on request (TUTTI_SCREENSHOTS=1), so a test run leaves the tree clean.
const SHOTS = process.env.TUTTI_SCREENSHOTS ? path.join(packageRoot, 'docs', 'screenshots') : tempDir('tutti-shots-');
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };

/** Any static host will do: this one only maps files of dashboard/ to URLs. */
async function staticServer(dir: string): Promise<{ url: string; server: HttpServer }> {
  const server = createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url!, 'http://x').pathname).replace(/^\/+/, '') || 'index.html';
    const file = path.resolve(dir, rel);
    if (!file.startsWith(dir + path.sep) || !existsSync(file)) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/**
 * Another origin that records every request, the headers that would carry a token included, and answers like an
 * API that allows any origin and the Authorization header (as a server that wants tokens would).
 */
async function recordingServer(): Promise<{ url: string; server: HttpServer; requests: { method: string; path: string; authorization?: string; preflight?: string }[] }> {
  const requests: { method: string; path: string; authorization?: string; preflight?: string }[] = [];
  const server = createServer((req, res) => {
    requests.push({ method: req.method!, path: new URL(req.url!, 'http://x').pathname, authorization: req.headers.authorization, preflight: req.headers['access-control-request-headers'] });
    const cors = { 'access-control-allow-origin': req.headers.origin ?? '*', 'access-control-allow-headers': 'authorization, content-type, last-event-id', vary: 'origin' };
    if (req.method === 'OPTIONS') return void res.writeHead(204, cors).end();
    res.writeHead(200, { ...cors, 'content-type': 'application/json' }).end('{"items":[]}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, requests };
}

/** Deterministic lines, enough bytes for several 1 KiB partitions. */
const text = Array.from({ length: 600 }, (_, i) => `line ${i} of the dashboard test ${'word '.repeat(i % 7)}`).join('\n') + '\n';

describe('dashboard', { skip: !existsSync(CHROMIUM) && 'chromium is not installed (scripts/setup-toolchains.sh chromium)' }, () => {
  let api: Server;
  let other: { url: string; server: HttpServer };
  let browser: Browser;
  const errors: string[] = [];
  const dir = tempDir('tutti-dash-');

  const open = async (url: string, viewport = { width: 1280, height: 1000 }, theme = 'light', init?: string): Promise<Page> => {
    const context = await browser.newContext({ viewport, colorScheme: theme === 'dark' ? 'dark' : 'light' });
    if (init) await context.addInitScript(init);
    const page = await context.newPage();
    page.on('console', (m) => m.type() === 'error' && errors.push(`${page.url()}: ${m.text()}`));
    page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));
    await page.goto(url);
    return page;
  };
  const settled = (page: Page) => page.waitForFunction("!document.getElementById('app').hasAttribute('aria-busy')");
  const shot = async (page: Page, name: string) => {
    await settled(page);
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
  };
  const upload = async (name: string, bytes: Uint8Array) => {
    const res = await api.fetch(`/api/v1/components?name=${name}&version=1.0.0`, { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: bytes });
    assert.ok(res.status === 201 || res.status === 200, `upload ${name}: ${res.status}`);
  };

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    other = await staticServer(path.join(packageRoot, 'dashboard'));
    api = await startServer({ token: TOKEN, args: ['--cors-origin', other.url] });
    // Split by lines, 1 KiB each: the count task fans out to as many instances as the text needs.
    await upload('wcsplit', embedManifest(readFileSync(module('wordcount')), { split: 'lines', per: '1KiB', max: 64 }));
    await upload('sum', readFileSync(module('sum')));
    await upload('fail', readFileSync(module('fail')));
    // Playwright gives each launch a fresh temporary profile (user-data-dir).
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  after(async () => {
    await browser?.close();
    await api?.stop();
    await new Promise((r) => other?.server.close(r));
    rmSync(dir, { recursive: true, force: true });
    if (!process.env.TUTTI_SCREENSHOTS) rmSync(SHOTS, { recursive: true, force: true });
  });

  let runId = '';

  it('creates a flow, triggers a run with an upload and watches it turn green live', async () => {
    const page = await open(`${api.url}/ui/?token=${TOKEN}#/flows`);
    await settled(page);
    await page.fill('textarea[name=yaml]', 'id: words\ndescription: Count words in parallel, then add up\ninputs:\n  text: { type: asset, description: a text file }\ntasks:\n  - id: count\n    component: wcsplit@1.0.0\n    inputs: [text]\n  - id: total\n    component: sum@1.0.0\n    needs: [count]\n');
    await page.click('#save-flow');
    await page.waitForFunction("location.hash === '#/flows/words'");
    await settled(page);
    await page.locator('[data-node="count"]').waitFor();
    assert.match(await page.locator('[data-policy="count"]').innerText(), /manifest: split lines per 1KiB, max 64/);
    await shot(page, 'flow');

    const file = path.join(dir, 'text.txt');
    writeFileSync(file, text);
    await page.setInputFiles('[data-input="text"]', file);
    await page.click('#trigger');
    await page.waitForFunction("/^#\\/runs\\/[^?]+$/.test(location.hash)");
    runId = decodeURIComponent(new URL(page.url()).hash.slice('#/runs/'.length));
    await page.locator('#run-state .badge').waitFor();
    // No reload from here on: the colours change because the page follows the run's events.
    await page.locator('#run-state [data-state="succeeded"]').waitFor({ timeout: 60_000 });
    await page.locator('[data-node="total"][data-state="succeeded"]').waitFor();
    await page.locator('[data-node="count"][data-state="succeeded"]').waitFor();

    const detail = (await api.json('GET', `/api/v1/runs/${runId}`)).body;
    const count = detail.tasks.find((t: any) => t.taskId === 'count');
    assert.ok(count.instanceCount > 1, `count fanned out: ${count.instanceCount}`);

    await page.click('[data-task="count"] a');
    await page.locator('#task-panel[data-task="count"]').waitFor();
    assert.equal(await page.locator('[data-instance-count]').getAttribute('data-instance-count'), String(count.instanceCount));
    assert.equal(await page.locator('[data-gantt] .bar').count(), count.instanceCount);
    assert.match(await page.locator('#task-panel [data-policy]').innerText(), /manifest/);
    assert.equal(await page.locator('#task-panel [data-instance-row] [data-state="succeeded"]').count(), Math.min(50, count.instanceCount));
    await shot(page, 'run');
    await page.context().close();
  });

  it('opens a failed instance\'s log and retries the failed part', async () => {
    const saved = await api.fetch('/api/v1/flows', { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: 'id: flaky\ntasks:\n  - id: flaky\n    component: fail@1.0.0\n    env: { SUCCEED_ON_ATTEMPT: "2" }\n  - id: after\n    component: sum@1.0.0\n    needs: [flaky]\n' });
    assert.equal(saved.status, 201);
    const page = await open(`${api.url}/ui/?token=${TOKEN}#/flows/flaky`);
    await settled(page);
    await page.click('#trigger');
    await page.locator('#run-state [data-state="failed"]').waitFor({ timeout: 60_000 });
    await page.locator('[data-node="flaky"][data-state="failed"]').waitFor();
    await page.click('[data-task="flaky"] a');
    await page.locator('#task-panel [data-instance-row="0"][data-state="failed"]').waitFor();
    await page.click('[data-log="0"]');
    await page.locator('#log-text', { hasText: 'giving up' }).waitFor();
    await shot(page, 'failed-log');
    await page.click('#retry');
    await page.locator('#run-state [data-state="succeeded"]').waitFor({ timeout: 60_000 });
    await page.locator('[data-node="after"][data-state="succeeded"]').waitFor();
    await page.context().close();
  });

  it('works from another origin with the API URL and token as settings (CORS)', async () => {
    const page = await open(`${other.url}/index.html?api=${encodeURIComponent(api.url)}&token=${TOKEN}#/runs`);
    // A link may name another server, but the page connects only once the user says so.
    assert.equal(await page.locator('#connect-origin').innerText(), new URL(api.url).origin);
    await page.click('#connect-confirm');
    await settled(page);
    assert.ok((await page.locator('[data-run]').count()) >= 2);
    await page.selectOption('select[name=state]', 'succeeded');
    await page.selectOption('select[name=flow]', 'words');
    await page.click('#run-filters button');
    await page.waitForFunction("location.hash.includes('flow=words')");
    await settled(page);
    assert.equal(await page.locator('[data-run]').count(), 1);
    await page.click(`[data-run="${runId}"] a`);
    await page.locator('[data-node="count"][data-state="succeeded"]').waitFor();
    // Downloads go through fetch with the token, then a blob.
    const [dl] = await Promise.all([page.waitForEvent('download'), page.locator('#assets button').first().click()]);
    assert.ok(dl.suggestedFilename());
    await page.context().close();
  });

  it('never sends a saved token to another origin a link names, and switches only when the user confirms', async () => {
    const spy = await recordingServer();
    try {
      const components = `${api.url}/ui/#/components`;
      const linkTo = (extra = '') => `${api.url}/ui/?api=${encodeURIComponent(spy.url)}${extra}#/components`;
      const ownData = async (page: Page) => {
        await settled(page);
        assert.ok((await page.locator('[data-component]').count()) >= 3, 'the components of the dashboard\'s own server');
      };
      const stolen = () => spy.requests.filter((r) => r.authorization?.includes(TOKEN));

      // The token is saved for the server's own origin (a same-origin link needs no confirmation).
      const page = await open(`${api.url}/ui/?token=${TOKEN}#/components`);
      await ownData(page);

      // A link to another server: nothing goes there, with or without the token, until the user confirms.
      await page.goto(linkTo());
      await settled(page);
      await page.waitForTimeout(300);
      assert.deepEqual(stolen(), [], 'the saved token went to the origin a link named');
      assert.deepEqual([...spy.requests], [], 'the page called the origin a link named before the user confirmed');
      assert.equal(await page.locator('#connect-origin').innerText(), new URL(spy.url).origin);
      assert.equal(new URL(page.url()).search, '', 'the link\'s parameters leave the address bar');

      // Not confirmed: after a reload the page still reads its own server, with its token.
      await page.reload();
      await ownData(page);
      assert.equal(await page.locator('#connect-banner').count(), 0);
      await page.click('#settings');
      assert.equal(await page.inputValue('#settings-form input[name=api]'), '', 'the saved API base is still this origin');
      await page.click('#settings-form button[value=cancel]');
      assert.deepEqual([...spy.requests], []);

      // Cancel drops the link, and its token with it.
      await page.goto(linkTo('&token=link-token'));
      await page.click('#connect-cancel');
      await ownData(page);
      assert.deepEqual([...spy.requests], []);

      // Confirmed: the page talks to the new origin, without the token saved for the old one (none is saved for it).
      await page.goto(linkTo());
      await page.click('#connect-confirm');
      await page.locator('main p.muted', { hasText: 'No components yet.' }).waitFor();
      assert.ok(spy.requests.some((r) => r.path === '/api/v1/components'), 'the page reads the confirmed server');
      assert.deepEqual(spy.requests.filter((r) => r.authorization !== undefined || r.preflight), [], 'no token went to the new origin');

      // Back to its own server by the settings: the token saved for that origin is still there, and used.
      await page.click('#settings');
      assert.equal(await page.inputValue('#settings-form input[name=api]'), spy.url);
      assert.equal(await page.inputValue('#settings-form input[name=token]'), '');
      await page.fill('#settings-form input[name=api]', '');
      assert.equal(await page.inputValue('#settings-form input[name=token]'), TOKEN, 'the token saved for this origin');
      await page.click('#settings-save');
      await ownData(page);

      // A token in a link belongs to the server the link names, once confirmed; the saved one never leaves.
      const before = spy.requests.length;
      await page.goto(linkTo('&token=link-token'));
      assert.equal(spy.requests.length, before);
      await page.click('#connect-confirm');
      await page.locator('main p.muted', { hasText: 'No components yet.' }).waitFor();
      assert.ok(spy.requests.slice(before).some((r) => r.authorization === 'Bearer link-token'));
      assert.deepEqual(stolen(), []);
      await page.context().close();
    } finally {
      await new Promise((r) => spy.server.close(r));
    }
  });

  it('refuses hostile link parameters and shows hash parameters as text', async () => {
    const page = await open(`${api.url}/ui/?token=${TOKEN}#/components`);
    await settled(page);
    for (const bad of ['javascript:alert(document.domain)', 'data:text/html,<script>alert(1)</script>', 'file:///etc/passwd', 'http://user:pw@127.0.0.1:9/']) {
      await page.goto(`${api.url}/ui/?api=${encodeURIComponent(bad)}&token=x#/components`);
      await settled(page);
      const banner = page.locator('#connect-banner[data-kind=rejected]');
      assert.match(await banner.innerText(), /ignored/, bad);
      assert.equal(await page.locator('#connect-confirm').count(), 0, bad);
      assert.ok((await page.locator('[data-component]').count()) >= 3, `still on its own server after ${bad}`);
    }
    await page.click('#connect-dismiss');
    assert.equal(await page.locator('#connect-banner').count(), 0);
    // Markup in hash parameters stays text.
    const payload = '<img src=x onerror="window.__xss=1">';
    await page.goto(`${api.url}/ui/#/runs?backfill=${encodeURIComponent(payload)}`);
    await settled(page);
    assert.match(await page.locator('main').innerText(), /<img src=x/);
    assert.equal(await page.locator('main img').count(), 0);
    assert.equal(await page.evaluate('window.__xss'), undefined);
    await page.context().close();
  });

  it('moves the old single saved connection to its own origin', async () => {
    // As an older dashboard left it; set before the page's scripts run, on the first load only.
    const old = (value: unknown) => `if (!sessionStorage.getItem('seeded')) { sessionStorage.setItem('seeded', '1'); localStorage.setItem('tutti.connection', ${JSON.stringify(JSON.stringify(value))}); }`;
    const page = await open(`${api.url}/ui/#/components`, undefined, undefined, old({ api: `${api.url}/`, token: TOKEN }));
    await settled(page);
    assert.ok((await page.locator('[data-component]').count()) >= 3);
    assert.equal(await page.evaluate("localStorage.getItem('tutti.connection')"), null);
    await page.click('#settings');
    assert.equal(await page.inputValue('#settings-form input[name=token]'), TOKEN);
    await page.context().close();

    // An entry whose API base is no http(s) URL: its token has no origin to belong to, so it is dropped.
    const context = await browser.newContext();
    await context.addInitScript(old({ api: 'javascript:alert(1)', token: TOKEN }));
    const bad = await context.newPage();
    await bad.goto(`${api.url}/ui/#/components`);
    await settled(bad);
    assert.equal(await bad.evaluate("localStorage.getItem('tutti.connection')"), null);
    await bad.click('#settings');
    assert.equal(await bad.inputValue('#settings-form input[name=api]'), '');
    assert.equal(await bad.inputValue('#settings-form input[name=token]'), '');
    await context.close();
  });

  it('renders every page in light and dark, on a laptop and a phone, with no console error', async () => {
    for (const [name, hash] of [['overview', '#/'], ['flows', '#/flows'], ['components', '#/components'], ['runs', '#/runs']] as const) {
      const page = await open(`${api.url}/ui/?token=${TOKEN}${hash}`);
      await settled(page);
      await shot(page, name);
      await page.context().close();
    }
    const dark = await open(`${api.url}/ui/?token=${TOKEN}#/runs/${runId}?task=count`, { width: 1280, height: 1000 }, 'dark');
    await dark.locator('[data-gantt]').waitFor();
    await shot(dark, 'run-dark');
    await dark.context().close();
    const phone = await open(`${api.url}/ui/?token=${TOKEN}#/runs/${runId}`, { width: 390, height: 844 });
    await settled(phone);
    // Nothing wider than the screen but the scrollable tables and graph.
    assert.ok(await phone.evaluate('document.documentElement.scrollWidth <= innerWidth + 1'), 'the page fits a phone width');
    await shot(phone, 'run-phone');
    await phone.context().close();
    assert.deepEqual(errors, []);
  });
});
