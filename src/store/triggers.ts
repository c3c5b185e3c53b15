/** Schedules, backfills and flow-to-flow triggers: the rows that make runs start without a caller. */
import { and, asc, eq, gt, inArray, lte, notInArray, sql } from 'drizzle-orm';
import type { Db } from './db.js';
import { newToken, returned, runAll, type Statement, type Step } from './batch.js';
import { createRunStep, type NewRun } from './runs.js';
import { q, readRows, write } from './statement.js';
import { backfills, cursors, events, flowTriggers, runs, schedules } from './schema.js';

export type ScheduleRow = typeof schedules.$inferSelect;
export type FlowTriggerRow = typeof flowTriggers.$inferSelect;
export type BackfillRow = typeof backfills.$inferSelect;

export interface ScheduleDef {
  key: string;
  cron: string;
  timezone: string | null;
  missed: 'skip' | 'catch-up';
  params: Record<string, unknown>;
  /** Used only for a schedule that is new: an existing one keeps its place. */
  nextFireAt: number;
}

/** The statements that make a flow's schedule and flow-trigger rows match its current revision (part of its save). */
export function syncTriggers(q: Db, flowId: string, defs: { schedules: ScheduleDef[]; flowTriggers: Omit<FlowTriggerRow, 'targetFlowId'>[] }): Statement[] {
  const keys = defs.schedules.map((s) => s.key);
  return [
    q.delete(schedules).where(and(eq(schedules.flowId, flowId), keys.length ? notInArray(schedules.key, keys) : undefined)),
    ...defs.schedules.map((s) =>
      q
        .insert(schedules)
        .values({ flowId, ...s })
        .onConflictDoUpdate({ target: [schedules.flowId, schedules.key], set: { missed: s.missed, params: s.params } }),
    ),
    q.delete(flowTriggers).where(eq(flowTriggers.targetFlowId, flowId)),
    ...(defs.flowTriggers.length ? [q.insert(flowTriggers).values(defs.flowTriggers.map((t) => ({ ...t, targetFlowId: flowId })))] : []),
  ];
}

export async function dueSchedules(db: Db, now: number): Promise<ScheduleRow[]> {
  return db.select().from(schedules).where(lte(schedules.nextFireAt, now)).orderBy(asc(schedules.nextFireAt)).limit(100);
}

export async function nextScheduleTime(db: Db): Promise<number | undefined> {
  const [row] = await db.select({ t: sql<number>`min(${schedules.nextFireAt})` }).from(schedules);
  return row?.t ?? undefined;
}

export async function flowSchedules(db: Db, flowId: string): Promise<ScheduleRow[]> {
  return db.select().from(schedules).where(eq(schedules.flowId, flowId));
}

/**
 * Move a schedule from the tick it was due at to the next one and record the runs of the fired
 * ticks, in one batch. Only one caller wins a tick: the move writes a token, and the runs are
 * written only where it is found; the others find the tick moved. Returns the runs created, or
 * null when another caller had moved the schedule.
 */
export async function advanceSchedule(db: Db, s: ScheduleRow, next: number, fired: number | null, newRuns: NewRun[]): Promise<string[] | null> {
  const token = newToken();
  const mine = q`EXISTS (SELECT 1 FROM schedules WHERE flow_id = ${s.flowId} AND key = ${s.key} AND step_token = ${token})`;
  const move: Step<boolean> = {
    items: [
      db
        .update(schedules)
        .set({ nextFireAt: next, stepToken: token, ...(fired !== null ? { lastFireAt: fired } : {}) })
        .where(and(eq(schedules.flowId, s.flowId), eq(schedules.key, s.key), eq(schedules.nextFireAt, s.nextFireAt)))
        .returning({ key: schedules.key }),
    ],
    read: (r) => returned(r[0]).length > 0,
  };
  const [moved, ...created] = await runAll<unknown>(db, [move, ...newRuns.map((r) => createRunStep(r, mine))]);
  if (!moved) return null;
  return newRuns.filter((_, i) => (created[i] as unknown[]).length).map((r) => r.id);
}

export function createBackfill(q: Db, b: typeof backfills.$inferInsert) {
  return q.insert(backfills).values(b);
}

export async function getBackfill(db: Db, id: string): Promise<BackfillRow | undefined> {
  return db.query.backfills.findFirst({ where: eq(backfills.id, id) });
}

/** A backfill's runs counted by state. */
export async function backfillProgress(db: Db, id: string): Promise<Record<string, number>> {
  const rows = await db.select({ state: runs.state, n: sql<number>`count(*)` }).from(runs).where(eq(runs.backfillId, id)).groupBy(runs.state);
  return Object.fromEntries(rows.map((r) => [r.state, r.n]));
}

/** Whether any flow has a flow trigger (read on every look at the event log: text, one row at most). */
export async function anyFlowTriggers(db: Db): Promise<boolean> {
  return (await readRows(db, q`SELECT 1 AS one FROM flow_triggers LIMIT 1`)).length > 0;
}

/** Every flow trigger of live flows as an edge: a run of `source` starts a run of `target`. */
export async function flowTriggerEdges(db: Db): Promise<{ source: string; target: string }[]> {
  return db.selectDistinct({ source: flowTriggers.sourceFlowId, target: flowTriggers.targetFlowId }).from(flowTriggers);
}

/**
 * How many runs started by flow triggers lead to `runId`, itself included (0 for a run started
 * otherwise), counted up to `max`. A run a flow trigger started names the run that fired it in
 * its dedupe key, `flow:<run id>:<trigger index>` (see reactions.ts).
 */
export async function flowTriggerChain(db: Db, runId: string, max: number): Promise<number> {
  // A plain SELECT around the recursive query: the store takes any other statement for a write.
  const [row] = await readRows<{ n: number | null }>(
    db,
    q`SELECT (WITH RECURSIVE chain(id, trigger, key, n) AS (
        SELECT id, trigger, dedupe_key, 0 FROM runs WHERE id = ${runId}
        UNION ALL
        SELECT r.id, r.trigger, r.dedupe_key, chain.n + 1 FROM chain JOIN runs r ON r.id = substr(chain.key, 6, instr(substr(chain.key, 6), ':') - 1)
        WHERE chain.trigger = 'flow' AND chain.key LIKE 'flow:%' AND chain.n < ${max}
      ) SELECT max(n) FROM chain) AS n`,
  );
  return Number(row?.n ?? 0);
}

/**
 * The statement that records on an upstream run that one of a flow's triggers did not start a run
 * for it, and why: once per run and trigger (events read again after a crash write nothing twice).
 */
export function triggerRefusedEvent(runId: string, targetFlowId: string, idx: number, reason: string) {
  const data = JSON.stringify({ flow: targetFlowId, trigger: idx, reason });
  return write(q`INSERT INTO events (run_id, task_id, type, data, created_at)
    SELECT ${runId}, NULL, 'trigger-refused', ${data}, ${Date.now()}
    WHERE NOT EXISTS (SELECT 1 FROM events WHERE run_id = ${runId} AND type = 'trigger-refused'
      AND json_extract(data, '$.flow') = ${targetFlowId} AND json_extract(data, '$.trigger') = ${idx})`);
}

export async function triggersFrom(db: Db, sourceFlowId: string): Promise<FlowTriggerRow[]> {
  return db.select().from(flowTriggers).where(eq(flowTriggers.sourceFlowId, sourceFlowId));
}

export async function flowTriggersOf(db: Db, targetFlowId: string): Promise<FlowTriggerRow[]> {
  return db.select().from(flowTriggers).where(eq(flowTriggers.targetFlowId, targetFlowId)).orderBy(asc(flowTriggers.idx));
}

/** Events after `afterId` of the given types, with the flow of their run (what a flow trigger matches on). */
export async function eventsAfterId(db: Db, afterId: number, types: string[], limit: number) {
  return db
    .select({ id: events.id, runId: events.runId, taskId: events.taskId, type: events.type, flowId: runs.flowId })
    .from(events)
    .innerJoin(runs, eq(runs.id, events.runId))
    .where(and(gt(events.id, afterId), inArray(events.type, types)))
    .orderBy(asc(events.id))
    .limit(limit);
}

/** The statement that moves a cursor forward (never back); await it, or batch it with what the events caused. */
export function moveCursor(db: Db, name: string, eventId: number) {
  return db
    .insert(cursors)
    .values({ name, eventId })
    .onConflictDoUpdate({ target: cursors.name, set: { eventId: sql`max(${cursors.eventId}, excluded.event_id)` } });
}

/** Where a consumer's cursor stands; undefined when it has none yet. */
export async function cursorOf(db: Db, name: string): Promise<number | undefined> {
  const [row] = await db.select({ eventId: cursors.eventId }).from(cursors).where(eq(cursors.name, name));
  return row?.eventId;
}
