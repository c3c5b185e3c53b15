import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { embedManifest } from '../src/runtime/manifest.js';
import { splitByManifest } from '../src/scheduler/split.js';
import { getRun, getTaskRuns, runAssets } from '../src/store/runs.js';
import { taskRunInstances } from '../src/store/instances.js';
import { countWords, harness, module, type Harness } from './helpers.js';

/** Deterministic text with short and very long lines, so records straddle every boundary size. */
function generateText(bytes: number, trailingNewline: boolean): string {
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const lines: string[] = [];
  let size = 0;
  while (size < bytes) {
    const words = rnd() < 0.02 ? 5000 + Math.floor(rnd() * 20000) : Math.floor(rnd() * 14);
    const line = Array.from({ length: words }, () => 'w'.repeat(1 + Math.floor(rnd() * 9))).join(rnd() < 0.1 ? '\t ' : ' ');
    lines.push(line);
    size += line.length + 1;
  }
  const text = lines.join('\n');
  return trailingNewline ? `${text}\n` : text;
}

describe('scaling by the runtime dataset', () => {
  let h: Harness;
  const withManifest = (name: string, manifest: object) => {
    const file = path.join(h.dir, `${name}.wasm`);
    writeFileSync(file, embedManifest(readFileSync(module(name)), manifest));
    return file;
  };
  const outputText = async (runId: string, task: string) => {
    const assets = (await runAssets(h.tutti.database.db, runId)).filter((a) => a.taskId === task);
    return Promise.all(assets.map((a) => h.text(a)));
  };
  const taskRun = async (runId: string, task: string) => (await getTaskRuns(h.tutti.database.db, runId)).find((t) => t.taskId === task)!;

  before(async () => (h = await harness()));
  after(() => h.close());

  for (const trailingNewline of [true, false]) {
    it(`a lines split gives the same word count for every partition size (${trailingNewline ? 'with' : 'without'} a trailing newline)`, async () => {
      const text = generateText(3 * 2 ** 20, trailingNewline);
      const input = h.file(`text-${trailingNewline}.txt`, text);
      const expected = countWords(text);
      for (const per of ['4KiB', '100000', '700KiB', '8MiB']) {
        const wc = withManifest('wordcount', { split: 'lines', per, max: 100_000 });
        const runId = await h.run(
          `id: split\ninputs: { text: {} }\ntasks:\n  - { id: count, component: ${wc}, inputs: [text] }\n  - { id: total, component: ${module('sum')}, needs: [count] }\n`,
          { text: input },
        );
        const run = (await getRun(h.tutti.database.db, runId))!;
        assert.equal(run.state, 'succeeded', run.error ?? '');
        assert.deepEqual(await outputText(runId, 'total'), [`${expected}\n`], `per ${per}`);
        const count = await taskRun(runId, 'count');
        const bytesPer = per.endsWith('KiB') ? Number(per.slice(0, -3)) * 1024 : per.endsWith('MiB') ? Number(per.slice(0, -3)) * 2 ** 20 : Number(per);
        // cuts move to record ends, and a long line can swallow several cuts: never more instances than asked
        const asked = Math.ceil(text.length / bytesPer);
        assert.ok(count.instanceCount! <= asked, `per ${per}: ${count.instanceCount}`);
        assert.ok(asked === 1 ? count.instanceCount === 1 : count.instanceCount! > 1, `per ${per}: ${count.instanceCount}`);
        assert.match(count.policy!, /^manifest \(split lines, .* per instance, at most 100000\)$/);
      }
      // The benchmark's pipeline: the same counts reduced by a C command task reading them on stdin.
      const wc = withManifest('wordcount', { split: 'lines', per: '64KiB', max: 100_000 });
      const runId = await h.run(
        `id: split-c\ninputs: { text: {} }\ntasks:\n  - { id: count, component: ${wc}, inputs: [text] }\n  - { id: total, component: ${module('add')}, needs: [count] }\n`,
        { text: input },
      );
      assert.deepEqual(await outputText(runId, 'total'), [`${expected}\n`], 'C add');
    });
  }

  it('a bytes split covers the input exactly: the outputs of a copy task concatenate to the input', async () => {
    const text = generateText(300_000, true);
    const copy = withManifest('sleep', { split: 'bytes', per: 7777, max: 1000 });
    const runId = await h.run(`id: copy\ninputs: { text: {} }\ntasks:\n  - { id: copy, component: ${copy}, inputs: [text], env: { SLEEP_MS: "0" } }\n`, {
      text: h.file('copy.txt', text),
    });
    assert.equal((await getRun(h.tutti.database.db, runId))!.state, 'succeeded');
    const outs = await outputText(runId, 'copy');
    assert.equal(outs.length, Math.ceil(text.length / 7777));
    assert.equal(outs.join(''), text);
  });

  it('a plan export chooses the partitions from the input sizes', async () => {
    const numbers = Array.from({ length: 30_000 }, (_, i) => `${(i * 7919) % 100_003}`).join('\n') + '\n';
    const expected = numbers.trim().split('\n').reduce((s, n) => s + BigInt(n), 0n);
    const runId = await h.run(
      `id: planned\ninputs: { nums: {} }\ntasks:\n  - { id: part, component: ${module('split-sum')}, inputs: [nums], params: { per: 20000 } }\n  - { id: total, component: ${module('sum')}, needs: [part] }\n`,
      { nums: h.file('nums.txt', numbers) },
    );
    const run = (await getRun(h.tutti.database.db, runId))!;
    assert.equal(run.state, 'succeeded', run.error ?? '');
    const part = await taskRun(runId, 'part');
    assert.equal(part.instanceCount, Math.ceil(numbers.length / 20000));
    assert.equal(part.policy, 'plan export');
    assert.deepEqual(await outputText(runId, 'total'), [`${expected}\n`]);
  });

  it('the plan export wins over a manifest, and a component with neither gets one instance', async () => {
    const both = withManifest('adv-plan-ok', { split: 'bytes', per: 1, max: 50 });
    const runId = await h.run(`id: both\ntasks:\n  - { id: p, component: ${both} }\n  - { id: one, component: ${module('counter')} }\n`);
    assert.equal((await getRun(h.tutti.database.db, runId))!.state, 'succeeded');
    const p = await taskRun(runId, 'p');
    assert.deepEqual([p.instanceCount, p.policy], [3, 'plan export']);
    const one = await taskRun(runId, 'one');
    assert.deepEqual([one.instanceCount, one.policy], [1, 'single']);
  });

  it('maxInstances caps a bigger plan without losing a byte', async () => {
    const text = generateText(200_000, true);
    const wc = withManifest('wordcount', { split: 'lines', per: '1KiB', max: 1000 });
    const runId = await h.run(
      `id: capped\ninputs: { text: {} }\ntasks:\n  - { id: count, component: ${wc}, inputs: [text], maxInstances: 7 }\n  - { id: total, component: ${module('sum')}, needs: [count] }\n`,
      { text: h.file('capped.txt', text) },
    );
    assert.equal((await getRun(h.tutti.database.db, runId))!.state, 'succeeded');
    const count = await taskRun(runId, 'count');
    assert.equal(count.instanceCount, 7);
    assert.match(count.policy!, /capped by maxInstances 7 \(from \d+\)/);
    assert.deepEqual(await outputText(runId, 'total'), [`${countWords(text)}\n`]);
  });

  it('concurrency caps how many instances of a task run at once', async () => {
    const slow = withManifest('sleep', { split: 'bytes', per: 1, max: 100 });
    const db = h.tutti.database.db;
    const overlaps = async (cap: string) => {
      const runId = await h.run(`id: cap${cap.length}\ninputs: { x: {} }\ntasks:\n  - { id: s, component: ${slow}, inputs: [x], env: { SLEEP_MS: "60" }${cap} }\n`, {
        x: h.file('four.bin', 'abcd'),
      });
      assert.equal((await getRun(db, runId))!.state, 'succeeded');
      const insts = await taskRunInstances(db, (await taskRun(runId, 's')).id);
      assert.equal(insts.length, 4);
      return insts.some((a) => insts.some((b) => a !== b && a.startedAt! < b.finishedAt! && b.startedAt! < a.finishedAt!));
    };
    assert.equal(await overlaps(', concurrency: 1'), false, 'with concurrency 1, no two instances overlapped');
    assert.equal(await overlaps(''), true, 'without a cap, instances ran side by side on the two workers');
  });

  it('a capped task starts its next instance when one ends, not at the next poll', { timeout: 60_000 }, async () => {
    // With the poll an hour away, only the end of an instance can start the next one.
    const own = await harness({ poll: 3_600_000, lease: 3 * 3_600_000 });
    try {
      const one = path.join(own.dir, 'one.wasm');
      writeFileSync(one, embedManifest(readFileSync(module('wordcount')), { split: 'bytes', per: 1, max: 100 }));
      const runId = await own.run(`id: capped\ninputs: { x: {} }\ntasks:\n  - { id: s, component: ${one}, inputs: [x], concurrency: 1 }\n`, { x: own.file('x', 'a b c d e') });
      assert.equal((await getRun(own.tutti.database.db, runId))!.state, 'succeeded');
    } finally {
      await own.close();
    }
  });

  it('fans out, fans in, and fans out again over the fanned-in outputs', async () => {
    const text = generateText(120_000, true);
    const wc = withManifest('wordcount', { split: 'lines', per: '10KiB', max: 1000 });
    // one instance per line of input: here, per upstream output ("123\n")
    const perRecord = withManifest('wordcount', { split: 'lines', per: 1, max: 100_000 });
    const runId = await h.run(
      `id: fan
inputs: { text: {} }
tasks:
  - { id: count, component: ${wc}, inputs: [text] }
  - { id: recount, component: ${perRecord}, needs: [count] }
  - { id: total, component: ${module('sum')}, needs: [recount] }
`,
      { text: h.file('fan.txt', text) },
    );
    assert.equal((await getRun(h.tutti.database.db, runId))!.state, 'succeeded');
    const count = await taskRun(runId, 'count');
    const recount = await taskRun(runId, 'recount');
    assert.ok(count.instanceCount! > 5);
    assert.equal(recount.instanceCount, count.instanceCount, 'one recount instance per count output');
    assert.equal(recount.inputs!.length, count.instanceCount);
    // every recount instance counted one word (one number), so the total is the number of count instances
    assert.deepEqual(await outputText(runId, 'total'), [`${count.instanceCount}\n`]);
    const insts = await taskRunInstances(h.tutti.database.db, recount.id);
    assert.deepEqual(insts.map((i) => i.idx), [...insts.keys()], 'instances in partition order');
  });

  it('fans out to thousands of instances, pages through them, and keeps answering meanwhile', async () => {
    const n = 3000;
    const noop = withManifest('counter', { split: 'bytes', per: 1, max: 1_000_000 });
    const runId = await h.start(`id: wide\ninputs: { x: {} }\ntasks:\n  - { id: noop, component: ${noop}, inputs: [x] }\n`, { x: h.file('wide.bin', 'x'.repeat(n)) });
    const db = h.tutti.database.db;
    // While the fan-out runs, the store (and so /healthz) keeps answering.
    let answered = 0;
    for (;;) {
      await h.tutti.database.client.execute('SELECT 1');
      answered++;
      const state = (await getRun(db, runId))!.state;
      if (state !== 'queued' && state !== 'running') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(answered > 1);
    assert.equal((await getRun(db, runId))!.state, 'succeeded');
    const tr = await taskRun(runId, 'noop');
    assert.deepEqual([tr.instanceCount, tr.succeededCount], [n, n]);
    const seen: number[] = [];
    for (let page = await taskRunInstances(db, tr.id, { limit: 700 }); page.length; page = await taskRunInstances(db, tr.id, { afterIdx: page.at(-1)!.idx, limit: 700 })) {
      assert.ok(page.length <= 700);
      seen.push(...page.map((i) => i.idx));
    }
    assert.deepEqual(seen, Array.from({ length: n }, (_, i) => i));
    // planning again (as after a crash) creates nothing twice
    const { planTaskRun } = await import('../src/store/runs.js');
    assert.deepEqual(await planTaskRun(db, { runId, taskRunId: tr.id, taskId: 'noop', inputs: [], policy: 'again', partitions: [{ index: 0, count: 1, slices: [] }] }), []);
    assert.equal((await taskRun(runId, 'noop')).instanceCount, n);
  });

  it('splitting keeps records whole at input ends and drops empty partitions', () => {
    const dir = h.dir;
    const a = path.join(dir, 'a.txt');
    const b = path.join(dir, 'b.txt');
    writeFileSync(a, 'aaaa\nbb'); // no trailing newline: the input end ends the record
    writeFileSync(b, 'c\nddddddddddddddd\n');
    const plan = splitByManifest([{ size: 7, path: a }, { size: 18, path: b }], { split: 'lines', per: 3, max: 100 });
    const content = [readFileSync(a, 'utf8'), readFileSync(b, 'utf8')];
    const ends = [7, 18];
    for (const p of plan.partitions) {
      const last = p.slices.at(-1)!;
      const end = last.offset + last.length;
      assert.ok(end === ends[last.input] || content[last.input]![end - 1] === '\n', `partition ${p.index} ends inside a record`);
    }
    const covered = plan.partitions.flatMap((p) => p.slices.map((s) => content[s.input]!.slice(s.offset, s.offset + s.length))).join('');
    assert.equal(covered, content.join(''));
    assert.ok(plan.partitions.every((p, i) => p.index === i && p.count === plan.partitions.length));
  });
});
