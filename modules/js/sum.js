// sum — a typed Tutti task (world `tutti:task/task`), built with componentize-js.
//
// Reads every slice of its partition through the host (64 KiB at a time), parses each
// whitespace-separated token as a signed decimal integer, and appends the total plus "\n"
// to the output asset "sum". A token that is not an integer fails the task permanently,
// naming the input and the byte offset of the token.
//
// Each slice is parsed on its own: a slice end also ends a token.
//
// componentize-js conventions used here:
// - imports come from the *versioned* interface name: 'tutti:task/host@0.1.0';
// - the world's `export run: func(...)` is a plain `export function run` of this module;
// - `result<_, task-error>`: returning `{ tag: 'ok' | 'err', val }` gives that result, any
//   other return value is `ok`; throwing a value with a `payload` property gives
//   `err(payload)`, but throwing an Error without `payload` traps the instance. So `run`
//   returns `err` explicitly and never lets an exception escape. A task-error is the
//   variant `{ tag: 'retryable' | 'permanent', val: string }`;
// - imported functions returning `result<T, E>` return T, or throw an Error whose
//   `payload` is E.
//
// The engine runs JS in an interpreter, so the hot path avoids per-byte JS loops:
// each chunk is decoded natively and tokens are found with a regular expression.
import { read, write, log, progress } from 'tutti:task/host@0.1.0';

const CHUNK = 64 * 1024;
const MAX_TOKEN = 1024 * 1024;
const FLUSH_AT = 2 ** 52;
const TOKEN = /[^ \t\n\r\v\f]+/g;
const FAST_INT = /^[+-]?\d{1,15}$/; // exact as a double
const INT = /^[+-]?\d+$/;

/** A failure that `run` reports as `err(task-error)`. */
class TaskError extends Error {
  constructor(tag, message) {
    super(message);
    this.tag = tag;
  }
}

const errorText = (e) => (e && e.payload !== undefined ? String(e.payload) : String(e));

function isSpace(b) {
  // ' ' or '\t' '\n' '\v' '\f' '\r'
  return b === 32 || (b >= 9 && b <= 13);
}

export function run(partition, inputs, params) {
  try {
    sum(partition, inputs, params);
    return { tag: 'ok', val: undefined };
  } catch (e) {
    if (e instanceof TaskError) return { tag: 'err', val: { tag: e.tag, val: e.message } };
    // A bug in this task: fail for good, with what the engine knows about it.
    const detail = e && e.stack ? `${e}\n${e.stack}` : String(e);
    return { tag: 'err', val: { tag: 'permanent', val: `sum: internal error: ${detail}` } };
  }
}

function sum(partition, inputs, params) {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let small = 0; // exact partial sum, |small| < 2^53
  let big = 0n;
  let count = 0;
  let totalBytes = 0;
  for (const s of partition.slices) totalBytes += Number(s.length);
  let doneBytes = 0;

  const add = (tok, name, base, text, index) => {
    if (FAST_INT.test(tok)) {
      small += Number(tok);
      if (small >= FLUSH_AT || small <= -FLUSH_AT) {
        big += BigInt(small);
        small = 0;
      }
    } else if (INT.test(tok)) {
      big += BigInt(tok);
    } else {
      // Byte offset of the token: exact even when the text before it is not ASCII.
      const offset = base + BigInt(encoder.encode(text.slice(0, index)).length);
      const shown = tok.length > 40 ? `${tok.slice(0, 40)}…` : tok;
      throw new TaskError(
        'permanent',
        `input "${name}" at offset ${offset}: ${JSON.stringify(shown)} is not an integer`,
      );
    }
    count++;
  };

  const parse = (bytes, name, base) => {
    const text = decoder.decode(bytes);
    TOKEN.lastIndex = 0;
    let m;
    while ((m = TOKEN.exec(text)) !== null) add(m[0], name, base, text, m.index);
  };

  for (const slice of partition.slices) {
    const input = slice.input;
    const name = inputs[input] ? inputs[input].name : `#${input}`;
    const end = BigInt(slice.offset) + BigInt(slice.length);
    let pos = BigInt(slice.offset);
    let carry = new Uint8Array(0); // the unfinished token at the end of the last chunk

    while (pos < end) {
      const left = end - pos;
      const want = left < BigInt(CHUNK) ? left : BigInt(CHUNK);
      let bytes;
      try {
        bytes = read(input, pos, want);
      } catch (e) {
        throw new TaskError('retryable', `reading input "${name}" at offset ${pos}: ${errorText(e)}`);
      }
      if (bytes.length === 0) break; // the input is shorter than the slice

      let buf = bytes;
      if (carry.length > 0) {
        buf = new Uint8Array(carry.length + bytes.length);
        buf.set(carry);
        buf.set(bytes, carry.length);
      }
      const base = pos - BigInt(carry.length);
      pos += BigInt(bytes.length);
      doneBytes += bytes.length;

      // Parse up to the last whitespace byte; keep the tail for the next chunk.
      let cut = buf.length;
      if (pos < end) {
        while (cut > 0 && !isSpace(buf[cut - 1])) cut--;
      }
      parse(buf.subarray(0, cut), name, base);
      carry = buf.slice(cut);
      if (carry.length > MAX_TOKEN) {
        throw new TaskError(
          'permanent',
          `input "${name}" at offset ${base + BigInt(cut)}: token longer than ${MAX_TOKEN} bytes is not an integer`,
        );
      }
      if (totalBytes > 0) progress(Math.min(1, doneBytes / totalBytes));
    }
    if (carry.length > 0) parse(carry, name, pos - BigInt(carry.length));
  }

  const total = big + BigInt(small);
  try {
    write('sum', encoder.encode(`${total}\n`));
  } catch (e) {
    throw new TaskError('permanent', `writing output "sum": ${errorText(e)}`);
  }
  log('info', `summed ${count} integers from ${partition.slices.length} slice(s): ${total}`);
  progress(1);
}
