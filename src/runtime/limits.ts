import type { Limits } from './protocol.js';

/** Bounds of one instance when neither the flow nor the server says otherwise. */
export const DEFAULT_LIMITS: Limits & { timeoutMs: number } = {
  timeoutMs: 15 * 60_000,
  memoryBytes: 256 * 2 ** 20,
  outputBytes: 2 ** 30,
  logBytes: 256 * 2 ** 10,
  planPartitions: 200_000,
};
