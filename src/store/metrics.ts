/** Counts for /metrics, each one grouped query. */
import { and, eq, isNotNull, lte, sql } from 'drizzle-orm';
import type { Db } from './db.js';
import { instances, runs, taskRuns } from './schema.js';

export async function stateCounts(db: Db) {
  const [r, t, i] = await Promise.all([
    db.select({ state: runs.state, flowId: runs.flowId, n: sql<number>`count(*)` }).from(runs).groupBy(runs.state, runs.flowId),
    db.select({ state: taskRuns.state, n: sql<number>`count(*)` }).from(taskRuns).groupBy(taskRuns.state),
    db.select({ state: instances.state, n: sql<number>`count(*)` }).from(instances).groupBy(instances.state),
  ]);
  return { runs: r, taskRuns: t, instances: i };
}

/** Instances ready to run now and not claimed: the work waiting for a worker. */
export async function queueDepth(db: Db, now: number): Promise<number> {
  const [row] = await db.select({ n: sql<number>`count(*)` }).from(instances).where(and(eq(instances.state, 'pending'), lte(instances.availableAt, now)));
  return row?.n ?? 0;
}

/** Flow, state and start-to-end time of the given runs that have both a start and an end. */
export async function runDurations(db: Db, ids: string[]) {
  if (!ids.length) return [];
  return db
    .select({ flowId: runs.flowId, state: runs.state, ms: sql<number>`${runs.finishedAt} - ${runs.startedAt}` })
    .from(runs)
    // One JSON parameter, not one per id.
    .where(and(sql`${runs.id} IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`, isNotNull(runs.startedAt), isNotNull(runs.finishedAt)));
}
