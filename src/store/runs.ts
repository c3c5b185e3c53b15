/** Runs, task runs and their assets: creating runs, planning tasks, finishing runs. */
import { and, asc, count, desc, eq, inArray, isNull, notExists, sql } from 'drizzle-orm';
import type { Partition } from '../runtime/protocol.js';
import type { Db } from './db.js';
import { insertEvents, type EventRow, type NewEvent } from './events.js';
import { assets, backfills, instances, runs, taskRuns, type RunState } from './schema.js';

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export type DbOrTx = Db | Tx;

export interface NewAsset {
  id: string;
  /** For run inputs given as several assets (an upstream fan-out): their order. */
  order?: number;
  name: string;
  location: string;
  size: number;
  sha256: string;
  mediaType: string;
}

export type RunRow = typeof runs.$inferSelect;
export type TaskRunRow = typeof taskRuns.$inferSelect;
export type AssetRow = typeof assets.$inferSelect;

export interface NewRun {
  id: string;
  flowId: string;
  revision: number;
  params: Record<string, unknown>;
  trigger: string;
  taskIds: string[];
  inputs: NewAsset[];
  logicalTime?: number | null;
  /** A run with a key already taken by this flow is not created (see runs.dedupeKey). */
  dedupeKey?: string | null;
  backfillId?: string | null;
  /** The flow's run limit: with the `skip` policy, a run triggered at the limit is recorded as skipped. */
  skipAbove?: number;
}

/** Record a new run (queued, or skipped at its flow's limit). Returns its events; none when its dedupe key was taken. */
export async function createRun(db: DbOrTx, run: NewRun): Promise<EventRow[]> {
  return db.transaction(async (tx) => {
    const now = Date.now();
    let state: RunState = 'queued';
    let error: string | null = null;
    if (run.skipAbove !== undefined) {
      const [row] = await tx.select({ n: count() }).from(runs).where(and(eq(runs.flowId, run.flowId), inArray(runs.state, ['queued', 'running'])));
      if ((row?.n ?? 0) >= run.skipAbove) {
        state = 'skipped';
        error = `flow ${run.flowId} already has ${row!.n} active run(s) (concurrency max ${run.skipAbove}, policy skip)`;
      }
    }
    const created = await tx
      .insert(runs)
      .values({
        id: run.id, flowId: run.flowId, revision: run.revision, state, error, params: run.params, trigger: run.trigger, createdAt: now,
        finishedAt: state === 'skipped' ? now : null, logicalTime: run.logicalTime ?? null, dedupeKey: run.dedupeKey ?? null, backfillId: run.backfillId ?? null,
      })
      .onConflictDoNothing()
      .returning({ id: runs.id });
    if (!created.length) return [];
    await tx.insert(taskRuns).values(run.taskIds.map((taskId) => ({ id: `${run.id}.${taskId}`, runId: run.id, taskId, state: state === 'skipped' ? ('skipped' as const) : ('pending' as const) })));
    if (run.inputs.length) {
      await tx.insert(assets).values(run.inputs.map(({ order, ...a }) => ({ ...a, runId: run.id, taskId: null, instanceIdx: order ?? null, createdAt: now })));
    }
    const data = { flowId: run.flowId, revision: run.revision, trigger: run.trigger, ...(run.logicalTime != null ? { logicalTime: run.logicalTime } : {}) };
    const ev: NewEvent[] = [{ runId: run.id, type: 'run-created', data }];
    if (state === 'skipped') ev.push({ runId: run.id, type: 'run-skipped', data: { error } });
    return insertEvents(tx, ev);
  });
}

export async function activeRunIds(db: Db): Promise<string[]> {
  const rows = await db.select({ id: runs.id }).from(runs).where(inArray(runs.state, ['queued', 'running'])).orderBy(asc(runs.id));
  return rows.map((r) => r.id);
}

/**
 * Active runs with no instance pending or running: nothing will move them but a scheduler looking
 * at them. With several servers on one database, a server that died between committing a task's
 * end and planning the next leaves its runs here; another server picks them up.
 */
export async function stalledRunIds(db: Db, limit: number): Promise<string[]> {
  const busy = db
    .select({ one: sql`1` })
    .from(instances)
    .where(and(eq(instances.runId, runs.id), inArray(instances.state, ['pending', 'running'])));
  const rows = await db
    .select({ id: runs.id })
    .from(runs)
    .where(and(inArray(runs.state, ['queued', 'running']), notExists(busy)))
    // Running runs first: a queued one usually waits for its flow's run limit, not for a scheduler.
    .orderBy(desc(sql`${runs.state} = 'running'`), asc(runs.id))
    .limit(limit);
  return rows.map((r) => r.id);
}

export async function getRun(db: Db, runId: string): Promise<RunRow | undefined> {
  return db.query.runs.findFirst({ where: eq(runs.id, runId) });
}

export async function getTaskRuns(db: Db, runId: string): Promise<TaskRunRow[]> {
  return db.select().from(taskRuns).where(eq(taskRuns.runId, runId));
}

/** Just what deciding the next step of a run needs: cheap to read on every step of a long run. */
export async function taskRunStates(db: Db, runId: string) {
  return db.select({ id: taskRuns.id, taskId: taskRuns.taskId, state: taskRuns.state, error: taskRuns.error }).from(taskRuns).where(eq(taskRuns.runId, runId));
}

export async function getTaskRun(db: Db, taskRunId: string): Promise<TaskRunRow | undefined> {
  return db.query.taskRuns.findFirst({ where: eq(taskRuns.id, taskRunId) });
}

/**
 * queued → running, in one statement so that limits hold with several servers: at most `flowMax`
 * running runs of the flow (oldest queued first), and at most its backfill's concurrency.
 */
export async function startRun(db: Db, runId: string, gate: { flowMax?: number } = {}): Promise<EventRow[]> {
  return db.transaction(async (tx) => {
    // Correlated subqueries over a second copy of runs ("r"); drizzle's alias() does not render in sql``.
    const conds = [eq(runs.id, runId), eq(runs.state, 'queued')];
    if (gate.flowMax !== undefined) {
      conds.push(sql`(SELECT count(*) FROM runs r WHERE r.flow_id = ${runs.flowId} AND r.state = 'running') < ${gate.flowMax}`);
      conds.push(sql`NOT EXISTS (SELECT 1 FROM runs r WHERE r.flow_id = ${runs.flowId} AND r.state = 'queued' AND (r.created_at, r.id) < (${runs.createdAt}, ${runs.id}))`);
    }
    conds.push(sql`(${runs.backfillId} IS NULL OR (
      (SELECT count(*) FROM runs r WHERE r.backfill_id = ${runs.backfillId} AND r.state = 'running') < (SELECT ${backfills.concurrency} FROM ${backfills} WHERE ${backfills.id} = ${runs.backfillId})
      AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.backfill_id = ${runs.backfillId} AND r.state = 'queued' AND r.logical_time < ${runs.logicalTime})))`);
    const rows = await tx.update(runs).set({ state: 'running', startedAt: Date.now() }).where(and(...conds)).returning({ id: runs.id });
    return rows.length ? insertEvents(tx, [{ runId, type: 'run-started' }]) : [];
  });
}

/** Queued runs that may start once a run of this flow (or of their backfill) ends: the oldest first. */
export async function queuedRunIds(db: Db, flowId: string, limit: number): Promise<string[]> {
  const rows = await db
    .select({ id: runs.id })
    .from(runs)
    .where(and(eq(runs.flowId, flowId), eq(runs.state, 'queued')))
    .orderBy(asc(runs.logicalTime), asc(runs.createdAt), asc(runs.id))
    .limit(limit);
  return rows.map((r) => r.id);
}

/** The longest-running run of a flow (for the cancel-oldest policy). */
export async function oldestRunningRun(db: Db, flowId: string): Promise<string | undefined> {
  const [row] = await db.select({ id: runs.id }).from(runs).where(and(eq(runs.flowId, flowId), eq(runs.state, 'running'))).orderBy(asc(runs.startedAt), asc(runs.id)).limit(1);
  return row?.id;
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
  return db.select().from(assets).where(and(eq(assets.runId, runId), isNull(assets.taskId))).orderBy(asc(assets.name), asc(assets.instanceIdx));
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
