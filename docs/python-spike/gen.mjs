// The same deterministic text as bench/run.ts textOf (seed 7), N MiB.
import { writeFileSync } from 'node:fs';
const mib = Number(process.argv[2] ?? 32), target = mib * 2 ** 20;
const words = ['alpha', 'be', 'gamma', 'delta', 'e', 'zeta', 'theta', 'iota', 'kappa', 'lambda'];
let seed = 7, parts = [], written = 0;
while (written < target) {
  let chunk = '';
  while (chunk.length < 1 << 20) { seed = (seed * 1103515245 + 12345) % 2 ** 31; chunk += words[seed % 10] + (seed % 13 === 0 ? '\n' : seed % 7 === 0 ? '\t' : ' '); }
  chunk = chunk.slice(0, Math.min(chunk.length, target - written)); written += chunk.length; parts.push(chunk);
}
writeFileSync(process.argv[3], parts.join(''));
