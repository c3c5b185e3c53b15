/**
 * The capability a remote lease carries. A worker id is only a name anyone can give, and instance
 * ids follow from run ids; what proves that a request comes from the worker an attempt was leased
 * to is a random secret handed to it with the attempt. The database keeps only its sha256, so that
 * whoever reads the database (or a backup of it) still cannot act for a worker.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** 256 random bits, base64url: what a lease answer hands its caller. */
export function newLeaseSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** What is stored with a lease: sha256 of the secret, hex. */
export function leaseSecretHash(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/**
 * Whether `presented` is the secret whose hash is `stored`. Constant time in the secret: both sides
 * are compared as digests of fixed length, and a missing value on either side is compared against
 * a digest too, so no answer takes less time for being wrong early.
 */
export function leaseSecretMatches(stored: string | null | undefined, presented: string | undefined): boolean {
  const known = !!stored && HASH.test(stored);
  const want = Buffer.from(known ? stored : NOTHING, 'hex');
  const got = createHash('sha256').update(presented ?? '').digest();
  return timingSafeEqual(want, got) && known && presented !== undefined;
}

const HASH = /^[0-9a-f]{64}$/;
/** Stands in for a missing hash: no one knows a value whose sha256 it is. */
const NOTHING = '0'.repeat(64);
