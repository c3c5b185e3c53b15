/**
 * The adversarial suite: every task here is hostile. Each must end with the right failure kind and
 * a clear message while the server keeps answering and an honest flow next to them completes.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serve, type ServerType } from '@hono/node-server';
import { createApp } from '../src/api/app.js';
import { InstanceAbort } from '../src/runtime/failures.js';
import { type Descriptor, filesystemImports, MAX_OPEN_SCRATCH_FILES } from '../src/runtime/wasi/filesystem.js';
import { runEvents } from '../src/store/events.js';
import { runAttempts, taskRunInstances } from '../src/store/instances.js';
import { getRun, getTaskRuns, runAssets } from '../src/store/runs.js';
import { setSecret } from '../src/store/secrets.js';
import { countWords, harness, module, tempDir, type Harness } from './helpers.js';

const HOST_SECRET = 'planted-in-the-server-env-7f3a';

interface Case {
  name: string;
  task: string;
  kind?: string;
  message?: RegExp;
  /** For attacks that fail inside the guest: the run succeeds, and its output must show the denial. */
  output?: (text: string) => void;
}

const cases: Case[] = [
  {
    name: 'reads /etc/passwd, ../ paths and lists directories',
    task: `component: ${module('adv-fs')}`,
    output: (text) => {
      assert.doesNotMatch(text, /LEAKED/);
      for (const what of ['/etc/passwd', '../../../../etc/passwd', './secret.txt', 'opendir /', 'opendir .']) {
        assert.match(text, new RegExp(`^${what.replace(/[./]/g, '\\$&')}: denied \\(`, 'm'));
      }
    },
  },
  {
    name: 'reads every environment variable',
    task: `component: ${module('adv-env')}\n    env: { GIVEN: "yes" }`,
    output: (text) => {
      assert.doesNotMatch(text, new RegExp(HOST_SECRET));
      assert.doesNotMatch(text, /^(PATH|HOME|TUTTI_PLANTED)=/m);
      const names = text.split('args:')[0]!.trim().split('\n').map((l) => l.split('=')[0]).sort();
      assert.deepEqual(names, ['GIVEN', 'TUTTI_ATTEMPT', 'TUTTI_PARTITION_COUNT', 'TUTTI_PARTITION_INDEX', 'TUTTI_RUN_ID', 'TUTTI_TASK']);
    },
  },
  { name: 'opens a TCP socket', task: `component: ${module('adv-tcp')}`, kind: 'sandbox-violation', message: /sandbox violation: wasi:sockets\/tcp-create-socket#createTcpSocket is not granted/ },
  { name: 'makes an outgoing HTTP request', task: `component: ${module('adv-http')}`, kind: 'sandbox-violation', message: /sandbox violation: wasi:http\/types#\w+ is not granted/ },
  { name: 'calls exit(3)', task: `component: ${module('adv-exit')}`, kind: 'exited', message: /^exited with code 1$/ },
  { name: 'calls exit-with-code(3)', task: `component: ${module('fail')}`, kind: 'exited', message: /^exited with code 3$/ },
  { name: 'loops forever', task: `component: ${module('adv-spin')}\n    timeout: 1s`, kind: 'timed-out', message: /^timed out after 1000 ms$/ },
  { name: 'allocates until memory runs out', task: `component: ${module('adv-oom')}\n    memory: 32MiB`, kind: 'out-of-memory', message: /memory cap of 32 MiB/ },
  { name: 'writes 1 GiB to stdout', task: `component: ${module('adv-stdout-flood')}\n    outputLimit: 4MiB`, kind: 'output-limit', message: /output limit reached: the instance wrote more than 4194304 bytes/ },
  {
    name: 'writes 5,000 distinct outputs',
    task: `component: ${module('adv-many-outputs')}`,
    kind: 'too-many-outputs',
    message: /^too many outputs: the instance wrote to more than 1000 distinct outputs \("o1000" would be one more\)$/,
  },
  { name: 'logs without end', task: `component: ${module('adv-log-flood')}\n    logLimit: 16KiB`, kind: 'output-limit', message: /log limit reached/ },
  { name: 'executes unreachable', task: `component: ${module('adv-trap')}`, kind: 'trapped', message: /^wasm trap: .*unreachable/ },
  { name: 'divides by zero', task: `component: ${module('adv-trap')}\n    env: { MODE: div }`, kind: 'trapped', message: /^wasm trap: .*divide by zero/ },
  {
    name: 'returns 10 million partitions from plan',
    task: `component: ${module('adv-plan-bomb')}\n    memory: 512MiB`,
    kind: 'invalid-plan',
    message: /plan returned 10000000 partitions; the limit is 200000/,
  },
  {
    name: 'returns more partitions than the flow allows',
    task: `component: ${module('adv-plan-ok')}\n    planLimit: 2`,
    kind: 'invalid-plan',
    message: /plan returned 3 partitions; the limit is 2/,
  },
];

describe('sandbox: hostile tasks', () => {
  let h: Harness;
  let server: ServerType;
  let base: string;

  before(async () => {
    process.env.TUTTI_PLANTED = HOST_SECRET;
    h = await harness();
    h.file('secret.txt', 'should never be read');
    server = serve({ fetch: createApp(h.tutti).fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((r) => server.close(r));
    await h.close();
  });

  it('every attack ends with the right failure kind, the server keeps serving, an honest flow completes', async () => {
    const runs = new Map<Case, string>();
    for (const [i, c] of cases.entries()) {
      runs.set(c, await h.start(`id: attack-${i}\ntasks:\n  - id: attack\n    ${c.task}\n`));
    }
    const text = 'honest words keep flowing\n'.repeat(1000);
    const honest = await h.start(`id: honest\ninputs: { text: {} }\ntasks:\n  - { id: count, component: ${module('wordcount')}, inputs: [text] }\n`, { text: h.file('honest.txt', text) });

    let healthy = 0;
    const polling = (async () => {
      for (;;) {
        const res = await fetch(`${base}/healthz`);
        assert.equal(res.status, 200);
        healthy++;
        const states = await Promise.all([...runs.values(), honest].map(async (id) => (await getRun(h.tutti.database.db, id))!.state));
        if (states.every((s) => s !== 'queued' && s !== 'running')) return;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await Promise.all([...runs.values(), honest].map((id) => h.tutti.engine.waitForRun(id)));
    await polling;
    assert.ok(healthy > 1, 'healthz answered while the attacks ran');

    const db = h.tutti.database.db;
    const honestRun = (await getRun(db, honest))!;
    assert.equal(honestRun.state, 'succeeded');
    const out = (await runAssets(db, honest)).find((a) => a.taskId === 'count')!;
    assert.equal(await h.text(out), `${countWords(text)}\n`);

    for (const [c, runId] of runs) {
      const run = (await getRun(db, runId))!;
      if (c.output) {
        assert.equal(run.state, 'succeeded', `${c.name}: ${run.error}`);
        const asset = (await runAssets(db, runId)).find((a) => a.taskId === 'attack')!;
        c.output(await h.text(asset));
        continue;
      }
      assert.equal(run.state, 'failed', c.name);
      const [tr] = await getTaskRuns(db, runId);
      const [inst] = await taskRunInstances(db, tr!.id);
      if (c.kind === 'invalid-plan') {
        assert.match(tr!.error!, c.message!, c.name);
        assert.match(tr!.error!, /^plan failed: invalid-plan: /, c.name);
        continue;
      }
      assert.equal(inst!.errorKind, c.kind, `${c.name}: ${inst!.error}`);
      assert.match(inst!.error!, c.message!, c.name);
      assert.match(run.error!, new RegExp(`${c.kind}: `), c.name);
    }
  });

  it('a spinning instance does not block the API', async () => {
    const runId = await h.start(`id: spin\ntasks:\n  - { id: spin, component: ${module('adv-spin')}, timeout: 5s }\n`);
    const db = h.tutti.database.db;
    let inst;
    do {
      await new Promise((r) => setTimeout(r, 20));
      const [tr] = await getTaskRuns(db, runId);
      [inst] = await taskRunInstances(db, tr!.id);
    } while (inst?.state !== 'running');
    const res = await fetch(`${base}/healthz`);
    assert.equal(res.status, 200);
    const [tr] = await getTaskRuns(db, runId);
    assert.equal((await taskRunInstances(db, tr!.id))[0]!.state, 'running', 'healthz answered while the instance was still spinning');
    await h.tutti.engine.waitForRun(runId);
  });

  it('gives secrets by name, and keeps their values out of logs and events', async () => {
    const db = h.tutti.database.db;
    await setSecret(db, 'API_KEY', 'sk-live-0123456789');
    const runId = await h.run(`id: secrets
tasks:
  - id: show
    component: ${module('adv-env')}
    env: { ENV_TO_STDERR: "1" }
    secrets: { TOKEN: API_KEY }
`);
    assert.equal((await getRun(db, runId))!.state, 'succeeded');
    const asset = (await runAssets(db, runId)).find((a) => a.taskId === 'show')!;
    assert.match(await h.text(asset), /^TOKEN=sk-live-0123456789$/m, 'the task receives the secret');
    const [attempt] = await runAttempts(db, runId);
    assert.match(attempt!.log, /^TOKEN=\[secret API_KEY\]$/m);
    assert.doesNotMatch(attempt!.log, /sk-live/);
    assert.doesNotMatch(JSON.stringify(await runEvents(db, runId)), /sk-live/);
  });

  it('fails a task whose secret is not set, naming it', async () => {
    const runId = await h.run(`id: nosecret\ntasks:\n  - { id: t, component: ${module('adv-env')}, secrets: [NOT_THERE] }\n`);
    const run = (await getRun(h.tutti.database.db, runId))!;
    assert.equal(run.state, 'failed');
    assert.match(run.error!, /missing-secret: secret "NOT_THERE" not set/);
  });

  it('grants a private /scratch directory that cannot be left, and removes it afterwards', async () => {
    const runId = await h.run(`id: scratch\ntasks:\n  - { id: s, component: ${module('adv-scratch')}, scratch: true }\n`);
    const db = h.tutti.database.db;
    assert.equal((await getRun(db, runId))!.state, 'succeeded');
    const asset = (await runAssets(db, runId)).find((a) => a.taskId === 's')!;
    const text = await h.text(asset);
    assert.match(text, /^readback: ok scratch works$/m);
    assert.match(text, /^list \/scratch: ok work$/m);
    assert.match(text, /^read \/scratch\/\.\.\/etc\/passwd: denied/m);
    assert.match(text, /^read \/scratch\/work\/\.\.\/\.\.\/etc\/passwd: denied/m);
    assert.match(text, /^symlink: denied/m);
    assert.doesNotMatch(text, /LEAKED/);
    const [tr] = await getTaskRuns(db, runId);
    const [inst] = await taskRunInstances(db, tr!.id);
    assert.equal(existsSync(h.tutti.assets.scratchDir(`${inst!.id}.a1/fs`)), false, 'the scratch directory is gone');
    // without the grant, there is no /scratch at all
    const denied = await h.run(`id: noscratch\ntasks:\n  - { id: s, component: ${module('adv-scratch')} }\n`);
    assert.equal((await getRun(db, denied))!.state, 'failed');
  });

  it('closes a /scratch file when the task closes it: 3,000 files written one after the other hold a few descriptors', async () => {
    const open = () => readdirSync('/proc/self/fd').length;
    const before = open();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, open())), 5);
    const runId = await h
      .run(`id: churn\ntasks:\n  - { id: s, component: ${module('adv-scratch-files')}, scratch: true, env: { FILES: "3000", SPIN_MS: "300" } }\n`)
      .finally(() => clearInterval(sampler));
    const db = h.tutti.database.db;
    assert.equal((await getRun(db, runId))!.state, 'succeeded');
    assert.equal(await h.text((await runAssets(db, runId)).find((a) => a.taskId === 's')!), 'opened 3000\n');
    assert.ok(peak - before < 64, `${peak - before} more files open while it ran`);
  });
});

describe('sandbox: /scratch descriptors, below what wasi-libc lets a program reach', () => {
  const dispose = (Symbol as { dispose?: symbol }).dispose ?? Symbol.for('dispose');
  const writeOpts = [{}, { create: true }, { write: true }] as const;

  it('stops an instance holding more than MAX_OPEN_SCRATCH_FILES files open, and a stream outliving its descriptor writes nowhere', () => {
    const dir = tempDir();
    const disposers: (() => void)[] = [];
    const fs = filesystemImports({ dir, cap: 1 << 20 }, (fn) => disposers.push(fn));
    const root = (fs['wasi:filesystem/preopens'].getDirectories() as [Descriptor, string][])[0]![0];
    try {
      const files = Array.from({ length: MAX_OPEN_SCRATCH_FILES }, (_, i) => root.openAt(writeOpts[0], `f${i}`, writeOpts[1], writeOpts[2]));
      assert.throws(
        () => root.openAt(writeOpts[0], 'one-more', writeOpts[1], writeOpts[2]),
        (e: unknown) => e instanceof InstanceAbort && e.failure.kind === 'output-limit' && /more than 128 files open at once in \/scratch/.test(e.message),
      );
      // Dropping one closes its file and makes room; its stream, kept, must not reach the next file
      // opened, which may well get the same fd number.
      const stale = files[0]!.writeViaStream(0n);
      (files[0] as unknown as Record<symbol, () => void>)[dispose]!();
      const next = root.openAt(writeOpts[0], 'one-more', writeOpts[1], writeOpts[2]);
      assert.throws(() => stale.write(new TextEncoder().encode('stale')), (e: unknown) => (e as { tag?: string }).tag === 'closed');
      next.writeViaStream(0n).write(new TextEncoder().encode('fresh'));
      assert.equal(readFileSync(path.join(dir, 'one-more'), 'utf8'), 'fresh');
      assert.equal(readFileSync(path.join(dir, 'f0'), 'utf8'), '');
    } finally {
      for (const fn of disposers) fn();
    }
  });
});
