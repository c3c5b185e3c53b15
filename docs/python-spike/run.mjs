// Spike: run python.component.wasm through Tutti's own runtime (ComponentCache + WorkerPool).
import { readFileSync, statSync, rmSync, mkdirSync } from 'node:fs';
const D = process.env.TUTTI_DIST ?? '/work/wt/python/dist/src/runtime';
const { ComponentCache } = await import(`${D}/component.js`);
const { WorkerPool } = await import(`${D}/pool.js`);
const { DEFAULT_LIMITS } = await import(`${D}/limits.js`);
const mode = process.argv[2];
const cacheDir = '/tmp/pyspike/cache';
if (process.argv.includes('--fresh')) rmSync(cacheDir, { recursive: true, force: true });
const bytes = readFileSync('/tmp/pyspike/python.component.wasm');
let t0 = performance.now();
const cache = new ComponentCache(cacheDir);
const comp = await cache.prepare(bytes);
const tPrep = performance.now() - t0;
const memMiB = Number(process.env.MEM ?? 256);
t0 = performance.now();
await comp.compile(memMiB * 2 ** 20);
const tCompile = performance.now() - t0;
console.error(JSON.stringify({ prepareMs: Math.round(tPrep), compileMs: Math.round(tCompile), memMiB }));
const pool = new WorkerPool(1);
let n = 0;
function spec(src, inputPath, env = []) {
  const inputs = inputPath ? [{ name: 'text', size: statSync(inputPath).size, mediaType: 'text/plain', path: inputPath }] : [];
  return {
    call: 'run', partition: { index: 0, count: 1, slices: inputs.map((i, k) => ({ input: k, offset: 0, length: i.size })) },
    inputs, params: [], env, args: ['python', '-c', src],
    outputDir: '/tmp/pyspike/out', outputStem: `o${n++}-`,
    limits: { ...DEFAULT_LIMITS, memoryBytes: memMiB * 2 ** 20 },
  };
}
const show = (r) => ({ ...r, outputs: r.outputs?.map((o) => ({ size: o.size, text: o.bytes ? Buffer.from(o.bytes).toString().slice(0, 400) : readFileSync(o.path, 'utf8').slice(0, 400) })), log: r.log?.slice(-600) });
async function once(src, input, opts = {}) {
  const t = performance.now();
  const r = await pool.run(comp, spec(src, input, opts.env), { timeoutMs: opts.timeoutMs ?? 60000 });
  return { wallMs: performance.now() - t, r };
}
if (mode === 'one') {
  const { wallMs, r } = await once(process.argv[3], process.argv[4] && process.argv[4] !== '-' ? process.argv[4] : undefined, { timeoutMs: Number(process.env.TIMEOUT ?? 60000), env: process.env.ENVS ? JSON.parse(process.env.ENVS) : [] });
  console.log(JSON.stringify({ wallMs: Math.round(wallMs), ...show(r) }, null, 1));
} else if (mode === 'start') {
  const N = Number(process.argv[3] ?? 20);
  for (let i = 0; i < 3; i++) await once('print(1)');
  const wall = [], ran = [];
  for (let i = 0; i < N; i++) { const { wallMs, r } = await once('print(1)'); if (!r.ok) throw new Error(JSON.stringify(show(r))); wall.push(wallMs); ran.push(r.ms); }
  const st = (xs) => { const s = [...xs].sort((a, b) => a - b); const at = (p) => s[Math.min(s.length - 1, Math.ceil(p / 100 * s.length) - 1)]; return { p50: +at(50).toFixed(1), p99: +at(99).toFixed(1), min: +s[0].toFixed(1) }; };
  console.log(JSON.stringify({ n: N, wallMs: st(wall), workerMs: st(ran) }));
} else if (mode === 'file') {
  const src = readFileSync(process.argv[3], 'utf8');
  const { wallMs, r } = await once(src, process.argv[4]);
  console.log(JSON.stringify({ wallMs: Math.round(wallMs), ...show(r) }));
}
await pool.close?.();
process.exit(0);
