// In-thread breakdown: instantiate (jco glue + core instances, data segments) vs run (_start).
import { readFileSync } from 'node:fs';
const D = process.env.TUTTI_DIST ?? '/work/wt/python/dist/src/runtime';
const { ComponentCache } = await import(`${D}/component.js`);
const { wasiImports } = await import(`${D}/wasi/imports.js`);
const { emptySource } = await import(`${D}/wasi/streams.js`);
const { ExitSignal } = await import(`${D}/failures.js`);
const comp = await new ComponentCache('/tmp/pyspike/cache').prepare(readFileSync('/tmp/pyspike/python.component.wasm'));
const mem = Number(process.env.MEM ?? 256) * 2 ** 20;
const { modules } = await comp.compile(mem);
const { instantiate } = await import(comp.moduleUrl);
const N = Number(process.argv[2] ?? 30);
const inst = [], run = [], peak = [];
for (let i = 0; i < N + 3; i++) {
  let out = '';
  const mems = [];
  const imports = wasiImports({ args: process.env.ARGS ? JSON.parse(process.env.ARGS) : ['python', '-c', process.argv[3] ?? 'print(1)'], env: [], stdin: emptySource, stdout: { write(b) { out += Buffer.from(b).toString(); } }, stderr: { write(b) { out += Buffer.from(b).toString(); } } });
  const t0 = performance.now();
  const instance = await instantiate((n) => modules[n], imports, async (m, imps) => { const x = new WebAssembly.Instance(m, imps); for (const v of Object.values(x.exports)) if (v instanceof WebAssembly.Memory) mems.push(v); return x; });
  const t1 = performance.now();
  try { instance.run.run(); } catch (e) { if (!(e instanceof ExitSignal && e.code === 0)) { console.log('fail', e, out); process.exit(1); } }
  const t2 = performance.now();
  if (i >= 3) { inst.push(t1 - t0); run.push(t2 - t1); peak.push(Math.max(...mems.map((m) => m.buffer.byteLength)) / 2 ** 20); }
  if (i === 0) console.error('out:', JSON.stringify(out.slice(0, 200)));
}
const st = (xs) => { const s = [...xs].sort((a, b) => a - b); const at = (p) => s[Math.min(s.length - 1, Math.ceil(p / 100 * s.length) - 1)]; return { p50: +at(50).toFixed(1), p99: +at(99).toFixed(1), min: +s[0].toFixed(1) }; };
console.log(JSON.stringify({ n: N, instantiateMs: st(inst), runMs: st(run), totalMs: st(inst.map((x, i) => x + run[i])), memoryMiB: Math.max(...peak) }));
