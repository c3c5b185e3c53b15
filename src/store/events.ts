import { and, asc, eq, gt } from 'drizzle-orm';
import type { Db } from './db.js';
import { q, readRows } from './statement.js';
import { events } from './schema.js';

export interface NewEvent {
  runId: string;
  taskId?: string | null;
  type: string;
  data?: Record<string, unknown>;
}

export type EventRow = typeof events.$inferSelect;

export async function runEvents(db: Db, runId: string, afterId = 0): Promise<EventRow[]> {
  return db.select().from(events).where(and(eq(events.runId, runId), gt(events.id, afterId))).orderBy(asc(events.id));
}

/** Events after `afterId`, of one run or of all, oldest first. */
export async function eventsAfter(db: Db, q: { runId?: string; afterId: number; limit: number }): Promise<EventRow[]> {
  return db
    .select()
    .from(events)
    .where(and(q.runId ? eq(events.runId, q.runId) : undefined, gt(events.id, q.afterId)))
    .orderBy(asc(events.id))
    .limit(q.limit);
}

export async function latestEventId(db: Db): Promise<number> {
  const [row] = await readRows<{ id: number }>(db, q`SELECT coalesce(max(id), 0) AS id FROM events`);
  return Number(row?.id ?? 0);
}
