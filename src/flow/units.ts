/** Human units used in flow files: durations ("500ms", "1s", "2m", "1h") and sizes ("64KiB", "16MiB"). */

/**
 * The longest duration anything may wait: a Node timer holds at most 2^31-1 ms (about 24.8 days),
 * and a longer delay does not wait at all, it fires after 1 ms (a re-armed timeout then spins).
 */
export const MAX_DURATION_MS = 2 ** 31 - 1;
/** The largest size: byte counts are doubles, exact only up to 2^53-1. */
export const MAX_SIZE_BYTES = Number.MAX_SAFE_INTEGER;
/** No duration or size anyone means is longer; refusing longer text keeps parsing and messages short. */
const MAX_TEXT = 40;

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;
const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Whole milliseconds for a duration string or a number of milliseconds, however large (Infinity
 * past what a double holds); null when malformed. Callers bound it: see parseDuration.
 */
export function durationMs(value: string | number): number | null {
  if (typeof value === 'number') return value >= 0 ? Math.round(value) : null; // NaN fails the test too
  if (value.length > MAX_TEXT) return null;
  const m = DURATION.exec(value.trim());
  if (!m) return null;
  return Math.round(Number(m[1]) * DURATION_MS[m[2]!]!);
}

/** Milliseconds for a duration string or a number of milliseconds; null when malformed or longer than MAX_DURATION_MS. */
export function parseDuration(value: string | number): number | null {
  const ms = durationMs(value);
  return ms !== null && ms <= MAX_DURATION_MS ? ms : null;
}

const SIZE = /^(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|KB|MB|GB|k|K|M|G)?$/;
const SIZE_BYTES: Record<string, number> = {
  B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, KB: 1000, MB: 1000 ** 2, GB: 1000 ** 3,
  k: 1024, K: 1024, M: 1024 ** 2, G: 1024 ** 3,
};

/**
 * Bytes for a size string or a whole number of bytes, however large (Infinity past what a double
 * holds); null when malformed. Callers bound it: see parseSize.
 */
export function sizeBytes(value: string | number): number | null {
  if (typeof value === 'number') return value === Infinity || (Number.isInteger(value) && value >= 0) ? value : null;
  if (value.length > MAX_TEXT) return null;
  const m = SIZE.exec(value.trim());
  if (!m) return null;
  return Math.round(Number(m[1]) * SIZE_BYTES[m[2] ?? 'B']!);
}

/** Bytes for a size string or a number of bytes; null when malformed or larger than MAX_SIZE_BYTES. */
export function parseSize(value: string | number): number | null {
  const bytes = sizeBytes(value);
  return bytes !== null && bytes <= MAX_SIZE_BYTES ? bytes : null;
}
