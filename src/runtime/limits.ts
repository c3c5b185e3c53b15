import { MAX_DURATION_MS } from '../flow/units.js';
import type { Limits } from './protocol.js';

/** Bounds of one instance when neither the flow nor the server says otherwise. */
export const DEFAULT_LIMITS: Limits & { timeoutMs: number } = {
  timeoutMs: 15 * 60_000,
  memoryBytes: 256 * 2 ** 20,
  outputBytes: 2 ** 30,
  logBytes: 256 * 2 ** 10,
  planPartitions: 200_000,
};

/**
 * A delay setTimeout can hold. Past 2^31-1 ms (or NaN) Node fires after 1 ms instead, so a timer
 * re-armed until its deadline would spin: it waits the longest it can, and the caller re-arms.
 * Flows cannot ask for more (see flow/units.ts), but a spec stored before that check still can.
 */
export function timerDelay(ms: number): number {
  return ms <= 0 ? 0 : ms <= MAX_DURATION_MS ? ms : MAX_DURATION_MS;
}

/**
 * Most distinct outputs one instance may write. Each becomes an asset (a row, and a file when
 * large) and an input of every task that needs it; an instance that wants more can write one
 * output in a format of its own (lines, an archive) or be split into more instances.
 */
export const MAX_OUTPUTS = 1000;
