// split-sum — a typed Tutti task with its own scaling policy (world `tutti:task/planned-task`).
//
// plan: one partition per `per` bytes of each input (param `per`, default 1 MiB).
// run:  sums the integers on the lines its slices own, Hadoop-style: a slice owns every line that
//       starts inside it, so it skips a partial first line and reads past its end (host.read gives
//       random access to the whole input) to finish its last one. The sum over N partitions equals
//       the sum over one. Output "sum": the decimal total and "\n".
import { read, write, progress } from 'tutti:task/host@0.1.0';

const CHUNK = 64n * 1024n;
const decoder = () => new TextDecoder();
const param = (params, name) => params.find((p) => p.name === name)?.value;

export function plan(inputs, params) {
  const per = BigInt(param(params, 'per') ?? 1024 * 1024);
  if (per <= 0n) return { tag: 'err', val: `per must be positive, got ${per}` };
  const slices = [];
  inputs.forEach((inp, input) => {
    for (let offset = 0n; offset < inp.size; offset += per) {
      slices.push({ input, offset, length: inp.size - offset < per ? inp.size - offset : per });
    }
  });
  return { tag: 'ok', val: slices.map((s, index) => ({ index, count: slices.length, slices: [s] })) };
}

export function run(partition, inputs, _params) {
  try {
    let total = 0n;
    partition.slices.forEach((s, i) => {
      total += sumSlice(s, inputs[s.input].size);
      progress((i + 1) / partition.slices.length);
    });
    write('sum', new TextEncoder().encode(`${total}\n`));
    return { tag: 'ok', val: undefined };
  } catch (e) {
    return { tag: 'err', val: { tag: 'permanent', val: `split-sum: ${e && e.payload !== undefined ? e.payload : e}` } };
  }
}

function sumSlice({ input, offset, length }, size) {
  let pos = offset;
  const end = offset + length;
  if (pos > 0n && read(input, pos - 1n, 1n)[0] !== 10) pos = afterNewline(input, pos, size);
  if (pos >= end) return 0n;
  const dec = decoder();
  let text = '';
  while (pos < size) {
    const chunk = read(input, pos, CHUNK);
    if (chunk.length === 0) break;
    let take = chunk.length;
    if (pos + BigInt(chunk.length) >= end) {
      // Past our end: keep reading only to finish the line that started inside the slice.
      const from = pos >= end ? 0 : Number(end - pos);
      const nl = chunk.indexOf(10, Math.max(0, from - 1));
      if (nl >= 0) take = nl + 1;
      text += dec.decode(chunk.subarray(0, take), { stream: true });
      if (nl >= 0) break;
    } else {
      text += dec.decode(chunk, { stream: true });
    }
    pos += BigInt(take);
  }
  let total = 0n;
  for (const tok of text.split(/\s+/)) if (tok) total += BigInt(tok);
  return total;
}

function afterNewline(input, pos, size) {
  while (pos < size) {
    const chunk = read(input, pos, CHUNK);
    const nl = chunk.indexOf(10);
    if (nl >= 0) return pos + BigInt(nl) + 1n;
    pos += BigInt(chunk.length);
  }
  return size;
}
