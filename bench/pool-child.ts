/** The same no-op instances through the worker pool alone (no scheduler, no database): the baseline. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { packageRoot } from '../src/paths.js';
import { ComponentCache } from '../src/runtime/component.js';
import { DEFAULT_LIMITS } from '../src/runtime/limits.js';
import { WorkerPool } from '../src/runtime/pool.js';

const n = Number(process.argv[2]);
const workers = Number(process.argv[3] ?? 2);
const dir = mkdtempSync(path.join(tmpdir(), 'tutti-bench-'));
const cache = new ComponentCache(path.join(dir, 'cache'));
const component = await cache.prepare(readFileSync(path.join(packageRoot, 'modules/dist/counter.wasm')));
const pool = new WorkerPool(workers);
const job = (i: number) => ({
  call: 'run' as const,
  partition: { index: i, count: n, slices: [] },
  inputs: [],
  params: [],
  env: [] as [string, string][],
  args: ['noop'],
  outputDir: dir,
  outputStem: `.${i}-`,
  limits: DEFAULT_LIMITS,
});
await Promise.all(Array.from({ length: workers * 4 }, (_, i) => pool.run(component, job(i))));
const t0 = performance.now();
let next = 0;
// Keep every worker busy, as the scheduler does, without holding N promises at once.
await Promise.all(
  Array.from({ length: workers * 4 }, async () => {
    while (next < n) {
      const r = await pool.run(component, job(next++));
      if (!r.ok) throw new Error(r.failure.message);
    }
  }),
);
const wallMs = performance.now() - t0;
await pool.close();
rmSync(dir, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify({ n, workers, wallMs })}\n`);
