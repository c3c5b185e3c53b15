/** The HTTP API against a real `tutti serve` on 127.0.0.1 with a file database: only HTTP is used. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { countWords, module } from './helpers.js';
import { eventually, followRun, startServer, type Server } from './server.js';

const wasm = (name: string) => new Uint8Array(readFileSync(module(name)));

async function upload(s: Server, name: string, version: string, file = name) {
  const res = await s.fetch(`/api/v1/components?name=${name}&version=${version}`, { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: wasm(file) });
  return { status: res.status, body: (await res.json()) as any };
}

async function saveFlow(s: Server, yaml: string) {
  const res = await s.fetch('/api/v1/flows', { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: yaml });
  return { status: res.status, body: (await res.json()) as any };
}

async function waitRun(s: Server, id: string, states = ['succeeded', 'failed', 'cancelled', 'skipped']) {
  return eventually(async () => {
    const { body } = await s.json('GET', `/api/v1/runs/${id}`);
    return states.includes(body.state) ? body : undefined;
  }, 60_000, `run ${id} to reach ${states.join('/')}`);
}

async function download(s: Server, runId: string, taskId: string): Promise<string> {
  const { body } = await s.json('GET', `/api/v1/runs/${runId}/assets`);
  const asset = body.items.find((a: any) => a.taskId === taskId);
  assert.ok(asset, `no output of ${taskId}`);
  return (await s.fetch(asset.url)).text();
}

describe('HTTP API', () => {
  let s: Server;
  before(async () => {
    s = await startServer();
    assert.equal((await upload(s, 'wordcount', '1.0.0')).status, 201);
    assert.equal((await upload(s, 'sum', '1.0.0')).status, 201);
    for (const name of ['sleep', 'fail', 'adv-env']) assert.equal((await upload(s, name, '1.0.0')).status, 201);
  });
  after(async () => {
    assert.equal(await s.stop(), 0);
  });

  it('runs the whole lifecycle: components, flow, trigger with an upload, SSE to the end, download', async () => {
    // Same bytes, same label: 200. Other bytes under a taken version: 409 naming the digest.
    assert.equal((await upload(s, 'wordcount', '1.0.0')).status, 200);
    const clash = await upload(s, 'wordcount', '1.0.0', 'sum');
    assert.equal(clash.status, 409);
    assert.match(clash.body.error.message, /already taken by other bytes/);
    const comp = await s.json('GET', '/api/v1/components/wordcount@1.0.0');
    assert.equal(comp.body.contract, 'command');
    assert.deepEqual(comp.body.versions, ['wordcount@1.0.0']);
    assert.equal((await s.json('GET', `/api/v1/components/${comp.body.digest}`)).body.digest, comp.body.digest);
    const bytes = await s.fetch(`/api/v1/components/${comp.body.digest}/wasm`);
    assert.deepEqual(new Uint8Array(await bytes.arrayBuffer()), wasm('wordcount'));

    const yaml = 'id: wc\ninputs:\n  text: { type: asset }\ntasks:\n  - id: count\n    component: wordcount@1.0.0\n    inputs: [text]\n  - id: total\n    component: sum@1.0.0\n    needs: [count]\n';
    const saved = await saveFlow(s, yaml);
    assert.deepEqual(saved, { status: 201, body: { id: 'wc', revision: 1, created: true } });
    assert.deepEqual((await saveFlow(s, yaml)).body, { id: 'wc', revision: 1, created: false });
    assert.equal((await saveFlow(s, `${yaml}description: counts\n`)).body.revision, 2);

    const text = 'one two three\nfour five\n'.repeat(1000);
    const form = new FormData();
    form.set('text', new Blob([text]), 'text.txt');
    const res = await s.fetch('/api/v1/flows/wc/runs', { method: 'POST', body: form });
    assert.equal(res.status, 201);
    const run = (await res.json()) as any;
    assert.equal(run.revision, 2);
    const events = await followRun(s, run.id);
    assert.equal(events[0], 'run-created');
    assert.equal(events.at(-1), 'run-succeeded');
    assert.ok(events.includes('task-planned') && events.includes('instances-succeeded'));

    // The stream of all runs, replayed from the start, holds this run's events too.
    const abort = new AbortController();
    const all = await s.fetch('/api/v1/events?after=0', { signal: abort.signal });
    let seen = '';
    const reader = all.body!.getReader();
    while (!seen.includes(`"runId":"${run.id}","taskId":null,"type":"run-succeeded"`)) seen += new TextDecoder().decode((await reader.read()).value);
    abort.abort();

    const detail = (await s.json('GET', `/api/v1/runs/${run.id}`)).body;
    assert.equal(detail.state, 'succeeded');
    assert.deepEqual(detail.tasks.map((t: any) => [t.taskId, t.state, t.instanceCount, t.instances.succeeded]), [['count', 'succeeded', 1, 1], ['total', 'succeeded', 1, 1]]);
    assert.deepEqual(detail.tasks[1].needs, ['count']);
    assert.equal(Number(await download(s, run.id, 'total')), countWords(text));

    const flow = (await s.json('GET', '/api/v1/flows/wc')).body;
    assert.deepEqual(flow.revisions.map((r: any) => r.revision), [2, 1]);
    assert.equal((await s.json('GET', '/api/v1/flows/wc/revisions/1')).body.source, yaml);
    const inst = (await s.json('GET', `/api/v1/runs/${run.id}/tasks/count/instances`)).body;
    assert.equal(inst.items.length, 1);
    assert.equal(inst.nextAfter, null);
    const one = (await s.json('GET', `/api/v1/runs/${run.id}/tasks/count/instances/0`)).body;
    assert.deepEqual(one.attempts.map((a: any) => a.outcome), ['succeeded']);

    // A second run reuses the stored input by asset id, without uploading it again.
    const input = (await s.json('GET', `/api/v1/runs/${run.id}/assets`)).body.items.find((a: any) => a.taskId === null);
    const again = await s.json('POST', '/api/v1/flows/wc/runs', { assets: { text: input.id } });
    assert.equal(again.status, 201);
    await waitRun(s, again.body.id);
    assert.equal(Number(await download(s, again.body.id, 'total')), countWords(text));

    const list = (await s.json('GET', '/api/v1/runs?flow=wc&limit=1')).body;
    assert.equal(list.items.length, 1);
    assert.equal(list.items[0].id, again.body.id);
    const next = (await s.json('GET', `/api/v1/runs?flow=wc&limit=1&cursor=${list.nextCursor}`)).body;
    assert.equal(next.items[0].id, run.id);
    assert.equal(next.nextCursor, null);
    // An output small enough to be kept in its row works as an input by id too: the new run gets its bytes.
    const counted = (await s.json('GET', `/api/v1/runs/${run.id}/assets`)).body.items.find((a: any) => a.taskId === 'count');
    const fromOutput = await s.json('POST', '/api/v1/flows/wc/runs', { assets: { text: counted.id } });
    assert.equal(fromOutput.status, 201);
    await waitRun(s, fromOutput.body.id);
    assert.equal(Number(await download(s, fromOutput.body.id, 'total')), 1, 'the count is one word');

    const spec = (await s.json('GET', '/api/v1/openapi.json')).body;
    assert.equal(spec.openapi, '3.1.0');
    for (const p of ['/components', '/flows', '/flows/{id}/runs', '/runs/{id}/cancel', '/runs/{id}/retry', '/runs/{id}/events', '/assets/{id}/content']) assert.ok(spec.paths[p], `openapi lacks ${p}`);
    assert.match(await (await s.fetch('/api/v1/docs')).text(), /swagger-ui-bundle\.js/);
    const metrics = await (await s.fetch('/metrics')).text();
    assert.match(metrics, /tutti_runs\{flow="wc",state="succeeded"\} 3/);
    assert.match(metrics, /tutti_queue_depth 0/);
    // total needs count and nothing else: in each of the three runs it ran ahead, behind count, and was taken.
    assert.ok(Number(/tutti_chain_links_ahead_total\{outcome="taken"\} (\d+)/.exec(metrics)?.[1]) >= 3, metrics);
    // All three runs ended in this process: their durations are read at the scrape, once.
    assert.match(metrics, /tutti_run_duration_seconds_count\{flow="wc",state="succeeded"\} 3/);
    assert.match(await (await s.fetch('/metrics')).text(), /tutti_run_duration_seconds_count\{flow="wc",state="succeeded"\} 3/);

    // Deleting the flow keeps its runs and revisions.
    assert.equal((await s.fetch('/api/v1/flows/wc', { method: 'DELETE' })).status, 204);
    assert.equal((await s.json('GET', '/api/v1/flows/wc')).status, 404);
    assert.equal((await s.json('GET', `/api/v1/runs/${run.id}`)).body.state, 'succeeded');
    assert.equal((await s.json('GET', '/api/v1/flows/wc/revisions/2')).status, 200);
  });

  it('cancels a running run (its instance is stopped) and retries only the failed part of a run', async () => {
    await saveFlow(s, 'id: slow\ntasks:\n  - id: nap\n    component: sleep@1.0.0\n    env: { SLEEP_MS: "60000" }\n');
    const run = (await s.json('POST', '/api/v1/flows/slow/runs', {})).body;
    await eventually(async () => ((await s.json('GET', `/api/v1/runs/${run.id}`)).body.tasks[0].instances.running ? true : undefined), 20_000, 'instance running');
    const cancelled = await s.json('POST', `/api/v1/runs/${run.id}/cancel`);
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.body.state, 'cancelled');
    assert.deepEqual(cancelled.body.tasks[0].instances, { cancelled: 1 });
    assert.equal((await s.json('POST', `/api/v1/runs/${run.id}/cancel`)).status, 409);
    // Runs of the same server go on; the cancelled attempt is recorded as such.
    await saveFlow(s, 'id: quick\ntasks:\n  - id: nap\n    component: sleep@1.0.0\n    env: { SLEEP_MS: "1" }\n');
    for (let i = 0; i < 3; i++) await waitRun(s, (await s.json('POST', '/api/v1/flows/quick/runs', {})).body.id, ['succeeded']);
    const attempt = (await s.json('GET', `/api/v1/runs/${run.id}/tasks/nap/instances/0`)).body.attempts;
    assert.deepEqual(attempt.map((a: any) => a.outcome), ['cancelled']);

    // first succeeds; flaky fails on attempt 1 and works from attempt 2; last never ran.
    await saveFlow(
      s,
      'id: flaky\ntasks:\n  - id: first\n    component: wordcount@1.0.0\n  - id: flaky\n    component: fail@1.0.0\n    needs: [first]\n    env: { SUCCEED_ON_ATTEMPT: "2" }\n  - id: last\n    component: wordcount@1.0.0\n    needs: [flaky]\n',
    );
    const failed = await waitRun(s, (await s.json('POST', '/api/v1/flows/flaky/runs', {})).body.id);
    assert.equal(failed.state, 'failed');
    assert.deepEqual(failed.tasks.map((t: any) => t.state), ['succeeded', 'failed', 'skipped']);
    const log = await (await s.fetch(`/api/v1/runs/${failed.id}/tasks/flaky/instances/0/log`)).text();
    assert.match(log, /fail: giving up with code 3/);
    const retried = await s.json('POST', `/api/v1/runs/${failed.id}/retry`);
    assert.equal(retried.status, 200);
    const done = await waitRun(s, failed.id, ['succeeded', 'failed']);
    assert.equal(done.state, 'succeeded');
    assert.deepEqual(done.tasks.map((t: any) => t.state), ['succeeded', 'succeeded', 'succeeded']);
    const attempts = async (task: string) => (await s.json('GET', `/api/v1/runs/${failed.id}/tasks/${task}/instances/0`)).body.attempts.map((a: any) => a.outcome);
    assert.deepEqual(await attempts('first'), ['succeeded'], 'a finished task is not re-run');
    assert.deepEqual(await attempts('flaky'), ['failed', 'succeeded']);
    assert.equal((await s.json('POST', `/api/v1/runs/${failed.id}/retry`)).status, 409);
  });

  it('backfills a schedule: one run per tick, each knowing its logical time, at most `concurrency` at once', async () => {
    await saveFlow(s, 'id: hourly\ntriggers:\n  - { type: schedule, cron: "0 * * * *", timezone: UTC }\ntasks:\n  - id: env\n    component: adv-env@1.0.0\n');
    const b = await s.json('POST', '/api/v1/flows/hourly/backfills', { from: '2026-01-01T00:00:00Z', to: '2026-01-01T03:00:00Z', concurrency: 2 });
    assert.equal(b.status, 201);
    assert.equal(b.body.runs, 3);
    const runs = await eventually(async () => {
      const { body } = await s.json('GET', `/api/v1/runs?backfill=${b.body.id}`);
      return body.items.length === 3 && body.items.every((r: any) => r.state === 'succeeded') ? body.items : undefined;
    }, 60_000, 'backfill runs');
    const times = runs.map((r: any) => new Date(r.logicalTime).toISOString()).sort();
    assert.deepEqual(times, ['2026-01-01T00:00:00.000Z', '2026-01-01T01:00:00.000Z', '2026-01-01T02:00:00.000Z']);
    for (const r of runs) assert.match(await download(s, r.id, 'env'), new RegExp(`TUTTI_LOGICAL_TIME=${new Date(r.logicalTime).toISOString().replace(/\./g, '\\.')}`));
    // Never more than 2 running at once: their [start, end) intervals overlap at most pairwise.
    const spans = runs.map((r: any) => [r.startedAt, r.finishedAt]);
    for (const [a] of spans) assert.ok(spans.filter(([x, y]: number[]) => x! <= a && a < y!).length <= 2);
    assert.deepEqual((await s.json('GET', `/api/v1/backfills/${b.body.id}`)).body.progress, { succeeded: 3 });
    const bad = await s.json('POST', '/api/v1/flows/hourly/backfills', { from: '2026-01-02T00:00:00Z', to: '2026-01-01T00:00:00Z' });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /"from" must be before "to"/);
  });

  it('applies flow run limits: skip records the extra run as skipped, queue runs it after', async () => {
    await saveFlow(s, 'id: one-at-a-time\nconcurrency: { max: 1, policy: skip }\ntasks:\n  - id: nap\n    component: sleep@1.0.0\n    env: { SLEEP_MS: "1500" }\n');
    const a = (await s.json('POST', '/api/v1/flows/one-at-a-time/runs', {})).body;
    const b = (await s.json('POST', '/api/v1/flows/one-at-a-time/runs', {})).body;
    assert.equal(b.state, 'skipped');
    assert.match(b.error, /concurrency max 1, policy skip/);
    assert.equal((await waitRun(s, a.id)).state, 'succeeded');

    await saveFlow(s, 'id: newest-wins\nconcurrency: { max: 1, policy: cancel-oldest }\ntasks:\n  - id: nap\n    component: sleep@1.0.0\n    env: { SLEEP_MS: "60000" }\n');
    const old = (await s.json('POST', '/api/v1/flows/newest-wins/runs', {})).body;
    await waitRun(s, old.id, ['running']);
    const young = (await s.json('POST', '/api/v1/flows/newest-wins/runs', {})).body;
    const oldDone = await waitRun(s, old.id);
    assert.equal(oldDone.state, 'cancelled');
    assert.match(oldDone.error, new RegExp(`to make room for run ${young.id}`));
    await waitRun(s, young.id, ['running']);
    assert.equal((await s.json('POST', `/api/v1/runs/${young.id}/cancel`)).status, 200);

    await saveFlow(s, 'id: in-line\nconcurrency: { max: 1 }\ntasks:\n  - id: nap\n    component: sleep@1.0.0\n    env: { SLEEP_MS: "500" }\n');
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await s.json('POST', '/api/v1/flows/in-line/runs', {})).body.id);
    const done = [];
    for (const id of ids) done.push(await waitRun(s, id));
    assert.deepEqual(done.map((r) => r.state), ['succeeded', 'succeeded', 'succeeded']);
    for (let i = 1; i < 3; i++) assert.ok(done[i].startedAt >= done[i - 1].finishedAt, 'runs of a max-1 flow do not overlap, and start in order');
  });

  it('fires a flow from a webhook, and a downstream flow from its output', async () => {
    await saveFlow(s, 'id: hook\ninputs:\n  body: { type: asset }\n  who: { type: string, default: nobody }\ntriggers:\n  - { type: webhook, input: body }\ntasks:\n  - id: count\n    component: wordcount@1.0.0\n    inputs: [body]\n');
    // A run that ended before the flow triggers below existed fires none of them.
    const early = await s.fetch('/api/v1/flows/hook/webhook', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    await waitRun(s, ((await early.json()) as any).id);
    await new Promise((r) => setTimeout(r, 100));
    await saveFlow(s, 'id: after-hook\ninputs:\n  n: { type: asset }\ntriggers:\n  - { type: flow, flow: hook, inputs: { n: count/stdout } }\ntasks:\n  - id: copy\n    component: sleep@1.0.0\n    inputs: [n]\n    env: { SLEEP_MS: "1" }\n');
    const payload = JSON.stringify({ who: 'ci', extra: [1, 2, 3] }, null, 1);
    await saveFlow(s, 'id: on-asset\ninputs:\n  n: { type: asset }\ntriggers:\n  - { type: asset, flow: hook, asset: count/stdout, inputs: { n: count/stdout } }\ntasks:\n  - id: copy\n    component: sleep@1.0.0\n    inputs: [n]\n    env: { SLEEP_MS: "1" }\n');
    const res = await s.fetch('/api/v1/flows/hook/webhook', { method: 'POST', headers: { 'content-type': 'application/json' }, body: payload });
    assert.equal(res.status, 201);
    const up = (await res.json()) as any;
    assert.equal(up.trigger, 'webhook');
    assert.deepEqual(up.params, { who: 'ci' });
    await waitRun(s, up.id);
    const words = await download(s, up.id, 'count');
    assert.equal(Number(words), countWords(payload), 'the raw body is the asset input');
    const down = await eventually(async () => (await s.json('GET', '/api/v1/runs?flow=after-hook')).body.items[0], 20_000, 'downstream run');
    assert.equal(down.trigger, 'flow');
    assert.equal((await s.json('GET', '/api/v1/runs?flow=after-hook')).body.items.length, 1);
    await waitRun(s, down.id);
    assert.equal(await download(s, down.id, 'copy'), words);
    const onAsset = await eventually(async () => (await s.json('GET', '/api/v1/runs?flow=on-asset')).body.items[0], 20_000, 'asset-triggered run');
    await waitRun(s, onAsset.id);
    assert.equal(await download(s, onAsset.id, 'copy'), words, 'the materialized asset is the input');
    assert.equal((await s.json('POST', '/api/v1/flows/wc-none/webhook', {})).status, 404);
    assert.equal((await s.fetch('/api/v1/flows/after-hook/webhook', { method: 'POST' })).status, 404);
  });
});
