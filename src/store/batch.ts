/**
 * Writes that must happen together, without interactive transactions.
 *
 * D1 rejects BEGIN; what it has, like libSQL, is `batch`: statements run in order, atomically, each
 * returning its rows, but none can branch on an earlier one's result. So a write that is "move a
 * row if it is still in the expected state, then record what follows" is one batch in which the
 * move stores a nonce only this caller knows (`step_token`) and every follow-up is conditional on
 * finding it. The same statements run on Node (libSQL batch) and on Workers (D1 batch).
 */
import { sql, type SQL } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import type { Db } from './db.js';
import type { EventRow, NewEvent } from './events.js';

export type Statement = BatchItem<'sqlite'>;

/** A fresh nonce for a compare-and-set. */
export const newToken = (): string => crypto.randomUUID();

/** Run `items` atomically and return each one's result, in order. */
export async function atomically(db: Db, items: Statement[]): Promise<unknown[]> {
  if (!items.length) return [];
  prepareRawForD1(db, items);
  return db.batch(items as [Statement, ...Statement[]]);
}

/**
 * drizzle-orm 0.45's D1 batch binds each statement's parameters to its prepared D1 statement, which
 * a raw query (`db.run(sql…)`, `db.all(sql…)`) does not have: it fails with "reading 'bind'". Give
 * each raw query one. libSQL clients have no `prepare`, so this does nothing on Node.
 */
function prepareRawForD1(db: Db, items: Statement[]): void {
  const client = (db as unknown as { session?: { client?: { prepare?: (sql: string) => unknown } } }).session?.client;
  if (typeof client?.prepare !== 'function') return;
  for (const item of items as unknown as { _prepare(): unknown; stmt?: unknown; getQuery(): { sql: string } }[]) {
    // A raw query is its own prepared query; builders prepare a new one, with its statement.
    if (item._prepare() === item && item.stmt === undefined) item.stmt = client.prepare(item.getQuery().sql);
  }
}

/**
 * Insert events only when `guard` (an SQL condition, typically "the row carries my token") holds
 * when the statement runs. Returns the statement; its result is the rows written (see eventRows).
 */
export function guardedEvents(q: Db, list: NewEvent[], guard: SQL): Statement {
  const rows = JSON.stringify(list.map((e) => ({ r: e.runId, t: e.taskId ?? null, y: e.type, d: e.data ?? null })));
  return q.all(sql`INSERT INTO events (run_id, task_id, type, data, created_at)
    SELECT json_extract(e.value, '$.r'), json_extract(e.value, '$.t'), json_extract(e.value, '$.y'), json_extract(e.value, '$.d'), ${Date.now()}
    FROM json_each(${rows}) e WHERE ${guard} ORDER BY e.key
    RETURNING id, run_id, task_id, type, data, created_at`) as unknown as Statement;
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
