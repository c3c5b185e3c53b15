/**
 * Commits that fail because the database cannot grow (SQLITE_FULL), through the real store: the
 * database file gets a page limit (`PRAGMA max_page_count` on the server's own connection), so
 * SQLite itself refuses every write that needs a new page, as it does on a full disk. Once the
 * limit is raised, what failed must be committed without a restart, and the run end consistent.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runEvents } from '../src/store/events.js';
import { instanceAttempts, taskRunInstances } from '../src/store/instances.js';
import { getRun, getTaskRuns, taskOutputAssets } from '../src/store/runs.js';
import { harness, module, type Harness } from './helpers.js';

const NO_LIMIT = 1073741823;

/** Let the database grow by at most `pages` pages from now on. */
async function limitGrowth(h: Harness, pages: number): Promise<void> {
  const client = h.tutti.database.client;
  const count = Number((await client.execute('PRAGMA page_count')).rows[0]![0]);
  const max = Number((await client.execute(`PRAGMA max_page_count = ${count + pages}`)).rows[0]![0]);
  assert.equal(max, count + pages);
}

async function state(h: Harness, runId: string) {
  const db = h.tutti.database.db;
  return { run: (await getRun(db, runId))!.state, tasks: Object.fromEntries((await getTaskRuns(db, runId)).map((t) => [t.taskId, t.state])) };
}

async function waitForEnd(h: Harness, runId: string, ms: number): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const run = (await getRun(h.tutti.database.db, runId))!;
    if (!['queued', 'running'].includes(run.state)) return run.state;
    if (Date.now() > end) throw new Error(`run ${runId} still ${run.state} ${ms} ms after the disk had room again: ${JSON.stringify(await state(h, runId))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function attemptsOf(h: Harness, runId: string, taskId: string) {
  const db = h.tutti.database.db;
  const [inst] = await taskRunInstances(db, `${runId}.${taskId}`);
  return (await instanceAttempts(db, inst!.id)).map((a) => a.outcome);
}

async function eventTypes(h: Harness, runId: string) {
  return (await runEvents(h.tutti.database.db, runId)).map((e) => (e.taskId ? `${e.taskId}: ${e.type}` : e.type));
}

describe('a full disk', () => {
  it("a failed attempt whose failure cannot be committed: recorded once there is room, and its run fails, with no restart", { timeout: 60_000 }, async () => {
    const h = await harness({ workers: 1 });
    try {
      // It fails at once with 256 KiB of log, whose commit needs ~64 new pages; what comes
      // before it (saving the flow, starting the run) fits in the 30 left.
      await limitGrowth(h, 30);
      const runId = await h.start(`id: flood
tasks:
  - { id: flood, component: ${module('adv-log-flood')} }
`);
      await new Promise((r) => setTimeout(r, 2500));
      assert.deepEqual(await state(h, runId), { run: 'running', tasks: { flood: 'running' } });
      await limitGrowth(h, NO_LIMIT);
      assert.equal(await waitForEnd(h, runId, 10_000), 'failed');
      assert.deepEqual(await state(h, runId), { run: 'failed', tasks: { flood: 'failed' } });
      assert.deepEqual(await attemptsOf(h, runId, 'flood'), ['failed']);
      const [attempt] = await instanceAttempts(h.tutti.database.db, `${runId}.flood.0`);
      assert.equal(attempt!.errorKind, 'output-limit');
      assert.ok(attempt!.log.length > 200_000, `the log was kept (${attempt!.log.length} characters)`);
      assert.deepEqual(await eventTypes(h, runId), ['run-created', 'run-started', 'flood: task-planned', 'flood: instance-failed', 'flood: task-failed', 'run-failed']);
    } finally {
      await h.close();
    }
  });

  it('a success whose commit fails is committed once there is room, not turned into a failure', { timeout: 60_000 }, async () => {
    const h = await harness({ workers: 1 });
    try {
      // 12 KiB of output, kept in its row: the commit of the success needs new pages.
      const text = 'word '.repeat(2400);
      const runId = await h.start(
        `id: copy
inputs: { text: {} }
tasks:
  - { id: copy, component: ${module('sleep')}, inputs: [text], env: { SLEEP_MS: "1000" } }
  - { id: count, component: ${module('wordcount')}, needs: [copy] }
`,
        { text: h.file('text.txt', text) },
      );
      await limitGrowth(h, 0);
      await new Promise((r) => setTimeout(r, 2500));
      assert.deepEqual(await state(h, runId), { run: 'running', tasks: { copy: 'running', count: 'pending' } });
      await limitGrowth(h, NO_LIMIT);
      assert.equal(await waitForEnd(h, runId, 10_000), 'succeeded');
      assert.deepEqual(await attemptsOf(h, runId, 'copy'), ['succeeded']);
      assert.deepEqual(await attemptsOf(h, runId, 'count'), ['succeeded']);
      const [copied] = await taskOutputAssets(h.tutti.database.db, runId, ['copy']);
      assert.equal(await h.text(copied!), text);
      const [counted] = await taskOutputAssets(h.tutti.database.db, runId, ['count']);
      assert.equal((await h.text(counted!)).trim(), '2400');
    } finally {
      await h.close();
    }
  });

  it('what was started ahead of a commit that failed is stopped, and never passes for what is planned again', { timeout: 60_000 }, async () => {
    const h = await harness({ workers: 2 });
    try {
      const client = h.tutti.database.client;
      // The commit of a's success, which also plans b, is the one that needs many pages. b is
      // leased with its plan and starts before that commit (and right after a, in a's worker); the
      // plan planned again once there is room leases this process the same instance and attempt.
      await client.execute(`CREATE TEMP TRIGGER heavy_a AFTER UPDATE OF state ON main.task_runs
        WHEN NEW.task_id = 'a' AND NEW.state = 'succeeded' BEGIN INSERT INTO cursors (name, event_id) VALUES (hex(randomblob(300000)), 0); END`);
      await limitGrowth(h, 40);
      // 20 KiB: b's output is a file, at the same path for both of b's first attempts.
      const text = 'word '.repeat(4000);
      const runId = await h.start(
        `id: chain
inputs: { text: {} }
tasks:
  - { id: a, component: ${module('sleep')}, inputs: [text], env: { SLEEP_MS: "200" } }
  - { id: b, component: ${module('sleep')}, needs: [a], env: { SLEEP_MS: "1500" } }
`,
        { text: h.file('text.txt', text) },
      );
      await new Promise((r) => setTimeout(r, 700));
      assert.deepEqual(await state(h, runId), { run: 'running', tasks: { a: 'running', b: 'pending' } });
      await client.execute('DROP TRIGGER heavy_a');
      await limitGrowth(h, NO_LIMIT);
      assert.equal(await waitForEnd(h, runId, 10_000), 'succeeded');
      assert.deepEqual(await attemptsOf(h, runId, 'a'), ['succeeded']);
      assert.deepEqual(await attemptsOf(h, runId, 'b'), ['succeeded']);
      // Let an attempt of b that should not have counted end, and do what it does then.
      await new Promise((r) => setTimeout(r, 2500));
      const [out] = await taskOutputAssets(h.tutti.database.db, runId, ['b']);
      assert.equal(await h.text(out!), text);
    } finally {
      await h.close();
    }
  });

  it("a run whose end cannot be committed ends once there is room, with no restart", { timeout: 60_000 }, async () => {
    const h = await harness({ workers: 1 });
    try {
      const client = h.tutti.database.client;
      // Only the run's end needs many pages: a trigger on this connection writes 600 KB with it.
      // Everything else fits in the 40 pages the database may still grow by.
      await client.execute(`CREATE TEMP TRIGGER heavy_end AFTER UPDATE OF state ON main.runs
        WHEN NEW.state IN ('succeeded', 'failed') BEGIN INSERT INTO cursors (name, event_id) VALUES (hex(randomblob(300000)), 0); END`);
      await limitGrowth(h, 40);
      const runId = await h.start(`id: fails
tasks:
  - { id: fail, component: ${module('fail')} }
`);
      await new Promise((r) => setTimeout(r, 2500));
      assert.deepEqual(await state(h, runId), { run: 'running', tasks: { fail: 'failed' } });
      await client.execute('DROP TRIGGER heavy_end');
      await limitGrowth(h, NO_LIMIT);
      assert.equal(await waitForEnd(h, runId, 10_000), 'failed');
      assert.deepEqual(await eventTypes(h, runId), ['run-created', 'run-started', 'fail: task-planned', 'fail: instance-failed', 'fail: task-failed', 'run-failed']);
    } finally {
      await h.close();
    }
  });
});
