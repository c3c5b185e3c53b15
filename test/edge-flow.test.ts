/**
 * A fan-out flow end to end on workerd, as `tutti deploy cloudflare` deploys it: Miniflare runs the
 * dry-run upload with D1 (migrated from drizzle/), R2 and the INSTANCES queue (producer and
 * consumer). The run is triggered and read back through the HTTP API; its instances are dispatched
 * through the queue, one consumer invocation each; a cron invocation (`scheduled()`) fires a
 * scheduled flow; the state moves to a libSQL server when one is configured. The same flow and
 * components then run on a `tutti serve` and must agree.
 */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { copyFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createClient } from '@libsql/client';
import { Miniflare, type MiniflareOptions } from 'miniflare';
import { packageRoot } from '../src/paths.js';
import { embedManifest } from '../src/runtime/manifest.js';
import { openDatabase } from '../src/store/db.js';
import { countWords, module, runTutti, tempDir, workerModules } from './helpers.js';
import { eventually, startServer } from './server.js';
import { startSqld } from './sqld.js';

/** Lines of words: the `lines` manifest cuts between lines, so N instances count what one would. */
function text(lines: number): string {
  return Array.from({ length: lines }, () => Array.from({ length: 1 + randomInt(12) }, () => `w${randomInt(1e6).toString(36)}`).join(' ')).join('\n') + '\n';
}

type Body = Uint8Array | string;
type Call = <T>(method: string, pathname: string, body?: Body, headers?: Record<string, string>) => Promise<{ status: number; body: T }>;

/** A multipart upload of one asset input, as bytes: Miniflare and Node each have their own FormData. */
async function upload(name: string, bytes: string): Promise<{ body: Uint8Array; headers: Record<string, string> }> {
  const form = new FormData();
  form.append(name, new Blob([bytes]), `${name}.txt`);
  const req = new Request('http://x/', { method: 'POST', body: form });
  return { body: new Uint8Array(await req.arrayBuffer()), headers: { 'content-type': req.headers.get('content-type')! } };
}

/** JSON answers parsed, anything else (an asset's bytes) as text. */
async function answer<T>(res: { status: number; headers: { get(n: string): string | null }; text(): Promise<string> }): Promise<{ status: number; body: T }> {
  const text = await res.text();
  return { status: res.status, body: (res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text) as T };
}

interface RunDetail {
  id: string;
  state: string;
  trigger: string;
  error: string | null;
  tasks: { taskId: string; state: string; instanceCount: number | null; policy: string | null }[];
}
interface AssetJson {
  id: string;
  taskId: string | null;
  name: string;
}

const FAN_FLOW = (wc: string, sum: string) => `id: fan-count
inputs:
  text: { type: asset }
tasks:
  - id: count
    component: ${wc}
    inputs: [text]
  - id: total
    component: ${sum}
    needs: [count]
`;

describe('a fan-out flow on Workers (Miniflare: D1, R2, Queues, cron) and on the Node server', () => {
  const dir = tempDir('tutti-edge-flow-');
  const input = text(400);
  const expected = `${countWords(input)}\n`;
  let mf: Miniflare;
  /** What wrangler would upload, as Miniflare options (the database binding aside). */
  let worker: MiniflareOptions;
  // 128 bytes per instance: well over 100 instances, so dispatching them takes `fan` messages (100 per invocation).
  const wcLines = path.join(dir, 'wc-lines.wasm');

  before(async () => {
    writeFileSync(wcLines, embedManifest(readFileSync(module('wordcount')), { split: 'lines', per: '128B', max: 1000 }));
    writeFileSync(path.join(dir, 'fan.yaml'), FAN_FLOW('./wc-lines.wasm', module('sum')));
    // Flow-to-flow: counts the words of the fan-out's total (one word).
    writeFileSync(
      path.join(dir, 'after.yaml'),
      `id: after\ninputs:\n  text: { type: asset }\ntriggers:\n  - { type: flow, flow: fan-count, on: succeeded, inputs: { text: total/sum } }\ntasks:\n  - { id: count, component: ${module('wordcount')}, inputs: [text] }\n`,
    );
    writeFileSync(path.join(dir, 'tick.yaml'), `id: tick\ntriggers:\n  - { type: schedule, cron: "* * * * *" }\ntasks:\n  - { id: count, component: ${module('wordcount')} }\n`);
    const config = path.join(dir, 'wrangler.toml');
    copyFileSync(path.join(packageRoot, 'wrangler.toml'), config);
    const out = path.join(dir, 'edge');
    const build = await runTutti(['deploy', 'cloudflare', '--dry-run', '--config', config, '--out', out, '--home', path.join(dir, 'home'), path.join(dir, 'fan.yaml'), path.join(dir, 'after.yaml'), path.join(dir, 'tick.yaml')]);
    assert.equal(build.code, 0, build.out);
    const dist = path.join(out, 'dist');
    worker = {
      modulesRoot: dist,
      modules: workerModules(dist),
      compatibilityDate: '2026-04-01',
      compatibilityFlags: ['nodejs_compat'],
      r2Buckets: ['ASSETS'],
      queueProducers: { INSTANCES: 'tutti-instances' },
      // As wrangler.toml: one message per invocation.
      queueConsumers: { 'tutti-instances': { maxBatchSize: 1, maxBatchTimeout: 1, maxRetries: 3 } },
    };
    mf = new Miniflare({ ...worker, d1Databases: ['DB'] });
    await mf.ready;
    // What `wrangler d1 migrations apply` does: every migration of drizzle/, in order.
    const d1 = await mf.getD1Database('DB');
    const migrations = readdirSync(path.join(packageRoot, 'drizzle')).filter((f) => f.endsWith('.sql')).sort();
    for (const m of migrations) {
      const statements = readFileSync(path.join(packageRoot, 'drizzle', m), 'utf8').split('--> statement-breakpoint').map((s) => s.trim()).filter(Boolean);
      await d1.batch(statements.map((s) => d1.prepare(s)));
    }
  });

  after(async () => {
    try {
      await mf?.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const api: Call = async (method, pathname, body, headers = {}) => answer(await mf.dispatchFetch(`http://tutti.test/api/v1${pathname}`, { method, body, headers }));

  /** Trigger through the API with the input uploaded, wait for the end, return the total's output. */
  async function trigger(call: Call): Promise<string> {
    const form = await upload('text', input);
    const created = await call<{ id: string }>('POST', '/flows/fan-count/runs', form.body, form.headers);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body.id;
  }

  async function runFanFlow(call: Call, runId?: string): Promise<{ run: RunDetail; total: string }> {
    const id = runId ?? (await trigger(call));
    const run = await eventually(async () => {
      const r = await call<RunDetail>('GET', `/runs/${id}`);
      return ['succeeded', 'failed', 'cancelled'].includes(r.body.state) ? r.body : undefined;
    }, 60_000, 'the fan-out run to end');
    assert.equal(run.state, 'succeeded', JSON.stringify(run));
    const assets = await call<{ items: AssetJson[] }>('GET', `/runs/${run.id}/assets`);
    const sum = assets.body.items.find((a) => a.taskId === 'total' && a.name === 'sum');
    assert.ok(sum, JSON.stringify(assets.body));
    const res = await call<string>('GET', `/assets/${sum.id}/content`);
    return { run, total: String(res.body) };
  }

  it('runs the fan-out flow through the API: queue consumers, D1 state, R2 assets', async (t) => {
    const started = Date.now();
    const { run, total } = await runFanFlow(api);
    assert.equal(total, expected);
    const count = run.tasks.find((x) => x.taskId === 'count')!;
    assert.ok(count.instanceCount! > 100, `the count fanned out: ${JSON.stringify(count)}`);
    assert.match(count.policy!, /manifest/);
    // Every instance ran in a consumer invocation of its own: its attempt is recorded under a queue message.
    const d1 = await mf.getD1Database('DB');
    const workers = await d1.prepare("SELECT DISTINCT a.worker FROM attempts a JOIN instances i ON i.id = a.instance_id WHERE i.run_id = ?").bind(run.id).all<{ worker: string }>();
    assert.equal(workers.results.length, count.instanceCount! + 1);
    for (const w of workers.results) assert.match(w.worker, /^q:/);
    t.diagnostic(`${count.instanceCount} instances + the sum on workerd in ${Date.now() - started} ms`);
    // Its success fired the downstream flow, with the total as its input.
    const after = await eventually(async () => {
      const r = (await api<{ items: RunDetail[] }>('GET', '/runs?flow=after')).body.items[0];
      return r && ['succeeded', 'failed'].includes(r.state) ? r : undefined;
    }, 30_000, 'the flow-triggered run to end');
    assert.equal(after.state, 'succeeded', JSON.stringify(after));
    assert.equal(after.trigger, 'flow');
    const outs = await api<{ items: (AssetJson & { url: string })[] }>('GET', `/runs/${after.id}/assets`);
    const out = outs.body.items.find((a) => a.taskId === 'count')!;
    assert.equal((await api<string>('GET', `/assets/${out.id}/content`)).body, '1\n');
  });

  it('cancels a run and retries it on Workers; its events stream ends with it', async () => {
    const id = await trigger(api);
    const cancelled = await api<RunDetail>('POST', `/runs/${id}/cancel`);
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
    assert.equal(cancelled.body.state, 'cancelled');
    const retried = await api<RunDetail>('POST', `/runs/${id}/retry`);
    assert.equal(retried.status, 200, JSON.stringify(retried.body));
    const { total } = await runFanFlow(api, id);
    assert.equal(total, expected);
    const events = await (await mf.dispatchFetch(`http://tutti.test/api/v1/runs/${id}/events`)).text();
    const types = [...events.matchAll(/^event: (.+)$/gm)].map((m) => m[1]);
    assert.deepEqual([types[0], types.at(-1)], ['run-created', 'run-succeeded']);
    assert.ok(types.includes('run-cancelled') && types.includes('run-retried'), types.join(' '));
  });

  it('refuses a component upload at run time, saying to redeploy', async () => {
    const res = await api<{ error: { code: string; message: string } }>('POST', '/components', readFileSync(module('wordcount')), { 'content-type': 'application/wasm' });
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, 'redeploy-required');
    assert.match(res.body.error.message, /tutti deploy cloudflare/);
  });

  it('fires a scheduled flow from a cron invocation (scheduled())', async () => {
    const d1 = await mf.getD1Database('DB');
    const row = await d1.prepare("SELECT next_fire_at AS t FROM schedules WHERE flow_id = 'tick'").first<{ t: number }>();
    assert.ok(row, 'the deployed flow\'s schedule is registered');
    // Miniflare's Fetcher type lacks scheduled(), which its worker has (wrangler dev --test-scheduled does the same over HTTP).
    const worker = (await mf.getWorker()) as unknown as { scheduled(o: { cron: string; scheduledTime: Date }): Promise<unknown> };
    assert.deepEqual(await worker.scheduled({ cron: '* * * * *', scheduledTime: new Date(row.t) }), { outcome: 'ok', noRetry: false });
    const run = await eventually(async () => {
      const list = await api<{ items: RunDetail[] }>('GET', '/runs?flow=tick');
      const r = list.body.items[0];
      return r && ['succeeded', 'failed'].includes(r.state) ? r : undefined;
    }, 30_000, 'the scheduled run to end');
    assert.equal(run.state, 'succeeded', JSON.stringify(run));
    assert.equal(run.trigger, 'schedule');
    // The tick moved on: firing again at the same time creates nothing.
    await worker.scheduled({ cron: '* * * * *', scheduledTime: new Date(row.t) });
    assert.equal((await api<{ items: RunDetail[] }>('GET', '/runs?flow=tick')).body.items.length, 1);
  });

  it('backfills a scheduled flow on Workers, its runs paced by the backfill\'s concurrency', async () => {
    const to = Math.floor(Date.now() / 60_000) * 60_000 - 3_600_000;
    const body = JSON.stringify({ from: new Date(to - 4 * 60_000).toISOString(), to: new Date(to).toISOString(), concurrency: 2 });
    const created = await api<{ id: string; runs: number }>('POST', '/flows/tick/backfills', body, { 'content-type': 'application/json' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.runs, 4);
    const progress = await eventually(async () => {
      const b = (await api<{ progress: Record<string, number> }>('GET', `/backfills/${created.body.id}`)).body.progress;
      return b.succeeded === 4 ? b : undefined;
    }, 30_000, 'the backfill\'s runs to succeed');
    assert.deepEqual(progress, { succeeded: 4 });
  });

  it('keeps the state in a libSQL server instead of D1 when TUTTI_DB_URL is set', async () => {
    const sqld = await startSqld();
    // As `tutti serve --db URL` does on start: the migrations of drizzle/.
    (await openDatabase(sqld.url)).close();
    const remote = new Miniflare({ ...worker, bindings: { TUTTI_DB_URL: sqld.url } });
    const db = createClient({ url: sqld.url });
    try {
      const res = await remote.dispatchFetch('http://tutti.test/api/v1/flows/tick/runs', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
      const { id } = (await res.json()) as { id: string };
      assert.equal(res.status, 201);
      const state = await eventually(async () => {
        const row = (await db.execute({ sql: 'SELECT state FROM runs WHERE id = ?', args: [id] })).rows[0];
        return row && ['succeeded', 'failed'].includes(String(row.state)) ? String(row.state) : undefined;
      }, 30_000, 'the run on libSQL to end');
      assert.equal(state, 'succeeded');
    } finally {
      db.close();
      await remote.dispose();
      await sqld.stop();
    }
  });

  it('runs the same flow and components on the Node server', async () => {
    const server = await startServer();
    try {
      for (const [name, file] of [['wc-lines', wcLines], ['sum', module('sum')]]) {
        const up = await server.fetch(`/api/v1/components?name=${name}&version=1.0.0`, { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: readFileSync(file!) });
        assert.equal(up.status, 201);
      }
      const saved = await server.fetch('/api/v1/flows', { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: FAN_FLOW('wc-lines@1.0.0', 'sum@1.0.0') });
      assert.equal(saved.status, 201, await saved.text());
      const call: Call = async (method, pathname, body, headers = {}) => answer(await server.fetch(`/api/v1${pathname}`, { method, body, headers }));
      const { run, total } = await runFanFlow(call);
      assert.equal(total, expected);
      assert.ok(run.tasks.find((x) => x.taskId === 'count')!.instanceCount! > 100);
    } finally {
      await server.stop();
    }
  });
});
