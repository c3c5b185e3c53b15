/**
 * Splitting inputs by a component's scaling manifest. The inputs are treated as one stream (in
 * order); `bytes` cuts it into equal ranges, `lines` moves every cut forward to just after the next
 * newline, Hadoop-style, so no record is split and N instances see exactly the records one would.
 * A record never spans two inputs: the end of an input ends a record.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type { ScalingManifest } from '../runtime/manifest.js';
import { describeManifest } from '../runtime/manifest.js';
import type { Partition, Slice } from '../runtime/protocol.js';
import type { Plan } from './plan.js';

export interface SplitInput {
  size: number;
  /** Where the bytes are on this machine (read only to find record ends), unless they are in hand. */
  path: string;
  bytes?: Uint8Array;
}

const SCAN = 64 * 1024;

/** Position just after the first newline at or after `from` in input `i`, or the input's end. */
function recordEnd(input: SplitInput, from: number, open: () => number): number {
  if (input.bytes) {
    const nl = input.bytes.indexOf(10, from);
    return nl < 0 ? input.size : nl + 1;
  }
  const buf = new Uint8Array(SCAN);
  const fd = open();
  let pos = from;
  while (pos < input.size) {
    const n = readSync(fd, buf, 0, Math.min(SCAN, input.size - pos), pos);
    if (n === 0) break;
    const nl = buf.subarray(0, n).indexOf(10);
    if (nl >= 0) return pos + nl + 1;
    pos += n;
  }
  return input.size;
}

export function splitByManifest(inputs: SplitInput[], m: ScalingManifest): Plan {
  const total = inputs.reduce((n, i) => n + i.size, 0);
  const n = Math.max(1, Math.min(m.max, Math.ceil(total / m.per)));
  const starts: number[] = [];
  let acc = 0;
  for (const i of inputs) {
    starts.push(acc);
    acc += i.size;
  }
  // Cuts as global offsets, then moved to record ends for `lines`.
  const cuts: number[] = [0];
  const fds = new Map<number, number>();
  try {
    for (let k = 1; k < n; k++) {
      let cut = Math.round((k * total) / n);
      if (m.split === 'lines') {
        const i = inputIndexAt(starts, inputs, cut);
        const local = cut - starts[i]!;
        // A cut right after a newline (or at an input start) is already at a record boundary.
        if (local > 0 && !endsWithNewline(inputs[i]!, local, fds, i)) {
          cut = starts[i]! + recordEnd(inputs[i]!, local, () => fdOf(inputs[i]!, fds, i));
        }
      }
      if (cut > cuts[cuts.length - 1]!) cuts.push(cut);
    }
  } finally {
    for (const fd of fds.values()) closeSync(fd);
  }
  cuts.push(total);
  const ranges: [number, number][] = [];
  for (let k = 0; k + 1 < cuts.length; k++) if (cuts[k + 1]! > cuts[k]! || total === 0) ranges.push([cuts[k]!, cuts[k + 1]!]);
  if (!ranges.length) ranges.push([0, 0]);
  const partitions: Partition[] = ranges.map(([a, b], index) => ({ index, count: ranges.length, slices: slicesOf(a, b, inputs, starts) }));
  return { partitions, policy: `manifest (${describeManifest(m)})` };
}

function inputIndexAt(starts: number[], inputs: SplitInput[], offset: number): number {
  let lo = 0;
  let hi = inputs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  // An offset at the very end of an input belongs to the next non-empty one.
  while (lo < inputs.length - 1 && offset - starts[lo]! >= inputs[lo]!.size) lo++;
  return lo;
}

function fdOf(input: SplitInput, fds: Map<number, number>, i: number): number {
  let fd = fds.get(i);
  if (fd === undefined) fds.set(i, (fd = openSync(input.path, 'r')));
  return fd;
}

function endsWithNewline(input: SplitInput, local: number, fds: Map<number, number>, i: number): boolean {
  if (input.bytes) return input.bytes[local - 1] === 10;
  const b = new Uint8Array(1);
  readSync(fdOf(input, fds, i), b, 0, 1, local - 1);
  return b[0] === 10;
}

function slicesOf(a: number, b: number, inputs: SplitInput[], starts: number[]): Slice[] {
  const out: Slice[] = [];
  inputs.forEach((inp, input) => {
    const s = Math.max(a, starts[input]!);
    const e = Math.min(b, starts[input]! + inp.size);
    if (e > s) out.push({ input, offset: s - starts[input]!, length: e - s });
  });
  return out;
}
