/**
 * Linear-memory caps. A wasm memory can only be bounded by its declared maximum, so the cap is
 * written into the core module's memory section before it is compiled: past it, `memory.grow`
 * fails inside the guest (malloc returns NULL) and the process stays healthy.
 */

const PAGE = 65536;

function readLeb(bytes: Uint8Array, pos: number): [value: number, next: number] {
  let result = 0;
  let shift = 0;
  for (;;) {
    const b = bytes[pos++]!;
    result += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return [result, pos];
    shift += 7;
  }
}

function leb(value: number): number[] {
  const out: number[] = [];
  do {
    let b = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) b |= 0x80;
    out.push(b);
  } while (value > 0);
  return out;
}

export class MemoryCapError extends Error {}

/** The module with every memory it defines limited to `maxBytes` (never raised above its own maximum). */
export function capMemory(module: Uint8Array, maxBytes: number): Uint8Array {
  const capPages = Math.max(1, Math.floor(maxBytes / PAGE));
  const parts: Uint8Array[] = [module.subarray(0, 8)];
  let pos = 8;
  let changed = false;
  while (pos < module.length) {
    const id = module[pos]!;
    const [size, start] = readLeb(module, pos + 1);
    const end = start + size;
    if (id !== 5) {
      parts.push(module.subarray(pos, end));
    } else {
      let p = start;
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
      const content = Uint8Array.from(body);
      parts.push(Uint8Array.from([5, ...leb(content.length)]), content);
      changed = true;
    }
    pos = end;
  }
  if (!changed) return module;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
