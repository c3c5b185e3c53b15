// __NAME__ — a Tutti task in AssemblyScript (wasi:cli/command world): counts the words of its input.
//
// stdin is this instance's partition of the inputs, stdout becomes the output asset "stdout",
// stderr is the instance log, and a non-zero exit status fails the instance (retryable).
// @assemblyscript/wasi-shim maps `process` to WASI; the program is top-level statements because
// the shim exports `_start` itself.

const chunk = new ArrayBuffer(64 * 1024);
let words: u64 = 0;
let inWord = false;
for (;;) {
  const n = process.stdin.read(chunk);
  if (n <= 0) break;
  const bytes = Uint8Array.wrap(chunk, 0, <i32>n);
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    const space = b == 32 || (b >= 9 && b <= 13);
    if (!space && !inWord) words++;
    inWord = !space;
  }
}
const part = process.env.has('TUTTI_PARTITION_INDEX') ? process.env.get('TUTTI_PARTITION_INDEX') : '?';
process.stderr.write(`__NAME__: partition ${part}: ${words} words\n`);
process.stdout.write(`${words}\n`);
