// Word count throughput, interleaved rounds in one process: Python-in-Tutti (pool, 1 worker), the C
// wordcount component in Tutti, native python3 and native C on the same text. Medians of rounds.
import { readFileSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
const D = process.env.TUTTI_DIST ?? '/work/wt/python/dist/src/runtime';
const { ComponentCache } = await import(`${D}/component.js`);
const { WorkerPool } = await import(`${D}/pool.js`);
const { DEFAULT_LIMITS } = await import(`${D}/limits.js`);
const PY = process.env.PY ?? '/usr/bin/python3.11';
const text = process.argv[2], rounds = Number(process.argv[3] ?? 5);
const size = statSync(text).size;
const cache = new ComponentCache('/tmp/pyspike/cache');
const py = await cache.prepare(readFileSync('/tmp/pyspike/python.component.wasm'));
const cwc = await cache.prepare(readFileSync((process.env.TUTTI_WT ?? '/work/wt/python') + '/modules/dist/wordcount.wasm'));
const pool = new WorkerPool(1);
const mem = Number(process.env.MEM ?? 256) * 2 ** 20;
let k = 0;
const spec = (args) => ({ call: 'run', partition: { index: 0, count: 1, slices: [{ input: 0, offset: 0, length: size }] },
  inputs: [{ name: 'text', size, mediaType: 'text/plain', path: text }], params: [], env: [], args,
  outputDir: '/tmp/pyspike/out', outputStem: `w${k++}-`, limits: { ...DEFAULT_LIMITS, memoryBytes: mem } });
const outText = (r) => { if (!r.ok) throw new Error(JSON.stringify(r)); const o = r.outputs[0]; return (o.bytes ? Buffer.from(o.bytes).toString() : readFileSync(o.path, 'utf8')).trim(); };
const tutti = async (comp, args) => { const t = performance.now(); const r = await pool.run(comp, spec(args)); return { ms: performance.now() - t, out: outText(r) }; };
const sh = (cmd) => { const t = performance.now(); const out = execFileSync('sh', ['-c', cmd], { encoding: 'utf8' }).trim(); return { ms: performance.now() - t, out }; };
const src = (f) => readFileSync(`/tmp/pyspike/${f}`, 'utf8');
const cases = {
  'tutti-python-chunks64k': () => tutti(py, ['python', '-c', src('wc_chunks64k.py')]),
  'tutti-python-chunks1m': () => tutti(py, ['python', '-c', src('wc_chunks.py')]),
  'tutti-python-lines': () => tutti(py, ['python', '-c', src('wc_lines.py')]),
  'tutti-c-component': () => tutti(cwc, ['wordcount']),
  'native-python3-chunks64k': () => sh(`${PY} /tmp/pyspike/wc_chunks64k.py < ${text}`),
  'native-python3-lines': () => sh(`${PY} /tmp/pyspike/wc_lines.py < ${text}`),
  'native-c': () => sh(`/tmp/pyspike/wc_native < ${text}`),
};
for (const f of Object.values(cases)) await f(); // warm: compile, tier-up glue
const ms = Object.fromEntries(Object.keys(cases).map((n) => [n, []]));
const outs = new Set();
for (let r = 0; r < rounds; r++) {
  const names = Object.keys(cases); if (r % 2) names.reverse();
  for (const n of names) { const x = await cases[n](); ms[n].push(x.ms); outs.add(x.out); }
}
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const res = {};
for (const [n, xs] of Object.entries(ms)) res[n] = { medianMs: Math.round(med(xs)), MiBps: +(size / 2 ** 20 / (med(xs) / 1000)).toFixed(1) };
console.log(JSON.stringify({ sizeMiB: size / 2 ** 20, rounds, counts: [...outs], res }, null, 1));
process.exit(0);
