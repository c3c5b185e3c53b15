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
