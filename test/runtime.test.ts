import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ComponentCache, ComponentRejected } from '../src/runtime/component.js';
import { WorkerPool } from '../src/runtime/pool.js';
import type { JobSpec, Then } from '../src/runtime/pool.js';
import type { InstanceResult, OutputFile } from '../src/runtime/protocol.js';
import { INLINE_OUTPUT_BYTES, MAX_OUTPUTS, OPEN_FILES } from '../src/runtime/sinks.js';
import { module, tempDir } from './helpers.js';

describe('component runtime', () => {
  const dir = tempDir();
  const cache = new ComponentCache(path.join(dir, 'cache'));
  let pool: WorkerPool;
  before(() => (pool = new WorkerPool(2)));
  after(() => pool.close());

  /** An output's bytes as text: in hand when small, in its file otherwise. */
  const text = (o: OutputFile) => Buffer.from(o.bytes ?? readFileSync(o.path)).toString('utf8');

  const job = (inputs: { name: string; text: string }[], extra: Partial<JobSpec> = {}): JobSpec => {
    const files = inputs.map((i, n) => {
      const p = path.join(dir, `in-${n}-${Math.random()}`);
      writeFileSync(p, i.text);
      return { name: i.name, size: Buffer.byteLength(i.text), mediaType: 'text/plain', path: p };
    });
    return {
      call: 'run',
      partition: { index: 0, count: 1, slices: files.map((f, input) => ({ input, offset: 0, length: f.size })) },
      inputs: files,
      params: [],
      env: [],
      args: ['t'],
      outputDir: path.join(dir, `out-${Math.random()}`),
      outputStem: '',
      limits: { outputBytes: 1 << 20, logBytes: 4096, memoryBytes: 64 << 20, planPartitions: 1000 },
      ...extra,
    };
  };

  it('rejects a component that satisfies no contract, naming what it exports', async () => {
    await assert.rejects(cache.prepare(readFileSync(module('not-a-task'))), (e: unknown) => {
      assert.ok(e instanceof ComponentRejected);
      assert.equal(e.code, 'no-contract');
      assert.match(e.message, /must export wasi:cli\/run .* or a `run` function of the tutti:task\/task world/);
      assert.match(e.message, /It exports: hello\./);
      return true;
    });
  });

  it('rejects a `run` export with the wrong signature', async () => {
    await assert.rejects(cache.prepare(readFileSync(module('wrong-run'))), /exports `run: func\(\) -> u32`, but the tutti:task world needs/);
  });

  it('rejects a core module with the command that wraps it', async () => {
    await assert.rejects(cache.prepare(readFileSync(module('core-only'))), (e: unknown) => {
      assert.ok(e instanceof ComponentRejected && e.code === 'core-module');
      assert.match(e.message, /npx jco new x\.core\.wasm --wasi-command -o x\.wasm/);
      return true;
    });
  });

  it('rejects bytes that are not wasm', async () => {
    await assert.rejects(cache.prepare(new TextEncoder().encode('#!/bin/sh\necho hi\n')), /not a WebAssembly binary/);
  });

  it('classifies command and typed components', async () => {
    const wc = await cache.prepare(readFileSync(module('wordcount')));
    assert.equal(wc.info.contract, 'command');
    assert.deepEqual(wc.info.exports, ['wasi:cli/run@0.2.12']);
    const sum = await cache.prepare(readFileSync(module('sum')));
    assert.equal(sum.info.contract, 'task');
    assert.equal(sum.info.hasPlan, false);
    assert.deepEqual(sum.info.imports, ['tutti:task/host']);
  });

  it('transpiles once per digest: a second cache over the same directory reads it from disk', async () => {
    const bytes = readFileSync(module('wordcount'));
    const first = await cache.prepare(bytes);
    const again = await new ComponentCache(path.join(dir, 'cache')).prepare(bytes);
    assert.equal(again.moduleUrl, first.moduleUrl);
    assert.deepEqual(again.info, first.info);
  });

  it('runs a command over stdin and captures stdout as the output', async () => {
    const wc = await cache.prepare(readFileSync(module('wordcount')));
    const r = await pool.run(wc, job([{ name: 'text', text: 'one two  three\nfour\tfive\n\nsix' }]));
    assert.ok(r.ok, JSON.stringify(r));
    const out = r.outputs.find((o) => o.name === 'stdout')!;
    assert.equal(text(out), '6\n');
    assert.equal(out.size, 2);
  });

  it('keeps a small output in hand, with no file, and writes a larger one where it will live', async () => {
    const copy = await cache.prepare(readFileSync(module('sleep')));
    const small = 'tiny\n'.repeat(10);
    const big = Array.from({ length: 4000 }, (_, i) => `line ${i}\n`).join('');
    assert.ok(Buffer.byteLength(big) > INLINE_OUTPUT_BYTES);
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    const [s, b] = await Promise.all([small, big].map((t) => pool.run(copy, job([{ name: 'in', text: t }], { env: [['SLEEP_MS', '0']] }))));
    assert.ok(s!.ok && b!.ok);
    const [so, bo] = [s!.outputs[0]!, b!.outputs[0]!];
    assert.equal(Buffer.from(so.bytes!).toString('utf8'), small);
    assert.deepEqual([so.size, so.sha256, existsSync(so.path)], [small.length, sha(small), false]);
    assert.equal(bo.bytes, undefined);
    assert.equal(readFileSync(bo.path, 'utf8'), big);
    assert.deepEqual([bo.size, bo.sha256], [big.length, sha(big)]);

    // An input in hand is read from its bytes: its path is never opened.
    const wc = await cache.prepare(readFileSync(module('wordcount')));
    const words = Buffer.from('in hand, not on disk\n');
    const spec = job([]);
    spec.inputs = [{ name: 'w', size: words.length, mediaType: 'text/plain', path: path.join(dir, 'no-such-file'), bytes: words }];
    spec.partition.slices = [{ input: 0, offset: 3, length: words.length - 3 }];
    const r = await pool.run(wc, spec);
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(text(r.outputs[0]!), '4\n');
  });

  it('runs a job right after another in the same worker on its outputs, and cancels it when the first fails', async () => {
    const fib = await cache.prepare(readFileSync(module('fib')));
    const add = await cache.prepare(readFileSync(module('add')));
    const follow = async (first: JobSpec) => {
      let resolve!: (r: InstanceResult) => void;
      const second = new Promise<InstanceResult>((r) => (resolve = r));
      const r = await pool.run(fib, first, { then: { component: add, spec: { ...job([]), fromPrevious: { taskId: 'fib', idx: 0 } }, resolve } });
      return [r, await second] as const;
    };
    // fib(20) = 6765 on stdout; add reads its input on stdin and prints the sum of its numbers.
    const [first, second] = await follow(job([], { env: [['TUTTI_PARAM_N', '20']] }));
    assert.ok(first.ok && second.ok, JSON.stringify([first, second]));
    assert.equal(text(first.outputs[0]!), '6765\n');
    assert.equal(text(second.outputs.find((o) => o.name === 'stdout')!), '6765\n');
    const [failed, cancelled] = await follow(job([], { env: [['TUTTI_PARAM_N', 'not a number']] }));
    assert.equal(failed.ok, false);
    assert.ok(!cancelled.ok && cancelled.failure.kind === 'cancelled', JSON.stringify(cancelled));
  });

  it('stops followers no longer wanted: a running one with its worker, a queued one before it starts, and those after them', async () => {
    const sleep = await cache.prepare(readFileSync(module('sleep')));
    const chain = (n: number, ms: number) => {
      const results: Promise<InstanceResult>[] = [];
      const links: Then[] = [];
      for (let i = 0; i < n; i++) {
        let resolve!: (r: InstanceResult) => void;
        results.push(new Promise<InstanceResult>((r) => (resolve = r)));
        links.push({ component: sleep, spec: { ...job([], { env: [['SLEEP_MS', String(ms)]] }), fromPrevious: { taskId: 'sleep', idx: 0 } }, resolve });
        if (i) links[i - 1]!.then = links[i];
      }
      return { first: links[0]!, links, results };
    };
    // Running: the first follower of a quick job sleeps 5 s; dropped, it and the next end at once, cancelled.
    const running = chain(2, 5000);
    const t0 = Date.now();
    const head = await pool.run(sleep, job([{ name: 'in', text: 'x' }], { env: [['SLEEP_MS', '0']] }), { then: running.first });
    assert.ok(head.ok, JSON.stringify(head));
    await new Promise((r) => setTimeout(r, 200));
    pool.drop(running.first);
    for (const r of await Promise.all(running.results)) assert.equal(!r.ok && r.failure.kind, 'cancelled', JSON.stringify(r));
    assert.ok(Date.now() - t0 < 4000, `took ${Date.now() - t0} ms`);

    // Queued: both workers busy, a chain waits here; dropping its second link leaves the first to run alone.
    const busy = [0, 1].map(() => pool.run(sleep, job([], { env: [['SLEEP_MS', '600']] })));
    await new Promise((r) => setTimeout(r, 100));
    const queued = chain(2, 0);
    const first = pool.run(sleep, job([{ name: 'in', text: 'y' }], { env: [['SLEEP_MS', '0']] }), { then: queued.first });
    await new Promise((r) => setTimeout(r, 50));
    pool.drop(queued.links[1]!);
    const [second, third] = await Promise.all(queued.results);
    assert.ok(second!.ok && third!.ok === false && third!.failure.kind === 'cancelled', JSON.stringify([second, third]));
    assert.ok((await first).ok);
    for (const b of await Promise.all(busy)) assert.ok(b.ok, JSON.stringify(b));
    // The pool carries on, and dropping an answered follower does nothing.
    pool.drop(running.first);
    assert.ok((await pool.run(sleep, job([], { env: [['SLEEP_MS', '0']] }))).ok);
  });

  it('streams exactly the partition slices on stdin, concatenated in order', async () => {
    const wc = await cache.prepare(readFileSync(module('wordcount')));
    const spec = job([
      { name: 'a', text: 'xx one two yy' },
      { name: 'b', text: 'three four' },
    ]);
    spec.partition.slices = [
      { input: 0, offset: 3, length: 7 }, // "one two"
      { input: 1, offset: 0, length: 10 },
    ];
    const r = await pool.run(wc, spec);
    assert.ok(r.ok);
    // "one two" + "three four" concatenate as "one twothree four": 3 words
    assert.equal(text(r.outputs[0]!), '3\n');
  });

  it('runs a typed task with host.read, host.write and host.log', async () => {
    const sum = await cache.prepare(readFileSync(module('sum')));
    const r = await pool.run(sum, job([{ name: 'a', text: '40\n' }, { name: 'b', text: '1 1\n' }]));
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.outputs.map((o) => o.name), ['sum']);
    assert.equal(text(r.outputs[0]!), '42\n');
    assert.match(r.log, /\[info\]/);
  });

  it('reports a typed task-error with its kind and message', async () => {
    const sum = await cache.prepare(readFileSync(module('sum')));
    const r = await pool.run(sum, job([{ name: 'in', text: '1 x8 2' }]));
    assert.ok(!r.ok);
    assert.equal(r.failure.kind, 'task-error');
    assert.equal(r.failure.retryable, false);
    assert.match(r.failure.message, /input "in" at offset 2: "x8" is not an integer/);
  });

  it('gives every partition a fresh instance: no state survives between runs', async () => {
    const counter = await cache.prepare(readFileSync(module('counter')));
    const results = await Promise.all(Array.from({ length: 6 }, () => pool.run(counter, job([]))));
    for (const r of results) {
      assert.ok(r.ok);
      assert.equal(text(r.outputs[0]!), '1\n');
    }
  });

  it('serves one job after another from instances made while the worker waits, each fresh and with its own job', async () => {
    // One at a time: a worker that ran a component twice makes the next instance while it is idle.
    const counter = await cache.prepare(readFileSync(module('counter')));
    for (let i = 0; i < 5; i++) {
      const r = await pool.run(counter, job([]));
      assert.ok(r.ok);
      assert.equal(text(r.outputs[0]!), '1\n', `run ${i} saw state of an earlier one`);
    }
    const fib = await cache.prepare(readFileSync(module('fib')));
    for (const [n, expect] of [['10', '55'], ['11', '89'], ['12', '144'], ['x', undefined], ['20', '6765']] as const) {
      const r = await pool.run(fib, job([], { env: [['TUTTI_PARAM_N', n]] }));
      if (expect === undefined) {
        assert.ok(!r.ok && r.failure.kind === 'exited', 'a bad n fails its own run');
        assert.match(r.log, /got x/);
      } else {
        assert.ok(r.ok, `fib(${n}): ${!r.ok && r.failure.message}`);
        assert.equal(text(r.outputs[0]!), `${expect}\n`);
      }
    }
  });

  it('reports the exit code of a failing command and keeps its stderr as the log', async () => {
    const fail = await cache.prepare(readFileSync(module('fail')));
    const r = await pool.run(fail, job([], { env: [['EXIT_CODE', '7']] }));
    assert.ok(!r.ok);
    assert.equal(r.failure.kind, 'exited');
    assert.equal(r.failure.code, 7);
    assert.equal(r.failure.message, 'exited with code 7');
    assert.match(r.log, /fail: giving up with code 7/);
  });

  it('stops an instance at its timeout and replaces the worker', async () => {
    const sleep = await cache.prepare(readFileSync(module('sleep')));
    const r = await pool.run(sleep, job([], { env: [['SLEEP_MS', '60000']] }), { timeoutMs: 200 });
    assert.ok(!r.ok);
    assert.equal(r.failure.kind, 'timed-out');
    assert.equal(r.failure.retryable, true);
    const wc = await cache.prepare(readFileSync(module('wordcount')));
    const ok = await Promise.all([pool.run(wc, job([{ name: 't', text: 'a b' }])), pool.run(wc, job([{ name: 't', text: 'a' }]))]);
    assert.ok(ok.every((x) => x.ok));
    assert.equal(pool.size, 2);
  });

  it('stops an instance past MAX_OUTPUTS distinct outputs, and deletes what it wrote', async () => {
    const many = await cache.prepare(readFileSync(module('adv-many-outputs')));
    const spec = job([], { params: [{ name: 'outputs', value: '5000' }] });
    const r = await pool.run(many, spec);
    assert.ok(!r.ok, 'the instance wrote 5,000 outputs');
    assert.deepEqual(r.failure, {
      kind: 'too-many-outputs',
      message: `too many outputs: the instance wrote to more than ${MAX_OUTPUTS} distinct outputs ("o${MAX_OUTPUTS}" would be one more)`,
      retryable: false,
    });
    assert.deepEqual(existsSync(spec.outputDir) ? readdirSync(spec.outputDir) : [], []);
  });

  it('holds a few files open however many outputs an instance writes and inputs it reads', async () => {
    const many = await cache.prepare(readFileSync(module('adv-many-outputs')));
    const rounds = 3;
    const bytes = 100;
    // 2,000 inputs on disk, each read; then 1,000 outputs written round-robin: past the 64 KiB an
    // attempt keeps in hand, each is a file, written to again in every round.
    const spec = job(Array.from({ length: 2000 }, (_, i) => ({ name: `in${i}`, text: `${i}\n` })), {
      params: Object.entries({ outputs: MAX_OUTPUTS, rounds, bytes, read: 1, spin: 100 }).map(([name, v]) => ({ name, value: String(v) })),
    });
    const open = () => readdirSync('/proc/self/fd').length;
    const before = open();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, open())), 2);
    const r = await pool.run(many, spec).finally(() => clearInterval(sampler));
    assert.ok(r.ok, JSON.stringify(r));
    assert.ok(peak - before <= 2 * OPEN_FILES + 8, `${peak - before} more files open while it ran (${before} before)`);
    assert.equal(open() - before <= 8, true, 'every file is closed at the end');

    assert.equal(r.outputs.length, MAX_OUTPUTS);
    const files = r.outputs.filter((o) => !o.bytes).length;
    assert.ok(files > MAX_OUTPUTS / 2, `only ${files} outputs were files`);
    for (const o of r.outputs) {
      const i = Number(o.name.slice(1));
      const want = Array.from({ length: rounds }, (_, round) => String.fromCharCode(97 + ((i + round) % 26)).repeat(bytes)).join('');
      assert.equal(text(o), want, o.name);
      assert.equal(o.sha256, createHash('sha256').update(want).digest('hex'), o.name);
    }
  });

  it('waits out a timeout longer than a timer can hold (a spec stored before flows were checked) without re-arming every millisecond', async () => {
    const overflows: string[] = [];
    const onWarning = (w: Error) => overflows.push(w.name);
    process.on('warning', onWarning);
    try {
      const sleep = await cache.prepare(readFileSync(module('sleep')));
      const rs = await Promise.all([25 * 86_400_000, 1e20].map((timeoutMs) => pool.run(sleep, job([], { env: [['SLEEP_MS', '300']] }), { timeoutMs })));
      assert.ok(rs.every((r) => r.ok), JSON.stringify(rs));
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
    } finally {
      process.off('warning', onWarning);
    }
    assert.deepEqual(overflows.filter((n) => n === 'TimeoutOverflowWarning'), []);
  });
});
