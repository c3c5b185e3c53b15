import assert from 'node:assert/strict';
import { createClient } from '@libsql/client';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { embedManifest } from '../src/runtime/manifest.js';
import { atomically } from '../src/store/batch.js';
import { runEvents, type EventRow } from '../src/store/events.js';
import { cancelRun } from '../src/store/run-control.js';
import { cursors } from '../src/store/schema.js';
import { cappedTaskRuns, completeStep, instanceAttempts, runAttempts, taskRunInstances, type Success } from '../src/store/instances.js';
import type { TextStatement } from '../src/store/statement.js';
import { getRun, getTaskRuns, planTaskRun, runAssets, type AssetRow } from '../src/store/runs.js';
import { INLINE_OUTPUT_BYTES } from '../src/runtime/sinks.js';
import { AHEAD } from '../src/scheduler/engine.js';
import { graphOf } from '../src/scheduler/graph.js';
import { RunView } from '../src/scheduler/progress.js';
import type { FlowSpec, TaskSpec } from '../src/scheduler/spec.js';
import { inputsInHand } from '../src/scheduler/inputs.js';
import { countWords, harness, module, type Harness } from './helpers.js';

const WORDS_A = 'the quick brown fox\njumps over\n\tthe lazy dog\n';
const WORDS_B = Array.from({ length: 500 }, (_, i) => `w${i}${i % 7 ? ' ' : '\n'}`).join('');

describe('scheduler on an embedded libSQL file', () => {
  let h: Harness;
  before(async () => (h = await harness()));
  after(() => h.close());

  it('runs a 4-task flow with a fan-in to success, recording every state change', async () => {
    const a = h.file('a.txt', WORDS_A);
    const b = h.file('b.txt', WORDS_B);
    const runId = await h.run(
      `id: wc
inputs: { a: {}, b: {} }
tasks:
  - { id: count-a, component: ${module('wordcount')}, inputs: [a] }
  - { id: count-b, component: ${module('wordcount')}, inputs: [b] }
  - { id: count-ab, component: ${module('wordcount')}, inputs: [a, b] }
  - { id: total, component: ${module('sum')}, needs: [count-a, count-b, count-ab] }
`,
      { a, b },
    );
    const db = h.tutti.database.db;
    const run = (await getRun(db, runId))!;
    assert.equal(run.state, 'succeeded', run.error ?? '');
    const total = (await runAssets(db, runId)).find((x) => x.taskId === 'total')!;
    // count-ab reads a then b concatenated: the last word of a and first of b may merge, so compute it the same way.
    const ab = countWords(WORDS_A + WORDS_B);
    assert.equal(await h.text(total), `${countWords(WORDS_A) + countWords(WORDS_B) + ab}\n`);
    const trs = await getTaskRuns(db, runId);
    assert.deepEqual(trs.map((t) => t.state), ['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    // total saw every output of the three tasks it needs, in `needs` order
    const totalTr = trs.find((t) => t.taskId === 'total')!;
    assert.equal(totalTr.inputs!.length, 3);
    const types = (await runEvents(db, runId)).map((e) => `${e.taskId ?? ''}:${e.type}`);
    assert.equal(types[0], ':run-created');
    assert.equal(types.at(-1), ':run-succeeded');
    assert.ok(types.indexOf('total:task-planned') > types.indexOf('count-a:task-succeeded'));
    assert.ok(types.indexOf('total:task-planned') > types.indexOf('count-ab:task-succeeded'));
  });

  it('runs long chains and wide fan-ins of short tasks to the end, however their commits and syncs overlap', { timeout: 60_000 }, async () => {
    // Each step is planned while the previous one's sync is in flight, and an instance may finish
    // before the plan that leased it is written: no run may be left waiting for a look nobody takes.
    const fib = module('fib');
    const chain = Array.from({ length: 30 }, (_, i) => `  - { id: c${i}, component: ${fib}, params: { n: 5 }${i ? `, needs: [c${i - 1}]` : ''} }`);
    const fan = Array.from({ length: 12 }, (_, i) => `  - { id: f${i}, component: ${fib}, params: { n: ${i} } }`);
    const yaml = `id: shapes\ntasks:\n${chain.join('\n')}\n${fan.join('\n')}\n  - { id: join, component: ${fib}, params: { n: 3 }, needs: [c29, ${fan.map((_, i) => `f${i}`).join(', ')}] }\n`;
    for (let i = 0; i < 8; i++) {
      const runId = await h.run(yaml);
      const run = (await getRun(h.tutti.database.db, runId))!;
      assert.equal(run.state, 'succeeded', run.error ?? '');
      // Planned from every output it needs, including those whose commit had not run yet.
      const join = (await getTaskRuns(h.tutti.database.db, runId)).find((t) => t.taskId === 'join')!;
      assert.equal(join.inputs!.length, 13);
    }
  });

  it('plans a join from the outputs of branches that end a moment apart, committed or not yet', { timeout: 60_000 }, async () => {
    // Branches of slightly different lengths, many runs at once: a branch's end is often read while
    // the commit of its sibling's waits behind a sync (a few times per hundred runs here). The
    // join must be planned from all three outputs, whether it read them or was told of them.
    const fib = module('fib');
    const yaml = `id: join3
tasks:
${[14, 15, 16].map((n) => `  - { id: b${n}, component: ${fib}, params: { n: ${n} } }`).join('\n')}
  - { id: join, component: ${fib}, params: { n: 1 }, needs: [b14, b15, b16] }
`;
    for (let round = 0; round < 12; round++) {
      for (const runId of await Promise.all(Array.from({ length: 16 }, () => h.run(yaml)))) {
        assert.equal((await getRun(h.tutti.database.db, runId))!.state, 'succeeded');
        const join = (await getTaskRuns(h.tutti.database.db, runId)).find((t) => t.taskId === 'join')!;
        assert.equal(join.inputs!.length, 3);
      }
    }
  });

  it('plans a task from the run\'s inputs even when its first task ends before the run\'s creation is committed', { timeout: 60_000 }, async () => {
    // Many runs at once keep a sync in flight: a run's creation often waits behind one while its
    // first task, started at once, already ended. The next task reads the flow input too.
    const yaml = `id: late-inputs
inputs: { text: {} }
tasks:
  - { id: quick, component: ${module('fib')}, params: { n: 1 } }
  - { id: count, component: ${module('wordcount')}, inputs: [text], needs: [quick] }
`;
    const text = h.file('late.txt', 'one two three\n');
    for (let round = 0; round < 6; round++) {
      for (const runId of await Promise.all(Array.from({ length: 16 }, () => h.run(yaml, { text })))) {
        assert.equal((await getRun(h.tutti.database.db, runId))!.state, 'succeeded');
        const count = (await getTaskRuns(h.tutti.database.db, runId)).find((t) => t.taskId === 'count')!;
        assert.equal(count.inputs!.length, 2, `run ${runId}: count was planned with ${count.inputs!.length} input(s)`);
      }
    }
  });

  it('gives each link of a chain the outputs of the one before, also when links run ahead in a worker', { timeout: 60_000 }, async () => {
    // fib(20) = 6765, then add after add: each reads the number on stdin and prints it again.
    const n = AHEAD + 4;
    const links = Array.from({ length: n }, (_, i) => `  - { id: a${i}, component: ${module('add')}, needs: [${i ? `a${i - 1}` : 'f'}] }`);
    const yaml = `id: relay\ntasks:\n  - { id: f, component: ${module('fib')}, params: { n: 20 } }\n${links.join('\n')}\n`;
    const before = { ...h.tutti.engine.linksAhead };
    for (const runId of await Promise.all(Array.from({ length: 4 }, () => h.run(yaml)))) {
      const db = h.tutti.database.db;
      assert.equal((await getRun(db, runId))!.state, 'succeeded');
      const last = (await runAssets(db, runId)).find((a) => a.taskId === `a${n - 1}` && a.name === 'stdout')!;
      assert.equal(await h.text(last), '6765\n');
      assert.equal((await runAttempts(db, runId)).length, n + 1);
    }
    // Per run: f goes with the first AHEAD links behind it, the next one with the last 3.
    assert.equal(h.tutti.engine.linksAhead.taken - before.taken, 4 * (n - 1));
    assert.equal(h.tutti.engine.linksAhead.notTaken - before.notTaken, 0);
  });

  it('stops the links of a chain run ahead when their run is cancelled', { timeout: 30_000 }, async () => {
    // Links of fib(41), ~1 s of CPU each, run ahead in a worker behind a quick first task. Cancelled
    // while the first of them runs, they stop: this process then has no CPU to spend on them.
    const links = Array.from({ length: 5 }, (_, i) => `  - { id: l${i + 1}, component: ${module('fib')}, params: { n: 41 }, needs: [l${i}] }`);
    const runId = await h.start(`id: stopped-chain\ntasks:\n  - { id: l0, component: ${module('fib')}, params: { n: 1 } }\n${links.join('\n')}\n`);
    const t0 = Date.now();
    while ((await getTaskRuns(h.tutti.database.db, runId)).find((t) => t.taskId === 'l1')?.state !== 'running' && Date.now() - t0 < 10_000) {
      await new Promise((r) => setTimeout(r, 20));
    }
    h.tutti.engine.report(await cancelRun(h.tutti.database.db, runId, 'cancelled by the test'));
    assert.equal((await h.tutti.engine.waitForRun(runId)).state, 'cancelled');
    const cpu0 = process.cpuUsage();
    await new Promise((r) => setTimeout(r, 2000));
    const cpu = process.cpuUsage(cpu0);
    // Unstopped, the links would keep a worker busy for ~5 s: about 2,000 ms of CPU in these 2 s.
    assert.ok((cpu.user + cpu.system) / 1000 < 800, `${Math.round((cpu.user + cpu.system) / 1000)} ms of CPU in 2 s after the cancel`);
  });

  it('plans a task run only if every input it names is in the store when the plan commits', { timeout: 30_000 }, async () => {
    // A scheduler may plan from outputs it was told of before their commit ran; one that never
    // counted (its attempt lost the lease) must not become an input.
    const db = h.tutti.database.db;
    const id = await h.start(`id: late
tasks:
  - { id: first, component: ${module('sleep')}, env: { SLEEP_MS: "2000" } }
  - { id: then, component: ${module('fib')}, params: { n: 3 }, needs: [first] }
`);
    const plan = (inputs: string[]) =>
      planTaskRun(db, { runId: id, taskRunId: `${id}.then`, taskId: 'then', inputs, policy: 'single', partitions: [{ index: 0, count: 1, slices: [] }] });
    assert.deepEqual(await plan(['a-never-written']), []);
    assert.equal((await getTaskRuns(db, id)).find((t) => t.taskId === 'then')!.state, 'pending');
    await h.tutti.engine.waitForRun(id);
    assert.equal((await getRun(db, id))!.state, 'succeeded');
  });

  it('finds the capped task runs every claim looks at through an index, not a scan of every task run ever', async () => {
    const { sql, params } = cappedTaskRuns(h.tutti.database.db).toSQL();
    const plan = await h.tutti.database.client.execute({ sql: `EXPLAIN QUERY PLAN ${sql}`, args: params as never });
    assert.match(plan.rows.map((r) => String(r.detail)).join('\n'), /USING INDEX task_runs_capped/);
  });

  it('completes a group of instances with one pass over the group: each instance looked up by primary key', async () => {
    const success = (i: number): Success => ({
      record: { instance: { id: `i${i}`, attempt: 1, taskRunId: 'r.t', runId: 'r', idx: i } as Success['record']['instance'], taskId: 't', worker: 'w', log: '', startedAt: 0 },
      outputs: [],
    });
    const { sql, params } = (completeStep([success(0), success(1)]).items[0] as TextStatement).getQuery();
    // On a connection of its own: libSQL leaves the explained UPDATE in progress, and the
    // connection could not commit again.
    const client = createClient({ url: `file:${h.tutti.database.url}` });
    const plan = (await client.execute({ sql: `EXPLAIN QUERY PLAN ${sql}`, args: params as never })).rows.map((r) => String(r.detail));
    client.close();
    // The outer loop is the list; the only other step is the primary-key search. A list scanned
    // again inside it made a group of 200 cost 200 times what it should.
    assert.equal(plan.length, 2, plan.join('\n'));
    assert.match(plan[0]!, /^SCAN (k|json_each) VIRTUAL TABLE/);
    assert.match(plan[1]!, /^SEARCH instances USING INDEX sqlite_autoindex_instances_1 \(id=\?\)$/);
  });

  it('publishes each event as stored: same ids, types, tasks and data as the event log', async () => {
    const seen: EventRow[] = [];
    const off = h.tutti.engine.onEvent((e) => seen.push(e));
    const text = h.file('chain.txt', Array.from({ length: 400 }, (_, i) => `word${i} and more\n`).join(''));
    // A chain (each step commits the outcome and the next plan together) with a fan-out in the middle.
    const split = path.join(h.dir, 'split-wordcount.wasm');
    writeFileSync(split, embedManifest(readFileSync(module('wordcount')), { split: 'lines', per: '1KiB', max: 100 }));
    const runId = await h.run(
      `id: chain
inputs: { text: {} }
tasks:
  - { id: first, component: ${module('wordcount')}, inputs: [text] }
  - { id: parts, component: ${split}, inputs: [text], needs: [first] }
  - { id: total, component: ${module('sum')}, needs: [parts] }
`,
      { text },
    );
    off();
    const db = h.tutti.database.db;
    assert.equal((await getRun(db, runId))!.state, 'succeeded');
    const stored = await runEvents(db, runId);
    const published = seen.filter((e) => e.runId === runId).sort((a, b) => a.id - b.id);
    assert.deepEqual(
      published.map((e) => ({ ...e, data: e.data ?? null })),
      stored.map((e) => ({ ...e, data: e.data ?? null })),
    );
    assert.ok(stored.some((e) => e.type === 'task-succeeded' && e.taskId === 'total'));
    assert.ok((await getTaskRuns(db, runId)).find((t) => t.taskId === 'parts')!.instanceCount! > 1, 'the middle task fanned out');
  });

  it('retries a failing task with backoff, then fails the run with its message and skips downstream', async () => {
    const runId = await h.run(`id: failing
tasks:
  - id: flaky
    component: ${module('fail')}
    env: { EXIT_CODE: "3" }
    retry: { attempts: 3, backoff: exponential, delay: 50ms }
  - id: after
    component: ${module('wordcount')}
    needs: [flaky]
  - id: unrelated
    component: ${module('counter')}
`);
    const db = h.tutti.database.db;
    const run = (await getRun(db, runId))!;
    assert.equal(run.state, 'failed');
    assert.equal(run.error, 'task "flaky" failed: instance 0 failed after 3 attempt(s): exited: exited with code 3');
    const trs = Object.fromEntries((await getTaskRuns(db, runId)).map((t) => [t.taskId, t]));
    assert.equal(trs.flaky!.state, 'failed');
    assert.equal(trs.after!.state, 'skipped');
    assert.equal(trs.after!.error, 'upstream task "flaky" failed');
    assert.equal(trs.unrelated!.state, 'succeeded', 'an independent branch still runs');
    const [inst] = await taskRunInstances(db, trs.flaky!.id);
    const attempts = await instanceAttempts(db, inst!.id);
    assert.deepEqual(attempts.map((a) => [a.attempt, a.outcome, a.errorKind]), [
      [1, 'failed', 'exited'],
      [2, 'failed', 'exited'],
      [3, 'failed', 'exited'],
    ]);
    assert.match(attempts[0]!.log, /giving up with code 3/);
    // exponential backoff: ≥50 ms before attempt 2, ≥100 ms before attempt 3
    assert.ok(attempts[1]!.startedAt - attempts[0]!.finishedAt >= 50);
    assert.ok(attempts[2]!.startedAt - attempts[1]!.finishedAt >= 100);
    assert.equal(inst!.errorKind, 'exited');
  });

  it('succeeds when a retry succeeds, keeping the failed attempts on record', async () => {
    const input = h.file('in.txt', 'carried through\n');
    const runId = await h.run(
      `id: flaky-ok
inputs: { text: {} }
tasks:
  - id: flaky
    component: ${module('fail')}
    inputs: [text]
    env: { SUCCEED_ON_ATTEMPT: "2" }
    retry: { attempts: 3, backoff: fixed, delay: 10ms }
`,
      { text: input },
    );
    const db = h.tutti.database.db;
    assert.equal((await getRun(db, runId))!.state, 'succeeded');
    const attempts = await runAttempts(db, runId);
    assert.deepEqual(attempts.map((a) => a.outcome), ['failed', 'succeeded']);
    const out = (await runAssets(db, runId)).find((a) => a.taskId === 'flaky')!;
    assert.equal(await h.text(out), 'carried through\n');
  });

  it('does not retry a permanent task error', async () => {
    const bad = h.file('bad.txt', '1 2 three\n');
    const runId = await h.run(
      `id: permanent
inputs: { nums: {} }
tasks:
  - id: total
    component: ${module('sum')}
    inputs: [nums]
    retry: { attempts: 5, delay: 10ms }
`,
      { nums: bad },
    );
    const db = h.tutti.database.db;
    const run = (await getRun(db, runId))!;
    assert.equal(run.state, 'failed');
    assert.match(run.error!, /after 1 attempt\(s\): task-error: input "nums" at offset 4: "three" is not an integer/);
    assert.equal((await runAttempts(db, runId)).length, 1);
  });

  it('keeps small outputs in their rows and larger ones as files, and reads both downstream', async () => {
    const big = `${Array.from({ length: 4000 }, (_, i) => `w${i}`).join(' ')}\n`;
    const small = 'one two three\n';
    assert.ok(big.length > INLINE_OUTPUT_BYTES);
    const runId = await h.run(
      `id: inline
inputs: { big: {}, small: {} }
tasks:
  - { id: copy-big, component: ${module('sleep')}, inputs: [big], env: { SLEEP_MS: "0" } }
  - { id: copy-small, component: ${module('sleep')}, inputs: [small], env: { SLEEP_MS: "0" } }
  - { id: count, component: ${module('wordcount')}, needs: [copy-big, copy-small] }
`,
      { big: h.file('big.txt', big), small: h.file('small.txt', small) },
    );
    const db = h.tutti.database.db;
    assert.equal((await getRun(db, runId))!.state, 'succeeded');
    const assets = await runAssets(db, runId);
    const of = (task: string) => assets.find((a) => a.taskId === task)!;
    const [bigOut, smallOut, counted] = [of('copy-big'), of('copy-small'), of('count')];
    const onDisk = (a: AssetRow) => existsSync(h.tutti.assets.localPath(a.location));
    assert.deepEqual([bigOut.inline, onDisk(bigOut)], [false, true]);
    assert.deepEqual([smallOut.inline, onDisk(smallOut), counted.inline, onDisk(counted)], [true, false, true, false]);
    assert.equal(await h.text(bigOut), big);
    assert.equal(await h.text(smallOut), small);
    assert.equal(await h.text(counted), `${countWords(big) + countWords(small)}\n`);

    // Past what a task run keeps in hand, inline inputs are written out as files, byte for byte.
    const ready = await inputsInHand(db, h.tutti.assets, [bigOut, smallOut, counted], small.length);
    assert.ok(ready[1]!.content!.buffer instanceof SharedArrayBuffer, 'kept in hand, in one shared buffer');
    assert.equal(Buffer.from(ready[1]!.content!).toString('utf8'), small);
    assert.equal(ready[2]!.content, undefined);
    assert.equal(readFileSync(h.tutti.assets.localPath(counted.location), 'utf8'), await h.text(counted));
    assert.equal(ready[0], bigOut);
  });

  it('runs independent tasks in parallel', async () => {
    const runId = await h.run(`id: parallel
tasks:
  - { id: s1, component: ${module('sleep')}, env: { SLEEP_MS: "400" } }
  - { id: s2, component: ${module('sleep')}, env: { SLEEP_MS: "400" } }
`);
    const db = h.tutti.database.db;
    const insts = (await Promise.all((await getTaskRuns(db, runId)).map((t) => taskRunInstances(db, t.id)))).flat();
    assert.equal(insts.length, 2);
    // both were running at the same time: each started before the other finished
    const [x, y] = insts as [(typeof insts)[0], (typeof insts)[0]];
    assert.ok(x.startedAt! < y.finishedAt! && y.startedAt! < x.finishedAt!, 'the two instances overlapped');
  });

  it('runs a wide flow: a fan-out and fan-in of 1,500 tasks beside 1,500 independent ones', { timeout: 180_000 }, async () => {
    // Planning once cost the square of a flow's width (each task end read every task run and
    // scanned every task's needs): 10,000 tasks took 154 s. Now a task end costs its dependents;
    // the time is not asserted (machines are noisy), the bench is bench/wide-child.ts.
    const n = 1500;
    const counter = module('counter');
    const lines = [`  - { id: root, component: ${counter} }`];
    for (let i = 0; i < n; i++) lines.push(`  - { id: m${i}, component: ${counter}, needs: [root] }`, `  - { id: s${i}, component: ${counter} }`);
    lines.push(`  - { id: sink, component: ${module('add')}, needs: [${Array.from({ length: n }, (_, i) => `m${i}`).join(', ')}] }`);
    const runId = await h.run(`id: wide\ntasks:\n${lines.join('\n')}\n`);
    const db = h.tutti.database.db;
    assert.equal((await getRun(db, runId))!.state, 'succeeded');
    const trs = await getTaskRuns(db, runId);
    assert.equal(trs.length, 2 * n + 2);
    assert.deepEqual(trs.filter((t) => t.state !== 'succeeded').map((t) => `${t.taskId}: ${t.state}`), []);
    // The sink read every middle task's output ("1\n"), and only those.
    const sink = trs.find((t) => t.taskId === 'sink')!;
    assert.equal(sink.inputs!.length, n);
    assert.equal(await h.text((await runAssets(db, runId)).find((a) => a.taskId === 'sink' && a.name === 'stdout')!), `${n}\n`);
  });

  it('plans a task that plans for itself once the last of several tasks it needs ends', { timeout: 30_000 }, async () => {
    // Left to the usual pass (its plan is a sandbox call), it was taken as handled: the run stalled.
    const runId = await h.start(`id: plans-late
tasks:
  - { id: quick, component: ${module('fib')}, params: { n: 1 } }
  - { id: slow, component: ${module('sleep')}, env: { SLEEP_MS: "300" } }
  - { id: parts, component: ${module('split-sum')}, needs: [quick, slow] }
`);
    const ended = await Promise.race([h.tutti.engine.waitForRun(runId), new Promise<undefined>((r) => setTimeout(() => r(undefined), 15_000).unref())]);
    assert.equal(ended?.state, 'succeeded', 'the run ended');
  });
});

describe('group commit', () => {
  let h: Harness;
  before(async () => (h = await harness()));
  after(() => h.close());

  it('batches queued together each get their own results, and one that fails does not take the others with it', async () => {
    const db = h.tutti.database.db;
    const put = (name: string) => db.insert(cursors).values({ name, eventId: 1 }).returning({ name: cursors.name });
    // Queued in one turn of the event loop: they go to the store as one transaction first.
    const [a, bad, c] = await Promise.allSettled([
      atomically(db, [put('group-a1'), put('group-a2')]),
      atomically(db, [put('group-b'), put('group-b')]), // the second insert breaks the primary key
      atomically(db, [put('group-c')]),
    ]);
    assert.deepEqual(a.status === 'fulfilled' && a.value, [[{ name: 'group-a1' }], [{ name: 'group-a2' }]]);
    assert.equal(bad.status, 'rejected');
    assert.deepEqual(c.status === 'fulfilled' && c.value, [[{ name: 'group-c' }]]);
    const names = (await db.select({ name: cursors.name }).from(cursors)).map((r) => r.name).filter((n) => n.startsWith('group-'));
    assert.deepEqual(names.sort(), ['group-a1', 'group-a2', 'group-c'], 'the failed batch wrote nothing, the others everything');
  });
});

describe('run progress kept between task ends', () => {
  const task = (id: string, needs: string[] = []) => ({ id, needs }) as unknown as TaskSpec;
  // a and b, then c needing both (b twice), then d after c.
  const spec = { tasks: [task('a'), task('b'), task('c', ['a', 'b', 'b']), task('d', ['c'])] } as unknown as FlowSpec;

  it('counts the needs each task still waits for, from states read once and the ends that follow', () => {
    const graph = graphOf(spec);
    assert.deepEqual(graph.dependents('b').map((t) => t.id), ['c']);
    assert.equal(graph.sinks, 1);
    const view = new RunView(graph, [{ taskId: 'a', state: 'succeeded' }, { taskId: 'b', state: 'running' }, { taskId: 'c', state: 'pending' }, { taskId: 'd', state: 'pending' }], 7);
    assert.equal(view.open, 3);
    assert.equal(view.ready('c'), false);
    view.end('b', 'succeeded');
    view.end('b', 'succeeded');
    assert.equal(view.open, 2, 'an end counts once');
    assert.equal(view.ready('c'), true);
    view.planned.add('c');
    assert.equal(view.ready('c'), false, 'planned once');
    assert.equal(view.apply([{ id: 9, taskId: 'c', type: 'task-succeeded' }, { id: 10, taskId: 'd', type: 'task-planned' }]), true);
    assert.equal(view.lastEventId, 10);
    assert.equal(view.ready('d'), true);
    view.end('d', 'failed');
    assert.deepEqual([view.open, view.unhappy], [0, 1]);
    assert.equal(view.apply([{ id: 11, taskId: null, type: 'run-retried' }]), false, 'a retried run is read again');
  });
});
