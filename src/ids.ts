import { randomFillSync } from 'node:crypto';

// Random bytes drawn in blocks: one call into the system's generator per 680 ids, not one per id
// (a run takes several ids; the call was a visible part of a trigger's cost).
const pool = Buffer.alloc(4096);
let used = pool.length;

/** Time-ordered ids ("r_0lx2k3…"), so sorting by id lists newest last without another index. */
export function newId(prefix: string): string {
  if (used + 6 > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  const random = pool.toString('hex', used, (used += 6));
  return `${prefix}_${Date.now().toString(36).padStart(9, '0')}${random}`;
}
