/** Read-side queries for the API: runs by filter a page at a time, a run's detail, an instance's attempts. */
import { and, asc, count, desc, eq, gte, inArray, lt, or, sql, type SQL } from 'drizzle-orm';
import type { Db } from './db.js';
import { assetFields } from './runs.js';
import { assets, attempts, instances, runs, taskRuns, type InstanceState, type RunState } from './schema.js';

export interface RunFilter {
  flowId?: string;
  states?: RunState[];
  trigger?: string;
  backfillId?: string;
  /** createdAt bounds, ms since epoch: since inclusive, until exclusive. */
  since?: number;
  until?: number;
}

/** Where the next page starts: the last row's (createdAt, id). */
export interface RunCursor {
  createdAt: number;
  id: string;
}

/** Newest first. Returns one more row than asked for when there is a next page. */
export async function listRuns(db: Db, filter: RunFilter, page: { limit: number; after?: RunCursor }) {
  const conds: (SQL | undefined)[] = [
    filter.flowId ? eq(runs.flowId, filter.flowId) : undefined,
    filter.states?.length ? inArray(runs.state, filter.states) : undefined,
    filter.trigger ? eq(runs.trigger, filter.trigger) : undefined,
    filter.backfillId ? eq(runs.backfillId, filter.backfillId) : undefined,
    filter.since !== undefined ? gte(runs.createdAt, filter.since) : undefined,
    filter.until !== undefined ? lt(runs.createdAt, filter.until) : undefined,
    page.after ? or(lt(runs.createdAt, page.after.createdAt), and(eq(runs.createdAt, page.after.createdAt), lt(runs.id, page.after.id))) : undefined,
  ];
  return db
    .select()
    .from(runs)
    .where(and(...conds))
    .orderBy(desc(runs.createdAt), desc(runs.id))
    .limit(page.limit + 1);
}

/** Instance counts by state for every task run of a run. */
export async function instanceCounts(db: Db, runId: string): Promise<Map<string, Partial<Record<InstanceState, number>>>> {
  const rows = await db
    .select({ taskRunId: instances.taskRunId, state: instances.state, n: count() })
    .from(instances)
    .where(eq(instances.runId, runId))
    .groupBy(instances.taskRunId, instances.state);
  const out = new Map<string, Partial<Record<InstanceState, number>>>();
  for (const r of rows) out.set(r.taskRunId, { ...out.get(r.taskRunId), [r.state]: r.n });
  return out;
}

export async function getInstance(db: Db, taskRunId: string, idx: number) {
  return db.query.instances.findFirst({ where: and(eq(instances.taskRunId, taskRunId), eq(instances.idx, idx)) });
}

/** An instance's attempts without their logs (those can be large: fetch one at a time). */
export async function attemptSummaries(db: Db, instanceId: string) {
  return db
    .select({
      attempt: attempts.attempt, worker: attempts.worker, outcome: attempts.outcome, errorKind: attempts.errorKind, error: attempts.error,
      startedAt: attempts.startedAt, finishedAt: attempts.finishedAt, logBytes: sql<number>`length(CAST(${attempts.log} AS BLOB))`,
    })
    .from(attempts)
    .where(eq(attempts.instanceId, instanceId))
    .orderBy(asc(attempts.attempt));
}

/** One attempt's log; the latest attempt's when `attempt` is not given. */
export async function attemptLog(db: Db, instanceId: string, attempt?: number): Promise<{ attempt: number; log: string } | undefined> {
  const [row] = await db
    .select({ attempt: attempts.attempt, log: attempts.log })
    .from(attempts)
    .where(and(eq(attempts.instanceId, instanceId), attempt !== undefined ? eq(attempts.attempt, attempt) : undefined))
    .orderBy(desc(attempts.attempt))
    .limit(1);
  return row;
}

export async function getAsset(db: Db, id: string) {
  const [row] = await db.select(assetFields).from(assets).where(eq(assets.id, id)).limit(1);
  return row;
}

export async function taskRunOf(db: Db, runId: string, taskId: string) {
  return db.query.taskRuns.findFirst({ where: and(eq(taskRuns.runId, runId), eq(taskRuns.taskId, taskId)) });
}

/** Runs created since `since`, counted per hour (bucket start, ms) and state: the dashboard's overview. */
export async function runsPerHour(db: Db, since: number, flowId?: string) {
  const hour = sql<number>`(${runs.createdAt} / 3600000) * 3600000`;
  return db
    .select({ hour, state: runs.state, n: count() })
    .from(runs)
    .where(and(gte(runs.createdAt, since), flowId ? eq(runs.flowId, flowId) : undefined))
    .groupBy(hour, runs.state)
    .orderBy(hour);
}

/** Duration percentiles (ms) of runs that finished since `since`, each read as one row at its rank, not the whole set. */
export async function runDurationPercentiles(db: Db, since: number, ps: number[], flowId?: string) {
  const where = and(gte(runs.finishedAt, since), sql`${runs.startedAt} IS NOT NULL`, flowId ? eq(runs.flowId, flowId) : undefined);
  const duration = sql<number>`${runs.finishedAt} - ${runs.startedAt}`;
  const [total] = await db.select({ n: count() }).from(runs).where(where);
  const n = total?.n ?? 0;
  const out: { p: number; ms: number | null }[] = [];
  for (const p of ps) {
    if (!n) {
      out.push({ p, ms: null });
      continue;
    }
    const rank = Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1));
    const [row] = await db.select({ d: duration }).from(runs).where(where).orderBy(duration).limit(1).offset(rank);
    out.push({ p, ms: row?.d ?? null });
  }
  return { finished: n, percentiles: out };
}
