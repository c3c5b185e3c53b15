/**
 * The bindings wrangler.toml gives the Worker. Typed here rather than with @cloudflare/workers-types,
 * whose globals would clash with Node's in the one tsconfig both share.
 */
import type { R2BucketLike } from '../assets/r2.js';

export interface EdgeEnv {
  /** R2 bucket for assets. */
  ASSETS?: R2BucketLike;
  /** D1 database and the queue instances are dispatched through: bound, not used yet (docs/edge-design.md). */
  DB?: unknown;
  INSTANCES?: unknown;
  /** Worker secrets (`wrangler secret put NAME`), which tasks receive when their flow names them. */
  [name: string]: unknown;
}
