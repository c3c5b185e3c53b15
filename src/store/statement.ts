/**
 * SQL written as text, for the statements every step of every run makes.
 *
 * Building a statement with drizzle's `sql` and query builders cost more CPU than SQLite spent
 * running it (each chunk is type-checked and rendered per call): a fifth of the server's main
 * thread per run. These statements are text with `?` parameters instead; a `Fragment` nests in
 * another as drizzle's `sql` does, and a `TextStatement` goes into the same batches as drizzle's
 * queries, on libSQL and on D1.
 */
import type { SQL } from 'drizzle-orm';

export interface Fragment {
  readonly text: string;
  readonly params: readonly unknown[];
}

const isFragment = (v: unknown): v is Fragment => v instanceof Frag;

class Frag implements Fragment {
  constructor(readonly text: string, readonly params: unknown[]) {}
}

/** `q\`... ${value} ...\``: each value a parameter (undefined as NULL), or a nested fragment inlined. */
export function q(strings: TemplateStringsArray, ...values: unknown[]): Fragment {
  let text = strings[0]!;
  const params: unknown[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (isFragment(v)) {
      text += v.text;
      params.push(...v.params);
    } else {
      text += '?';
      params.push(v === undefined ? null : v);
    }
    text += strings[i + 1]!;
  }
  return new Frag(text, params);
}

/** Fragments joined by `separator` (text, not a parameter). */
export function joined(parts: Fragment[], separator: string): Fragment {
  return new Frag(parts.map((p) => p.text).join(separator), parts.flatMap((p) => p.params));
}

/**
 * One statement for a batch. It answers drizzle's batch protocol (`_prepare`, `getQuery`,
 * `mapResult`) with its text as is: `rows` gives the rows of a RETURNING or a SELECT, otherwise the
 * driver's write result (rows changed, last rowid), as drizzle's `run` does.
 */
export class TextStatement {
  /** Set for D1, which binds parameters to a statement it prepared (see batch.ts). */
  stmt?: unknown;

  constructor(private readonly f: Fragment, private readonly rows: boolean) {}

  _prepare(): this {
    return this;
  }

  getQuery(): { sql: string; params: unknown[] } {
    return { sql: this.f.text, params: this.f.params as unknown[] };
  }

  mapResult(result: unknown): unknown {
    if (!this.rows) return result;
    const r = result as { rows?: unknown[]; results?: unknown[] };
    return r.rows ?? r.results ?? [];
  }
}

export const write = (f: Fragment): TextStatement => new TextStatement(f, false);
export const writeReturning = (f: Fragment): TextStatement => new TextStatement(f, true);

/** A drizzle condition as a fragment, for the few statements that mix both (off the hot path). */
export function fromDrizzle(db: unknown, condition: SQL): Fragment {
  const query = (db as { dialect: { sqlToQuery(s: SQL): { sql: string; params: unknown[] } } }).dialect.sqlToQuery(condition);
  return new Frag(query.sql, query.params);
}

/**
 * The rows of a read written as text, named by its column aliases: through the libSQL client, or
 * D1's prepared statements on Workers. For reads on every step, where mapping rows through drizzle
 * cost as much as the query.
 */
export async function readRows<T>(db: unknown, f: Fragment): Promise<T[]> {
  type LibsqlClient = { execute(s: { sql: string; args: unknown[] }): Promise<{ rows: unknown[] }> };
  type D1Client = { prepare(sql: string): { bind(...v: unknown[]): { all(): Promise<{ results: unknown[] }> } } };
  const client = (db as { $client: LibsqlClient | D1Client }).$client;
  if ('execute' in client) return (await client.execute({ sql: f.text, args: f.params as unknown[] })).rows as T[];
  return (await client.prepare(f.text).bind(...f.params).all()).results as T[];
}
