/**
 * Queries built once per database handle and run with new values each time (drizzle's prepared
 * queries with placeholders). On the hot path of a run, building a query with drizzle cost more
 * than running it: a step reads a few rows by key.
 */
import type { Db } from './db.js';

const built = new WeakMap<Db, Map<string, unknown>>();

export function prepared<T>(db: Db, name: string, build: () => T): T {
  let queries = built.get(db);
  if (!queries) built.set(db, (queries = new Map()));
  let query = queries.get(name) as T | undefined;
  if (query === undefined) queries.set(name, (query = build()));
  return query;
}
