// __NAME__ — a typed Tutti task in TypeScript (world tutti:task/planned-task, see wit/task.wit), built
// with componentize-js. The types of the host and of this world come from `jco guest-types` (types/).
//
// plan: one partition per `per` bytes of each input (param `per`, default 1048576).
// run:  counts the words that *start* inside its slices, reading one byte before a slice through
//       host.read's random access to tell whether a word began earlier, so the counts of all
//       partitions add up to the count over the whole input. Writes the count and "\n" to the
//       output asset "words".
//
// componentize-js maps a thrown value with a `payload` to `err(payload)` (an exception without one
// traps the instance), and an imported function's `err(e)` to a thrown Error whose `payload` is e.
import { log, progress, read, write } from 'tutti:task/host@0.1.0';
import type * as World from 'tutti:task/planned-task@0.1.0';
import type { AssetInfo, Param, Partition, TaskError } from 'tutti:task/planned-task@0.1.0';

const CHUNK = 64n * 1024n;
const WORD = /[^ \t\n\v\f\r]+/g;

class Failure<E> extends Error {
  constructor(readonly payload: E) {
    super(String(payload));
  }
}

const hostError = (e: unknown): string => String((e as { payload?: unknown })?.payload ?? e);
const param = (params: Param[], name: string): string | undefined => params.find((p) => p.name === name)?.value;

export function plan(inputs: AssetInfo[], params: Param[]): Partition[] {
  const per = BigInt(param(params, 'per') ?? 1048576);
  if (per <= 0n) throw new Failure(`__NAME__: param per must be a positive number of bytes, got ${per}`);
  const slices = inputs.flatMap((info, input) => {
    const out = [];
    for (let offset = 0n; offset < info.size; offset += per) {
      out.push({ input, offset, length: info.size - offset < per ? info.size - offset : per });
    }
    return out;
  });
  return slices.map((slice, index) => ({ index, count: slices.length, slices: [slice] }));
}

export function run(partition: Partition, _inputs: AssetInfo[], _params: Param[]): void {
  let words = 0;
  partition.slices.forEach((s, i) => {
    try {
      words += countWords(s.input, s.offset, s.length);
    } catch (e) {
      const error: TaskError = { tag: 'retryable', val: `__NAME__: reading input ${s.input}: ${hostError(e)}` };
      throw new Failure(error);
    }
    progress((i + 1) / partition.slices.length);
  });
  write('words', new TextEncoder().encode(`${words}\n`));
  log('info', `partition ${partition.index}: ${words} words`);
}

function countWords(input: number, offset: bigint, length: bigint): number {
  const decoder = new TextDecoder();
  // A word that starts before the slice belongs to the previous partition.
  let inWord = offset > 0n && !isSpace(read(input, offset - 1n, 1n)[0] ?? 32);
  let words = 0;
  for (let pos = offset, end = offset + length; pos < end; ) {
    const bytes = read(input, pos, end - pos < CHUNK ? end - pos : CHUNK);
    if (bytes.length === 0) break;
    const text = decoder.decode(bytes, { stream: true });
    for (const m of text.matchAll(WORD)) if (m.index !== 0 || !inWord) words++;
    inWord = !isSpace(bytes[bytes.length - 1]!);
    pos += BigInt(bytes.length);
  }
  return words;
}

function isSpace(b: number): boolean {
  return b === 32 || (b >= 9 && b <= 13);
}

// Fails to compile when the exports drift from the world in wit/task.wit.
export const _world: { run: typeof World.run; plan: typeof World.plan } = { run, plan };
