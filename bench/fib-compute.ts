/**
 * Components run directly through the runtime in this thread: no scheduler, no database, no
 * worker pool. The baseline the orchestration overhead is measured against, and the instance-start
 * benchmark's subject.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { packageRoot } from '../src/paths.js';
import { ComponentCache, type PreparedComponent } from '../src/runtime/component.js';
import { execute } from '../src/runtime/execute.js';
import { DEFAULT_LIMITS } from '../src/runtime/limits.js';
import type { InstanceJob } from '../src/runtime/protocol.js';
import { median } from './lib.js';

const dir = mkdtempSync(path.join(tmpdir(), 'tutti-bench-direct-'));
// One output file per call, a thousand per run of the instance-start benchmark: gone with the process.
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const cache = new ComponentCache(path.join(dir, 'cache'));

export interface Direct {
  component: PreparedComponent;
  /** One fresh instance, one call; resolves with its wall time in ms. */
  call(env?: [string, string][]): Promise<number>;
}

export async function direct(module: string): Promise<Direct> {
  const component = await cache.prepare(readFileSync(path.join(packageRoot, 'modules/dist', `${module}.wasm`)));
  const compiled = await component.compile(DEFAULT_LIMITS.memoryBytes);
  let n = 0;
  return {
    component,
    async call(env = []) {
      const job: InstanceJob = {
        jobId: ++n,
        modulesKey: compiled.key,
        moduleUrl: component.moduleUrl,
        contract: component.info.contract,
        call: 'run',
        partition: { index: 0, count: 1, slices: [] },
        inputs: [],
        params: [],
        env,
        args: [module],
        outputDir: dir,
        outputStem: `.${n}-`,
        limits: DEFAULT_LIMITS,
      };
      const t0 = performance.now();
      const r = await execute(job, compiled.modules, () => {});
      const ms = performance.now() - t0;
      if (!r.ok) throw new Error(`${module}: ${r.failure.message}`);
      return ms;
    },
  };
}

/** Median wall time of fib(n) in the fib component, after one warm-up call. */
export async function computeMs(n: number, runs: number): Promise<number> {
  const fib = await direct('fib');
  const env: [string, string][] = [['TUTTI_PARAM_N', String(n)]];
  await fib.call(env);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push(await fib.call(env));
  return median(times);
}
