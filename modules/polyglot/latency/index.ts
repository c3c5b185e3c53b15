// latency — step 2b of the polyglot log-analytics flow (AssemblyScript, wasi:cli/command).
//
// stdin: every `parse` instance's "STATUS MILLIS" lines, concatenated (a fan-in).
// stdout: "COUNT SUM MAX\n" of the MILLIS column.
const chunk = new ArrayBuffer(64 * 1024);
let count: u64 = 0;
let sum: u64 = 0;
let max: u64 = 0;
let field = 0; // 0: status, 1: millis, 2: past the fields of this line
let value: u64 = 0;
let digits = false;

function endField(): void {
  if (field == 1 && digits) {
    count++;
    sum += value;
    if (value > max) max = value;
  }
}

for (;;) {
  const n = process.stdin.read(chunk);
  if (n <= 0) break;
  const bytes = Uint8Array.wrap(chunk, 0, <i32>n);
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b >= 48 && b <= 57) {
      if (field == 1) value = value * 10 + <u64>(b - 48);
      digits = true;
    } else if (b == 10) {
      endField();
      field = 0;
      value = 0;
      digits = false;
    } else if (digits) {
      endField();
      field++;
      value = 0;
      digits = false;
    }
  }
}
endField();
process.stdout.write(`${count} ${sum} ${max}\n`);
process.stderr.write(`latency: ${count} requests\n`);
