/**
 * Remote workers, leases and shutdown, through real `tutti serve` and `tutti worker` processes on
 * 127.0.0.1: a killed worker's attempt runs again elsewhere, a late result is refused, SIGTERM
 * hands unfinished work back, and a second writer on one database file is refused.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { packageRoot } from '../src/paths.js';
import { module, tempDir } from './helpers.js';
import { eventually, startServer, startWorker, type Server, type WorkerProcess } from './server.js';
import { freePort } from './sqld.js';

const bin = path.join(packageRoot, 'bin/tutti.mjs');
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

async function setup(s: Server, sleepMs: number): Promise<void> {
  const up = await s.fetch('/api/v1/components?name=sleep&version=1.0.0', { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: readFileSync(module('sleep')) });
  assert.equal(up.status, 201);
  const yaml = `id: nap\ninputs:\n  text: { type: asset }\ntasks:\n  - id: nap\n    component: sleep@1.0.0\n    inputs: [text]\n    env: { SLEEP_MS: "${sleepMs}" }\n`;
  const saved = await s.fetch('/api/v1/flows', { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: yaml });
  assert.equal(saved.status, 201);
}

async function trigger(s: Server, text: string): Promise<string> {
  const form = new FormData();
  form.set('text', new Blob([text]), 'text.txt');
  const res = await s.fetch('/api/v1/flows/nap/runs', { method: 'POST', body: form });
  assert.equal(res.status, 201);
  return ((await res.json()) as { id: string }).id;
}

const instance = async (s: Server, runId: string) => (await s.json('GET', `/api/v1/runs/${runId}/tasks/nap/instances/0`)).body;

async function finished(s: Server, runId: string, ms = 60_000) {
  return eventually(async () => {
    const { body } = await s.json('GET', `/api/v1/runs/${runId}`);
    return ['succeeded', 'failed', 'cancelled'].includes(body.state) ? body : undefined;
  }, ms, `run ${runId} to finish`);
}

async function output(s: Server, runId: string): Promise<string[]> {
  const { body } = await s.json('GET', `/api/v1/runs/${runId}/assets`);
  const outs = body.items.filter((a: { taskId: string | null }) => a.taskId === 'nap');
  return Promise.all(outs.map(async (a: { url: string }) => (await s.fetch(a.url)).text()));
}

describe('remote workers', () => {
  const servers: Server[] = [];
  const workers: WorkerProcess[] = [];
  after(async () => {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    for (const s of servers) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
  });

  it('refuses a --server that is not an http(s) URL, saying so', () => {
    for (const server of ['app1:8080', 'ftp://app1']) {
      const r = spawnSync(process.execPath, [bin, 'worker', '--server', server], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /--server ".*" is not an http\(s\) URL, e\.g\. http:\/\/10\.0\.0\.5:8080/);
    }
  });

  it('an attempt on a worker killed with -9 runs again on another worker once its lease expires', async () => {
    const s = await startServer({ args: ['--workers', '0', '--lease', '2s'] });
    servers.push(s);
    await setup(s, 2500);
    const w1 = await startWorker(s, { args: ['--concurrency', '1'] });
    workers.push(w1);
    const text = 'every byte comes back\n'.repeat(5000);
    const runId = await trigger(s, text);
    const running = await eventually(async () => {
      const i = await instance(s, runId);
      return i?.state === 'running' ? i : undefined;
    }, 30_000, 'the instance to run on the first worker');
    assert.equal(running.attempt, 1);
    w1.child.kill('SIGKILL');
    const w2 = await startWorker(s, { args: ['--concurrency', '1'] });
    workers.push(w2);
    const run = await finished(s, runId);
    assert.equal(run.state, 'succeeded', run.error ?? '');
    assert.deepEqual(await output(s, runId), [text], 'one output, with every byte');
    const attempts = (await instance(s, runId)).attempts;
    assert.deepEqual(attempts.map((a: { outcome: string }) => a.outcome), ['lost', 'succeeded']);
    assert.match(attempts[0].error, /lease expired/);
    assert.match(attempts[0].worker, /^r-/);
    assert.match(attempts[1].worker, /^r-/);
    assert.notEqual(attempts[0].worker, attempts[1].worker);
    // Stopped with SIGTERM while idle, a worker exits 0 at once (its long poll is cut short).
    const t0 = Date.now();
    assert.equal(await w2.stop(), 0);
    assert.ok(Date.now() - t0 < 10_000, 'an idle worker stops without waiting out its long poll');
    assert.equal(await s.stop(), 0);
  });

  it('a server killed and restarted while a remote worker runs an attempt takes its result afterwards, without a re-run', async () => {
    const home = tempDir();
    const args = ['--workers', '0', '--port', String(await freePort())];
    let s = await startServer({ home, args });
    servers.push(s);
    await setup(s, 2500);
    const w = await startWorker(s, { args: ['--concurrency', '1'] });
    workers.push(w);
    const runId = await trigger(s, 'outlives its server\n');
    await eventually(async () => ((await instance(s, runId))?.state === 'running' ? true : undefined), 30_000, 'the instance to run');
    s.child.kill('SIGKILL');
    await new Promise((r) => s.child.once('exit', r));
    s = await startServer({ home, args });
    servers.push(s);
    const run = await finished(s, runId);
    assert.equal(run.state, 'succeeded', run.error ?? '');
    assert.deepEqual(await output(s, runId), ['outlives its server\n']);
    const attempts = (await instance(s, runId)).attempts;
    assert.deepEqual(attempts.map((a: { outcome: string }) => a.outcome), ['succeeded'], 'the worker\'s lease outlived the server: one attempt');
    assert.equal(await w.stop(), 0);
    assert.equal(await s.stop(), 0);
  });

  it('refuses a late result from an attempt whose lease went to another worker, and commits the new one once', async () => {
    const s = await startServer({ args: ['--workers', '0', '--lease', '1s'] });
    servers.push(s);
    await setup(s, 0);
    const runId = await trigger(s, 'late\n');
    const lease = async (worker: string) => (await s.json('POST', '/api/v1/workers/lease', { worker, max: 4, waitMs: 10_000 })).body;
    const first = await lease('r-slow');
    assert.equal(first.leaseMs, 1000);
    assert.equal(first.jobs.length, 1);
    const job = first.jobs[0];
    assert.equal(job.attempt, 1);
    assert.deepEqual(job.inputs.map((i: { name: string; size: number }) => [i.name, i.size]), [['text', 5]]);
    assert.ok(job.env.some(([k, v]: [string, string]) => k === 'SLEEP_MS' && v === '0'));
    // No heartbeat: the lease expires and the attempt goes to the next worker that asks.
    const second = await lease('r-fast');
    assert.equal(second.jobs.length, 1, 'the expired attempt is offered again');
    assert.equal(second.jobs[0].instanceId, job.instanceId);
    assert.equal(second.jobs[0].attempt, 2);

    // Each worker with the secret of its own lease: being the holder once is not holding it now.
    const slow = job.leaseSecret;
    const fast = second.jobs[0].leaseSecret;
    assert.notEqual(slow, fast);
    const put = (worker: string, attempt: number, secret: string, bytes: string, sha?: string) =>
      s.fetch(`/api/v1/workers/attempts/${job.instanceId}/${attempt}/outputs/stdout?worker=${worker}`, {
        method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream', 'x-tutti-lease-secret': secret, ...(sha ? { 'x-tutti-sha256': sha } : {}) },
      });
    const stale = await put('r-slow', 1, slow, 'stale\n');
    assert.equal(stale.status, 409);
    assert.equal(((await stale.json()) as any).error.code, 'lease_lost');
    const beat = await s.json('POST', '/api/v1/workers/heartbeat', { worker: 'r-slow', leases: [{ instanceId: job.instanceId, attempt: 1, leaseSecret: slow }] });
    assert.deepEqual(beat.body.lost, [{ instanceId: job.instanceId, attempt: 1 }]);
    const late = await s.json('POST', `/api/v1/workers/attempts/${job.instanceId}/complete`, { worker: 'r-slow', attempt: 1, leaseSecret: slow, log: '', ms: 5, outputs: [] });
    assert.equal(late.status, 409);

    const sha = sha256('late\n');
    assert.equal((await put('r-fast', 2, fast, 'garbled', sha)).status, 400, 'bytes that do not match their digest are refused');
    const good = await put('r-fast', 2, fast, 'late\n', sha);
    assert.equal(good.status, 200);
    assert.deepEqual(await good.json(), { size: 5, sha256: sha });
    const complete = (outputs: unknown[]) => s.json('POST', `/api/v1/workers/attempts/${job.instanceId}/complete`, { worker: 'r-fast', attempt: 2, leaseSecret: fast, log: 'ok', ms: 5, outputs });
    const missing = await complete([{ name: 'other', size: 1, sha256: sha }]);
    assert.equal(missing.status, 400);
    assert.match(missing.body.error.message, /"other" was not uploaded/);
    const done = await complete([{ name: 'stdout', size: 5, sha256: sha }]);
    assert.equal(done.status, 204);
    const again = await complete([{ name: 'stdout', size: 5, sha256: sha }]);
    assert.equal(again.status, 409, 'a result counts once');

    const run = await finished(s, runId);
    assert.equal(run.state, 'succeeded', run.error ?? '');
    assert.deepEqual(await output(s, runId), ['late\n']);
    const attempts = (await instance(s, runId)).attempts;
    assert.deepEqual(attempts.map((a: { worker: string; outcome: string }) => [a.worker, a.outcome]), [['r-slow', 'lost'], ['r-fast', 'succeeded']]);
    assert.equal(await s.stop(), 0);
  });

  it('acts on an attempt only with its lease secret: another worker, or one using its name, is refused the same way and changes nothing', async () => {
    const s = await startServer({ args: ['--workers', '0', '--lease', '30s'] });
    servers.push(s);
    await setup(s, 0);
    const runId = await trigger(s, 'mine\n');
    const { body } = await s.json('POST', '/api/v1/workers/lease', { worker: 'r-owner', max: 1, waitMs: 10_000 });
    assert.equal(body.jobs.length, 1);
    const job = body.jobs[0];
    const id: string = job.instanceId;
    assert.match(job.leaseSecret, /^[A-Za-z0-9_-]{43}$/, '256 random bits, base64url');
    const put = (worker: string, secret: string | undefined, bytes: string) =>
      s.fetch(`/api/v1/workers/attempts/${id}/1/outputs/stdout?worker=${worker}`, {
        method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream', ...(secret === undefined ? {} : { 'x-tutti-lease-secret': secret }) },
      });
    // The holder uploads first: no one else may replace its bytes, or report for it.
    assert.equal((await put('r-owner', job.leaseSecret, 'mine\n')).status, 200);

    const guessed = randomBytes(32).toString('base64url');
    const forgers: [string, string | undefined][] = [['r-thief', undefined], ['r-thief', guessed], ['r-owner', undefined], ['r-owner', guessed]];
    for (const [worker, leaseSecret] of forgers) {
      const who = `${worker} with ${leaseSecret ? 'a wrong' : 'no'} secret`;
      const beat = await s.json('POST', '/api/v1/workers/heartbeat', { worker, leases: [{ instanceId: id, attempt: 1, leaseSecret, progress: 0.5 }] });
      assert.equal(beat.status, 200, who);
      assert.deepEqual(beat.body.lost, [{ instanceId: id, attempt: 1 }], `${who}: its heartbeat renews nothing`);
      const upload = await put(worker, leaseSecret, 'forged\n');
      assert.equal(upload.status, 409, `${who}: upload`);
      assert.equal(((await upload.json()) as any).error.code, 'lease_lost');
      const report = { worker, attempt: 1, leaseSecret, log: 'forged', ms: 1 };
      const complete = await s.json('POST', `/api/v1/workers/attempts/${id}/complete`, { ...report, outputs: [{ name: 'stdout', size: 5, sha256: '0'.repeat(64) }] });
      assert.equal(complete.status, 409, `${who}: complete`);
      assert.equal(complete.body.error.code, 'lease_lost');
      const fail = await s.json('POST', `/api/v1/workers/attempts/${id}/fail`, { ...report, failure: { kind: 'task-error', message: 'forged', retryable: false } });
      assert.equal(fail.status, 409, `${who}: fail`);
      const release = await s.json('POST', '/api/v1/workers/release', { worker, leases: [{ instanceId: id, attempt: 1, leaseSecret }] });
      assert.deepEqual(release.body, { released: 0 }, `${who}: release`);
      // The same answer as for an attempt that does not exist: it tells nothing about this one.
      const nowhere = id.replace(/\.0$/, '.7');
      const none = await s.json('POST', `/api/v1/workers/attempts/${nowhere}/complete`, { ...report, outputs: [{ name: 'stdout', size: 5, sha256: '0'.repeat(64) }] });
      assert.equal(none.status, 409);
      assert.equal(none.body.error.message.replace(nowhere, id), complete.body.error.message);
    }

    const untouched = await instance(s, runId);
    assert.deepEqual([untouched.state, untouched.attempt, untouched.progress, untouched.attempts], ['running', 1, 0, []]);
    const beat = await s.json('POST', '/api/v1/workers/heartbeat', { worker: 'r-owner', leases: [{ instanceId: id, attempt: 1, leaseSecret: job.leaseSecret, progress: 0.5 }] });
    assert.deepEqual(beat.body.lost, [], 'the holder still holds it');
    assert.equal((await instance(s, runId)).progress, 0.5);
    const done = await s.json('POST', `/api/v1/workers/attempts/${id}/complete`, {
      worker: 'r-owner', attempt: 1, leaseSecret: job.leaseSecret, log: 'ok', ms: 1, outputs: [{ name: 'stdout', size: 5, sha256: sha256('mine\n') }],
    });
    assert.equal(done.status, 204);
    const run = await finished(s, runId);
    assert.equal(run.state, 'succeeded', run.error ?? '');
    assert.deepEqual(await output(s, runId), ['mine\n']);
    const attempts = (await instance(s, runId)).attempts;
    assert.deepEqual(attempts.map((a: { worker: string; outcome: string }) => [a.worker, a.outcome]), [['r-owner', 'succeeded']]);
    assert.equal(await s.stop(), 0);
  });

  it('records the digest the server computed for an uploaded output, and refuses a completion reporting another digest or size, also after a restart', async () => {
    const home = tempDir();
    let s = await startServer({ home, args: ['--workers', '0', '--lease', '30s'] });
    servers.push(s);
    await setup(s, 0);
    const runId = await trigger(s, 'payload\n');
    const job = (await s.json('POST', '/api/v1/workers/lease', { worker: 'r-w', max: 1, waitMs: 10_000 })).body.jobs[0];
    const put = (name: string, bytes: string) =>
      s.fetch(`/api/v1/workers/attempts/${job.instanceId}/1/outputs/${name}?worker=r-w`, {
        method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream', 'x-tutti-lease-secret': job.leaseSecret },
      });
    const complete = (outputs: unknown[]) =>
      s.json('POST', `/api/v1/workers/attempts/${job.instanceId}/complete`, { worker: 'r-w', attempt: 1, leaseSecret: job.leaseSecret, log: '', ms: 1, outputs });
    const sha = sha256('payload\n');
    // Sent without a digest: the server's own is the only one there is.
    const up = await put('stdout', 'payload\n');
    assert.equal(up.status, 200);
    assert.deepEqual(await up.json(), { size: 8, sha256: sha });
    const refused = async (outputs: unknown[], stored: string, what: string) => {
      const r = await complete(outputs);
      assert.equal(r.status, 400, what);
      assert.equal(r.body.error.code, 'invalid_report');
      assert.match(r.body.error.message, new RegExp(`stored as ${stored}`), what);
    };
    const zeros = '0'.repeat(64);
    await refused([{ name: 'stdout', size: 8, sha256: zeros }], `8 bytes with sha256 ${sha}`, 'a digest of zeros');
    await refused([{ name: 'stdout', size: 999999, sha256: sha }], `8 bytes with sha256 ${sha}`, 'another size');
    // Another output, then a restart: what the server computed is gone with it, so it hashes the files it stored.
    assert.equal((await put('extra', 'more\n')).status, 200);
    s.child.kill('SIGKILL');
    await new Promise((r) => s.child.once('exit', r));
    s = await startServer({ home, args: ['--workers', '0', '--lease', '30s'] });
    servers.push(s);
    await refused([{ name: 'stdout', size: 8, sha256: zeros }], `8 bytes with sha256 ${sha}`, 'a digest of zeros, after a restart');
    await refused([{ name: 'stdout', size: 8, sha256: sha }, { name: 'extra', size: 5, sha256: zeros }], `5 bytes with sha256 ${sha256('more\n')}`, 'the second output wrong');
    const nothing = await instance(s, runId);
    assert.deepEqual([nothing.state, nothing.attempts], ['running', []], 'nothing committed');
    assert.deepEqual(await output(s, runId), []);

    const done = await complete([{ name: 'stdout', size: 8, sha256: sha }, { name: 'extra', size: 5, sha256: sha256('more\n') }]);
    assert.equal(done.status, 204, JSON.stringify(done.body));
    const run = await finished(s, runId);
    assert.equal(run.state, 'succeeded', run.error ?? '');
    const assets = (await s.json('GET', `/api/v1/runs/${runId}/assets`)).body.items.filter((a: { taskId: string | null }) => a.taskId === 'nap');
    const recorded = await Promise.all(assets.map(async (a: { name: string; size: number; sha256: string; url: string }) => {
      const bytes = await (await s.fetch(a.url)).text();
      return [a.name, a.size, a.sha256, sha256(bytes)];
    }));
    assert.deepEqual(recorded.sort(), [['extra', 5, sha256('more\n'), sha256('more\n')], ['stdout', 8, sha, sha]]);
    assert.equal(await s.stop(), 0);
  });

  it('a worker stopped with SIGTERM hands its running attempt back at once, and another worker runs it', async () => {
    // A lease far longer than the test: only the hand-back can let the second worker in.
    const s = await startServer({ args: ['--workers', '0', '--lease', '10m'] });
    servers.push(s);
    await setup(s, 3000);
    const w1 = await startWorker(s, { args: ['--concurrency', '1', '--grace', '0s'] });
    workers.push(w1);
    const runId = await trigger(s, 'handed back\n');
    await eventually(async () => ((await instance(s, runId))?.state === 'running' ? true : undefined), 30_000, 'the instance to run');
    assert.equal(await w1.stop(), 0);
    assert.match(w1.stderr(), /stopped \(0 succeeded, 0 failed, 0 lost\)/);
    const w2 = await startWorker(s, { args: ['--concurrency', '1'] });
    workers.push(w2);
    const run = await finished(s, runId, 30_000);
    assert.equal(run.state, 'succeeded', run.error ?? '');
    const attempts = (await instance(s, runId)).attempts;
    assert.deepEqual(attempts.map((a: { outcome: string }) => a.outcome), ['lost', 'succeeded']);
    assert.match(attempts[0].error, /worker shut down/);
    assert.equal(await w2.stop(), 0);
    assert.equal(await s.stop(), 0);
  });
});

describe('a lease answer, as a worker reads it', () => {
  it('clamps durations to what a timer holds, and hands back a job it cannot read instead of dropping the answer', async () => {
    // Imported here, not above: this file must load on a version without it, to show what fails there.
    const { parseLease } = await import('../src/runtime/remote/worker.js');
    const job = {
      instanceId: 'tr_1.0', attempt: 1, leaseSecret: 's1', runId: 'r_1', taskId: 't', idx: 0, component: 'f'.repeat(64), timeoutMs: 1e300,
      partition: { index: 0, count: 1, slices: [] }, inputs: [], params: [], env: [], args: [], scratch: false,
      limits: { outputBytes: 1, logBytes: 1, memoryBytes: 1, planPartitions: 1 },
    };
    const odd = { ...job, instanceId: 'tr_1.1', leaseSecret: 's2', timeoutMs: 'soon' };
    const read = parseLease({ leaseMs: 1e20, jobs: [job, odd, { nonsense: true }] });
    assert.equal(read.leaseMs, 2 ** 31 - 1);
    assert.deepEqual(read.jobs.map((j) => [j.instanceId, j.timeoutMs]), [['tr_1.0', 2 ** 31 - 1]]);
    assert.deepEqual(read.unreadable.map((u) => u.lease), [{ instanceId: 'tr_1.1', attempt: 1, leaseSecret: 's2' }, undefined]);
    assert.match(read.unreadable[0]!.problem, /timeoutMs/);
    assert.equal(parseLease({ leaseMs: 30_000, jobs: [{ ...job, timeoutMs: 1500.5 }] }).jobs[0]!.timeoutMs, 1500);
  });
});

describe('server shutdown and the embedded database', () => {
  it('SIGTERM lets a short instance finish, hands a long one back after the grace period, and exits 0', async () => {
    const home = tempDir();
    const s = await startServer({ home, args: ['--grace', '500ms'] });
    await setup(s, 4000);
    const runId = await trigger(s, 'resumed\n');
    await eventually(async () => ((await instance(s, runId))?.state === 'running' ? true : undefined), 30_000, 'the instance to run');
    assert.equal(await s.stop(), 0);
    // Handed back, so it stopped after the grace period and not after the 4 s instance (which would have finished).
    assert.match(s.stderr(), /handed back 1 unfinished instance/);

    // The next server on the same home runs it from the start and finishes the run.
    const again = await startServer({ home, args: ['--grace', '30s'] });
    const run = await finished(again, runId);
    assert.equal(run.state, 'succeeded', run.error ?? '');
    assert.deepEqual(await output(again, runId), ['resumed\n']);
    const attempts = (await instance(again, runId)).attempts;
    assert.deepEqual(attempts.map((a: { outcome: string }) => a.outcome), ['lost', 'succeeded']);
    assert.match(attempts[0].error, /server shut down/);

    // With a long grace, a running instance finishes before the server exits.
    const second = await trigger(again, 'finished before exit\n');
    await eventually(async () => ((await instance(again, second))?.state === 'running' ? true : undefined), 30_000, 'the instance to run');
    assert.equal(await again.stop(), 0);
    assert.doesNotMatch(again.stderr(), /handed back \d/);
    const last = await startServer({ home });
    const inst = await instance(last, second);
    assert.equal(inst.state, 'succeeded');
    assert.deepEqual(inst.attempts.map((a: { outcome: string }) => a.outcome), ['succeeded']);
    assert.equal(await last.stop(), 0);
  });

  it('refuses a second process writing the same database file, naming the one that holds it', async () => {
    const s = await startServer();
    try {
      const second = spawnSync(process.execPath, [bin, 'serve', '--port', '0', '--home', s.home], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(second.status, 1, second.stderr);
      assert.match(second.stderr, new RegExp(`tutti\\.db is in use by another Tutti process \\(pid ${s.child.pid}: .*serve`));
      assert.match(second.stderr, /--db http:\/\/HOST:PORT/);
      const flow = path.join(tempDir(), 'flow.yaml');
      writeFileSync(flow, `id: x\ntasks:\n  - { id: a, component: ${module('counter')} }\n`);
      const run = spawnSync(process.execPath, [bin, 'run', flow, '--home', s.home], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(run.status, 1, run.stderr);
      assert.match(run.stderr, /is in use by another Tutti process/);
    } finally {
      assert.equal(await s.stop(), 0, `signal ${s.child.signalCode}: ${s.stderr()}`);
    }
    // Released at exit: the next process takes it.
    const next = await startServer({ home: s.home });
    assert.equal(await next.stop(), 0);
  });
});
