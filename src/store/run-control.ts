/** Cancelling a run and re-opening the failed part of a finished one. */
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from './db.js';
import { insertEvents, type EventRow, type NewEvent } from './events.js';
import { attempts, instances, runs, taskRuns } from './schema.js';

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
 * Returns the events (empty when the run had already finished).
 */
export async function cancelRun(db: Db, runId: string, reason: string): Promise<EventRow[]> {
  return db.transaction(async (tx) => {
    const now = Date.now();
    const done = await tx
      .update(runs)
      .set({ state: 'cancelled', error: reason, finishedAt: now })
      .where(and(eq(runs.id, runId), inArray(runs.state, ['queued', 'running'])))
      .returning({ id: runs.id });
    if (!done.length) return [];
    const running = await tx
      .update(instances)
      .set({ state: 'cancelled', finishedAt: now, leaseOwner: null, leaseExpiresAt: null, errorKind: 'cancelled', error: reason })
      .where(and(eq(instances.runId, runId), eq(instances.state, 'running')))
      .returning({ id: instances.id, attempt: instances.attempt, startedAt: instances.startedAt });
    if (running.length) {
      await tx
        .insert(attempts)
        .values(running.map((i) => ({ instanceId: i.id, attempt: i.attempt, worker: '-', outcome: 'cancelled' as const, errorKind: 'cancelled', error: reason, startedAt: i.startedAt ?? now, finishedAt: now })))
        .onConflictDoNothing();
    }
    await tx.update(instances).set({ state: 'cancelled', finishedAt: now }).where(and(eq(instances.runId, runId), eq(instances.state, 'pending')));
    const tasks = await tx
      .update(taskRuns)
      .set({ state: 'cancelled', error: reason, finishedAt: now })
      .where(and(eq(taskRuns.runId, runId), inArray(taskRuns.state, ['pending', 'running'])))
      .returning({ taskId: taskRuns.taskId });
    const ev: NewEvent[] = tasks.map((t) => ({ runId, taskId: t.taskId, type: 'task-cancelled', data: { reason } }));
    ev.push({ runId, type: 'run-cancelled', data: { error: reason } });
    return insertEvents(tx, ev);
  });
}

/**
 * Re-open a failed or cancelled run for its unfinished part: succeeded task runs and instances stay
 * as they are; failed and cancelled instances go back to pending (their attempt history is kept);
 * task runs that never planned are planned again. The run is queued again and keeps its id.
 */
export async function retryRun(db: Db, runId: string): Promise<EventRow[]> {
  return db.transaction(async (tx) => {
    const run = await tx.query.runs.findFirst({ where: eq(runs.id, runId) });
    if (!run) throw new RunStateError(`no run ${runId}`, 'missing');
    if (run.state !== 'failed' && run.state !== 'cancelled') {
      throw new RunStateError(`run ${runId} is ${run.state}: only a failed or cancelled run can be retried`, run.state);
    }
    const now = Date.now();
    await tx.update(runs).set({ state: 'queued', error: null, finishedAt: null }).where(eq(runs.id, runId));
    const unfinished = and(eq(taskRuns.runId, runId), inArray(taskRuns.state, ['failed', 'cancelled', 'skipped']));
    // Task runs with instances resume them; those that never got instances (skipped, cancelled
    // before planning, or whose plan failed) are planned again from their inputs as they are now.
    const resumed = await tx
      .update(taskRuns)
      .set({ state: 'running', error: null, finishedAt: null })
      .where(and(unfinished, sql`${taskRuns.instanceCount} > 0`))
      .returning({ id: taskRuns.id, taskId: taskRuns.taskId });
    const replanned = await tx
      .update(taskRuns)
      .set({ state: 'pending', error: null, startedAt: null, finishedAt: null, instanceCount: null, policy: null, inputs: null })
      .where(and(unfinished, sql`coalesce(${taskRuns.instanceCount}, 0) = 0`))
      .returning({ id: taskRuns.id, taskId: taskRuns.taskId });
    if (resumed.length) {
      await tx
        .update(instances)
        .set({ state: 'pending', availableAt: now, finishedAt: null, errorKind: null, error: null, progress: 0 })
        .where(and(inArray(instances.taskRunId, resumed.map((t) => t.id)), inArray(instances.state, ['failed', 'cancelled'])));
    }
    return insertEvents(tx, [
      { runId, type: 'run-retried', data: { tasks: [...resumed, ...replanned].map((t) => t.taskId) } },
    ]);
  });
}
