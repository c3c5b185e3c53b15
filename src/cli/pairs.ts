import { UsageError } from './errors.js';

/** `name=value` options into a record; a malformed one is a usage error naming the flag. */
export function parsePairs(list: string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`${flag} ${item}: expected name=value`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}
