/** Cancelling a run and re-opening the failed part of a finished one. */
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from './db.js';
import { atomically, eventRows, guardedEvents, newToken, returned, type Statement } from './batch.js';
import type { EventRow } from './events.js';
import { fromDrizzle } from './statement.js';
import { instances, runs, taskRuns } from './schema.js';

export class RunStateError extends Error {
  constructor(
    message: string,
    readonly state: string,
  ) {
    super(message);
    this.name = 'RunStateError';
  }
}

/**
 * Cancel a queued or running run: its unfinished task runs and instances become cancelled, running
 * attempts are recorded as cancelled and lose their lease, so a result arriving later is dropped.
 * Returns the events (empty when the run had already finished). One batch: the run's move writes a
 * token, and every other statement acts only where it finds it.
 */
export async function cancelRun(db: Db, runId: string, reason: string): Promise<EventRow[]> {
  const now = Date.now();
  const token = newToken();
  const mine = sql`EXISTS (SELECT 1 FROM runs WHERE id = ${runId} AND step_token = ${token})`;
  const cancelled = guardedEvents([{ runId, type: 'run-cancelled', data: { error: reason } }], fromDrizzle(db, mine));
  const results = await atomically(db, [
    db
      .update(runs)
      .set({ state: 'cancelled', error: reason, finishedAt: now, stepToken: token })
      .where(and(eq(runs.id, runId), inArray(runs.state, ['queued', 'running']))),
    // Recorded before the instances change: these are the attempts running now.
    db.run(sql`INSERT INTO attempts (instance_id, attempt, worker, outcome, error_kind, error, log, started_at, finished_at)
      SELECT id, attempt, '-', 'cancelled', 'cancelled', ${reason}, '', coalesce(started_at, ${now}), ${now} FROM instances
      WHERE run_id = ${runId} AND state = 'running' AND ${mine}
      ON CONFLICT DO NOTHING`),
    db
      .update(instances)
      .set({ state: 'cancelled', finishedAt: now, leaseOwner: null, leaseExpiresAt: null, errorKind: 'cancelled', error: reason })
      .where(and(eq(instances.runId, runId), eq(instances.state, 'running'), mine)),
    db.update(instances).set({ state: 'cancelled', finishedAt: now }).where(and(eq(instances.runId, runId), eq(instances.state, 'pending'), mine)),
    db
      .update(taskRuns)
      .set({ state: 'cancelled', error: reason, finishedAt: now, stepToken: token })
      .where(and(eq(taskRuns.runId, runId), inArray(taskRuns.state, ['pending', 'running']), mine)),
    db.all(sql`INSERT INTO events (run_id, task_id, type, data, created_at)
      SELECT run_id, task_id, 'task-cancelled', json_object('reason', ${reason}), ${now} FROM task_runs WHERE run_id = ${runId} AND step_token = ${token} ORDER BY rowid
      RETURNING id, run_id, task_id, type, data, created_at`) as unknown as Statement,
    cancelled.statement,
  ]);
  return [...eventRows(results[5]), ...cancelled.rows(results[6])];
}

/**
 * Re-open a failed or cancelled run for its unfinished part: succeeded task runs and instances stay
 * as they are; failed and cancelled instances go back to pending (their attempt history is kept);
 * task runs that never planned are planned again. The run is queued again and keeps its id.
 */
export async function retryRun(db: Db, runId: string): Promise<EventRow[]> {
  const refuse = (run: { state: string } | undefined) => {
    if (!run) return new RunStateError(`no run ${runId}`, 'missing');
    return new RunStateError(`run ${runId} is ${run.state}: only a failed or cancelled run can be retried`, run.state);
  };
  const before = await db.query.runs.findFirst({ where: eq(runs.id, runId) });
  if (!before || (before.state !== 'failed' && before.state !== 'cancelled')) throw refuse(before);
  const now = Date.now();
  const token = newToken();
  const mine = sql`EXISTS (SELECT 1 FROM runs WHERE id = ${runId} AND step_token = ${token})`;
  const unfinished = and(eq(taskRuns.runId, runId), inArray(taskRuns.state, ['failed', 'cancelled', 'skipped']), mine);
  const results = await atomically(db, [
    db
      .update(runs)
      .set({ state: 'queued', error: null, finishedAt: null, stepToken: token })
      .where(and(eq(runs.id, runId), inArray(runs.state, ['failed', 'cancelled'])))
      .returning({ id: runs.id }),
    // Task runs with instances resume them; those that never got instances (skipped, cancelled
    // before planning, or whose plan failed) are planned again from their inputs as they are now.
    db
      .update(taskRuns)
      .set({ state: 'running', error: null, finishedAt: null, stepToken: token })
      .where(and(unfinished, sql`${taskRuns.instanceCount} > 0`)),
    db
      .update(taskRuns)
      .set({ state: 'pending', error: null, startedAt: null, finishedAt: null, instanceCount: null, policy: null, inputs: null, stepToken: token })
      .where(and(unfinished, sql`coalesce(${taskRuns.instanceCount}, 0) = 0`)),
    db
      .update(instances)
      .set({ state: 'pending', availableAt: now, finishedAt: null, errorKind: null, error: null, progress: 0 })
      .where(
        and(
          sql`${instances.taskRunId} IN (SELECT id FROM task_runs WHERE run_id = ${runId} AND state = 'running' AND step_token = ${token})`,
          inArray(instances.state, ['failed', 'cancelled']),
        ),
      ),
    db.all(sql`INSERT INTO events (run_id, task_id, type, data, created_at)
      SELECT ${runId}, NULL, 'run-retried',
        json_object('tasks', json((SELECT json_group_array(task_id) FROM (SELECT task_id FROM task_runs WHERE run_id = ${runId} AND step_token = ${token} ORDER BY state = 'pending', rowid)))), ${now}
      WHERE ${mine}
      RETURNING id, run_id, task_id, type, data, created_at`) as unknown as Statement,
  ]);
  // Another caller moved the run between the read and the batch.
  if (!returned(results[0]).length) throw refuse(await db.query.runs.findFirst({ where: eq(runs.id, runId) }));
  return eventRows(results[4]);
}
