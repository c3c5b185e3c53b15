/**
 * Writes that must happen together, without interactive transactions.
 *
 * D1 rejects BEGIN; what it has, like libSQL, is `batch`: statements run in order, atomically, each
 * returning its rows, but none can branch on an earlier one's result. So a write that is "move a
 * row if it is still in the expected state, then record what follows" is one batch in which the
 * move stores a nonce only this caller knows (`step_token`) and every follow-up is conditional on
 * finding it. The same statements run on Node (libSQL batch) and on Workers (D1 batch).
 */
import type { BatchItem } from 'drizzle-orm/batch';
import type { Db } from './db.js';
import type { EventRow, NewEvent } from './events.js';
import { joined, q, write, type Fragment, type TextStatement } from './statement.js';

/** A drizzle query, or SQL text for the writes on a run's hot path. */
export type Statement = BatchItem<'sqlite'> | TextStatement;

/**
 * Statements that belong together and how to read what they did from their results: a caller may
 * run a step alone (`run`) or put several in one batch, so that one commit moves a run several steps.
 */
export interface Step<T> {
  items: Statement[];
  read(results: unknown[]): T;
}

export async function run<T>(db: Db, step: Step<T>): Promise<T> {
  return step.read(await atomically(db, step.items));
}

/** Run steps in one batch; each gets its own results. */
export async function runAll<T>(db: Db, steps: Step<T>[]): Promise<T[]> {
  const results = await atomically(db, steps.flatMap((s) => s.items));
  let at = 0;
  return steps.map((s) => s.read(results.slice(at, (at += s.items.length))));
}

/** A fresh nonce for a compare-and-set. */
export const newToken = (): string => crypto.randomUUID();

/**
 * Run `items` atomically and return each one's result, in order.
 *
 * On libSQL, batches queued in the same turn of the event loop, or while another is being
 * committed, go together, in arrival order, in one transaction: one fsync for all of them instead
 * of one each (group commit).
 * That is the same as running them one after the other, because every statement is guarded by what
 * it finds, not by what its caller read before. A group that fails is retried one batch at a time,
 * so one caller's error never becomes another's.
 */
export async function atomically(db: Db, items: Statement[]): Promise<unknown[]> {
  if (!items.length) return [];
  if (prepareRawForD1(db, items)) return (await db.batch(asBatch(items))) as unknown[];
  let group = groups.get(db);
  if (!group) groups.set(db, (group = { queue: [], busy: false }));
  return new Promise((resolve, reject) => {
    group.queue.push({ items, resolve, reject });
    if (!group.busy) void drain(db, group);
  });
}

/** drizzle's batch runs anything with its protocol (see TextStatement); its types know only its own queries. */
const asBatch = (items: Statement[]) => items as unknown as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]];

interface Waiting {
  items: Statement[];
  resolve(results: unknown[]): void;
  reject(e: unknown): void;
}

const groups = new WeakMap<Db, { queue: Waiting[]; busy: boolean }>();
/** Statements per group commit, beyond which later batches wait for the next one. */
const MAX_GROUP_STATEMENTS = 2000;

async function drain(db: Db, group: { queue: Waiting[]; busy: boolean }): Promise<void> {
  group.busy = true;
  try {
    while (group.queue.length) {
      // The embedded driver commits synchronously: nothing could join a batch while it runs. Wait
      // for the end of this turn of the event loop instead, so that the batches of every request
      // and outcome handled in it go together.
      await new Promise((r) => setImmediate(r));
      let n = 0;
      let size = 0;
      while (n < group.queue.length && (n === 0 || size + group.queue[n]!.items.length <= MAX_GROUP_STATEMENTS)) size += group.queue[n++]!.items.length;
      const batch = group.queue.splice(0, n);
      try {
        const results = await db.batch(asBatch(batch.flatMap((w) => w.items)));
        let at = 0;
        for (const w of batch) {
          w.resolve(results.slice(at, at + w.items.length));
          at += w.items.length;
        }
      } catch (e) {
        if (batch.length === 1) batch[0]!.reject(e);
        else for (const w of batch) await db.batch(asBatch(w.items)).then(w.resolve, w.reject);
      }
    }
  } finally {
    group.busy = false;
  }
}

/**
 * drizzle-orm 0.45's D1 batch binds each statement's parameters to its prepared D1 statement, which
 * a raw query (`db.run(sql…)`, `db.all(sql…)`) does not have: it fails with "reading 'bind'". Give
 * each raw query one. Returns whether this is D1 (libSQL clients have no `prepare`).
 */
function prepareRawForD1(db: Db, items: Statement[]): boolean {
  const client = (db as unknown as { session?: { client?: { prepare?: (sql: string) => unknown } } }).session?.client;
  if (typeof client?.prepare !== 'function') return false;
  for (const item of items as unknown as { _prepare(): unknown; stmt?: unknown; getQuery(): { sql: string } }[]) {
    // A raw query (or a TextStatement) is its own prepared query; builders prepare a new one, with its statement.
    if (item._prepare() === item && item.stmt === undefined) item.stmt = client.prepare(item.getQuery().sql);
  }
  return true;
}

/** An insert of events and how to read, from its result, the rows it wrote. */
export interface EventsInsert {
  statement: Statement;
  rows(result: unknown): EventRow[];
}

/**
 * Insert events only when `guard` (an SQL condition, typically "the row carries my token") holds
 * when the statement runs; all of them or none. Without RETURNING, which doubles the cost of an
 * insert: the rows are rebuilt from what was asked, with the ids the insert took (consecutive,
 * ending with the last inserted rowid).
 */
export function guardedEvents(list: NewEvent[], guard: Fragment): EventsInsert {
  const now = Date.now();
  let statement: Statement;
  if (list.length <= 4) {
    // The common cases (one event, a few), without json_each: about half the cost to prepare and run.
    const selects = list.map((e) => q`SELECT ${e.runId}, ${e.taskId ?? null}, ${e.type}, ${e.data ? JSON.stringify(e.data) : null}, ${now} WHERE ${guard}`);
    statement = write(q`INSERT INTO events (run_id, task_id, type, data, created_at) ${joined(selects, ' UNION ALL ')}`);
  } else {
    const rows = JSON.stringify(list.map((e) => ({ r: e.runId, t: e.taskId ?? null, y: e.type, d: e.data ?? null })));
    statement = write(q`INSERT INTO events (run_id, task_id, type, data, created_at)
      SELECT json_extract(e.value, '$.r'), json_extract(e.value, '$.t'), json_extract(e.value, '$.y'), json_extract(e.value, '$.d'), ${now}
      FROM json_each(${rows}) e WHERE ${guard} ORDER BY e.key`);
  }
  return {
    statement,
    rows(result) {
      const { count, lastId } = written(result);
      if (count !== list.length) return [];
      return list.map((e, i) => ({ id: lastId - count + 1 + i, runId: e.runId, taskId: e.taskId ?? null, type: e.type, data: e.data ?? null, createdAt: now }));
    },
  };
}

/** How many rows a write changed and the last rowid it inserted, from a libSQL or a D1 result. */
export function written(result: unknown): { count: number; lastId: number } {
  const r = result as { rowsAffected?: number; lastInsertRowid?: bigint | number; meta?: { changes?: number; last_row_id?: number } } | undefined;
  if (r?.meta) return { count: r.meta.changes ?? 0, lastId: Number(r.meta.last_row_id ?? 0) };
  return { count: r?.rowsAffected ?? 0, lastId: Number(r?.lastInsertRowid ?? 0) };
}

/** The rows a guardedEvents statement returned, as EventRows, oldest first. */
export function eventRows(result: unknown): EventRow[] {
  const rows = (result ?? []) as Record<string, unknown>[];
  return rows
    .map((r) => ({
      id: Number(r.id),
      runId: String(r.run_id),
      taskId: r.task_id == null ? null : String(r.task_id),
      type: String(r.type),
      data: r.data == null ? null : (JSON.parse(String(r.data)) as Record<string, unknown>),
      createdAt: Number(r.created_at),
    }))
    .sort((a, b) => a.id - b.id);
}

/** The rows of a statement with RETURNING (drizzle builders return arrays; a raw `all` too). */
export const returned = <T>(result: unknown): T[] => (result ?? []) as T[];
