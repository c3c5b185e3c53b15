/**
 * The bindings wrangler.toml gives the Worker. Typed here rather than with @cloudflare/workers-types,
 * whose globals would clash with Node's in the one tsconfig both share.
 */
import type { R2BucketLike } from '../assets/r2.js';

export interface EdgeEnv {
  /** R2 bucket for assets. */
  ASSETS?: R2BucketLike;
  /** D1 database: runs, task runs, instances, events (the Node schema, migrations from drizzle/). */
  DB?: unknown;
  /** The queue every step of a run and every instance goes through (edge/engine.ts). */
  INSTANCES?: unknown;
  /** A libSQL server (Turso, sqld) to keep the state in instead of D1, and its token (Worker secrets). */
  TUTTI_DB_URL?: unknown;
  TUTTI_DB_AUTH_TOKEN?: unknown;
  /** Bearer token the API requires, when set (`wrangler secret put TUTTI_API_TOKEN`). */
  TUTTI_API_TOKEN?: unknown;
  /** Worker secrets (`wrangler secret put NAME`), which tasks receive when their flow names them. */
  [name: string]: unknown;
}
