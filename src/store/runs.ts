/** Runs, task runs and their assets: creating runs, planning tasks, finishing runs. */
import { and, asc, eq, inArray, isNull } from 'drizzle-orm';
import type { Partition } from '../runtime/protocol.js';
import type { Db } from './db.js';
import { insertEvents, type EventRow, type NewEvent } from './events.js';
import { assets, instances, runs, taskRuns, type RunState } from './schema.js';

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export type DbOrTx = Db | Tx;

export interface NewAsset {
  id: string;
  name: string;
  location: string;
  size: number;
  sha256: string;
  mediaType: string;
}

export type RunRow = typeof runs.$inferSelect;
export type TaskRunRow = typeof taskRuns.$inferSelect;
export type AssetRow = typeof assets.$inferSelect;

export async function createRun(
  db: Db,
  run: { id: string; flowId: string; revision: number; params: Record<string, unknown>; trigger: string; taskIds: string[]; inputs: NewAsset[] },
): Promise<EventRow[]> {
  return db.transaction(async (tx) => {
    const now = Date.now();
    await tx.insert(runs).values({ id: run.id, flowId: run.flowId, revision: run.revision, state: 'queued', params: run.params, trigger: run.trigger, createdAt: now });
    await tx.insert(taskRuns).values(run.taskIds.map((taskId) => ({ id: `${run.id}.${taskId}`, runId: run.id, taskId, state: 'pending' as const })));
    if (run.inputs.length) {
      await tx.insert(assets).values(run.inputs.map((a) => ({ ...a, runId: run.id, taskId: null, instanceIdx: null, createdAt: now })));
    }
    return insertEvents(tx, [{ runId: run.id, type: 'run-created', data: { flowId: run.flowId, revision: run.revision, trigger: run.trigger } }]);
  });
}

export async function activeRunIds(db: Db): Promise<string[]> {
  const rows = await db.select({ id: runs.id }).from(runs).where(inArray(runs.state, ['queued', 'running'])).orderBy(asc(runs.id));
  return rows.map((r) => r.id);
}

export async function getRun(db: Db, runId: string): Promise<RunRow | undefined> {
  return db.query.runs.findFirst({ where: eq(runs.id, runId) });
}

export async function getTaskRuns(db: Db, runId: string): Promise<TaskRunRow[]> {
  return db.select().from(taskRuns).where(eq(taskRuns.runId, runId));
}

export async function getTaskRun(db: Db, taskRunId: string): Promise<TaskRunRow | undefined> {
  return db.query.taskRuns.findFirst({ where: eq(taskRuns.id, taskRunId) });
}

export async function startRun(db: Db, runId: string): Promise<EventRow[]> {
  return db.transaction(async (tx) => {
    const rows = await tx.update(runs).set({ state: 'running', startedAt: Date.now() }).where(and(eq(runs.id, runId), eq(runs.state, 'queued'))).returning({ id: runs.id });
    return rows.length ? insertEvents(tx, [{ runId, type: 'run-started' }]) : [];
  });
}

export async function finishRun(db: Db, runId: string, state: Extract<RunState, 'succeeded' | 'failed' | 'cancelled'>, error: string | null): Promise<EventRow[]> {
  return db.transaction(async (tx) => {
    const rows = await tx
      .update(runs)
      .set({ state, error, finishedAt: Date.now() })
      .where(and(eq(runs.id, runId), inArray(runs.state, ['queued', 'running'])))
      .returning({ id: runs.id });
    return rows.length ? insertEvents(tx, [{ runId, type: `run-${state}`, data: error ? { error } : undefined }]) : [];
  });
}

/** The flow inputs given to a run (assets with no producing task). */
export async function runInputAssets(db: Db, runId: string): Promise<AssetRow[]> {
  return db.select().from(assets).where(and(eq(assets.runId, runId), isNull(assets.taskId)));
}

/** Every output of the given tasks in a run, ordered by task (as listed), instance, then name. */
export async function taskOutputAssets(db: Db, runId: string, taskIds: string[]): Promise<AssetRow[]> {
  if (!taskIds.length) return [];
  const rows = await db
    .select()
    .from(assets)
    .where(and(eq(assets.runId, runId), inArray(assets.taskId, taskIds)))
    .orderBy(asc(assets.instanceIdx), asc(assets.name));
  return taskIds.flatMap((t) => rows.filter((r) => r.taskId === t));
}

export async function assetsByIds(db: Db, ids: string[]): Promise<AssetRow[]> {
  const out: AssetRow[] = [];
  for (let i = 0; i < ids.length; i += 500) {
    out.push(...(await db.select().from(assets).where(inArray(assets.id, ids.slice(i, i + 500)))));
  }
  const byId = new Map(out.map((a) => [a.id, a]));
  return ids.map((id) => byId.get(id)!).filter(Boolean);
}

export async function runAssets(db: Db, runId: string): Promise<AssetRow[]> {
  return db.select().from(assets).where(eq(assets.runId, runId)).orderBy(asc(assets.taskId), asc(assets.instanceIdx), asc(assets.name));
}

/**
 * Move a pending task run to running with its instances. Idempotent: a second call (after a crash,
 * or from another server) finds the task run no longer pending and inserts nothing.
 */
export async function planTaskRun(
  db: Db,
  p: { runId: string; taskRunId: string; taskId: string; inputs: string[]; policy: string; partitions: Partition[]; concurrency?: number },
): Promise<EventRow[]> {
  return db.transaction(async (tx) => {
    const now = Date.now();
    const empty = p.partitions.length === 0;
    const rows = await tx
      .update(taskRuns)
      .set({
        state: empty ? 'succeeded' : 'running',
        inputs: p.inputs,
        instanceCount: p.partitions.length,
        policy: p.policy,
        concurrency: p.concurrency ?? null,
        startedAt: now,
        finishedAt: empty ? now : null,
      })
      .where(and(eq(taskRuns.id, p.taskRunId), eq(taskRuns.state, 'pending')))
      .returning({ id: taskRuns.id });
    if (!rows.length) return [];
    for (let i = 0; i < p.partitions.length; i += 500) {
      await tx
        .insert(instances)
        .values(
          p.partitions.slice(i, i + 500).map((part) => ({
            id: `${p.taskRunId}.${part.index}`,
            taskRunId: p.taskRunId,
            runId: p.runId,
            idx: part.index,
            state: 'pending' as const,
            partition: part,
            availableAt: now,
          })),
        )
        .onConflictDoNothing();
    }
    const events: NewEvent[] = [{ runId: p.runId, taskId: p.taskId, type: 'task-planned', data: { instances: p.partitions.length, policy: p.policy } }];
    if (empty) events.push({ runId: p.runId, taskId: p.taskId, type: 'task-succeeded' });
    return insertEvents(tx, events);
  });
}

export async function skipTaskRun(db: Db, runId: string, taskRunId: string, taskId: string, reason: string): Promise<EventRow[]> {
  return db.transaction(async (tx) => {
    const rows = await tx
      .update(taskRuns)
      .set({ state: 'skipped', error: reason, finishedAt: Date.now() })
      .where(and(eq(taskRuns.id, taskRunId), eq(taskRuns.state, 'pending')))
      .returning({ id: taskRuns.id });
    return rows.length ? insertEvents(tx, [{ runId, taskId, type: 'task-skipped', data: { reason } }]) : [];
  });
}

/** A task run that could not be planned (its component's plan failed): failed, with no instances. */
export async function failTaskRunPlanning(db: Db, runId: string, taskRunId: string, taskId: string, error: string): Promise<EventRow[]> {
  return db.transaction(async (tx) => {
    const now = Date.now();
    const rows = await tx
      .update(taskRuns)
      .set({ state: 'failed', error, startedAt: now, finishedAt: now, instanceCount: 0, policy: 'plan export' })
      .where(and(eq(taskRuns.id, taskRunId), eq(taskRuns.state, 'pending')))
      .returning({ id: taskRuns.id });
    return rows.length ? insertEvents(tx, [{ runId, taskId, type: 'task-failed', data: { error } }]) : [];
  });
}
