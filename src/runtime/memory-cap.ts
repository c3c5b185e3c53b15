/**
 * Linear-memory caps. A wasm memory can only be bounded by its declared maximum, so the cap is
 * written into the core module's memory section before it is compiled: past it, `memory.grow`
 * fails inside the guest (malloc returns NULL) and the process stays healthy.
 */

import { concat, leb, readLeb, sections } from './wasm-binary.js';

const PAGE = 65536;

export class MemoryCapError extends Error {}

/** The module with every memory it defines limited to `maxBytes` (never raised above its own maximum). */
export function capMemory(module: Uint8Array, maxBytes: number): Uint8Array {
  const capPages = Math.max(1, Math.floor(maxBytes / PAGE));
  const parts: Uint8Array[] = [module.subarray(0, 8)];
  let changed = false;
  for (const section of sections(module)) {
    if (section.id !== 5) {
      parts.push(module.subarray(section.start, section.end));
      continue;
    }
    let p = section.payload;
    const [count, afterCount] = readLeb(module, p);
    p = afterCount;
    const body: number[] = [...leb(count)];
    for (let i = 0; i < count; i++) {
      const flags = module[p++]!;
      if (flags & 0x04) throw new MemoryCapError('64-bit memories are not supported');
      const [min, afterMin] = readLeb(module, p);
      p = afterMin;
      let max: number | undefined;
      if (flags & 0x01) [max, p] = readLeb(module, p);
      if (min > capPages) {
        throw new MemoryCapError(`the component needs ${(min * PAGE) / 2 ** 20} MiB of memory at start, over its ${maxBytes / 2 ** 20} MiB cap`);
      }
      body.push(flags | 0x01, ...leb(min), ...leb(Math.min(max ?? capPages, capPages)));
    }
    parts.push(Uint8Array.from([5, ...leb(body.length)]), Uint8Array.from(body));
    changed = true;
  }
  return changed ? concat(parts) : module;
}
