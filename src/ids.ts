import { randomBytes } from 'node:crypto';

/** Time-ordered ids ("r_0lx2k3…"), so sorting by id lists newest last without another index. */
export function newId(prefix: string): string {
  return `${prefix}_${Date.now().toString(36).padStart(9, '0')}${randomBytes(6).toString('hex')}`;
}
