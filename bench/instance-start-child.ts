/**
 * Workload 5: start a fresh instance from cached compiled modules and call it, p50/p99: a small C
 * command component and a componentize-js typed component, each in this thread. Beside them, in
 * the same run, the costs an orchestrator pays without wasm: a worker_thread and a child process.
 * Prints one JSON line.
 */
import { execFileSync, spawn } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { direct } from './fib-compute.js';

const quick = process.argv.includes('--quick');
const n = quick ? 50 : 1000;

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
  return { n: s.length, p50Ms: at(50), p99Ms: at(99) };
}

async function times(count: number, fn: () => Promise<number>): Promise<number[]> {
  for (let i = 0; i < Math.min(20, count); i++) await fn(); // warm-up: tiers up the glue, fills caches
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(await fn());
  return out;
}

const c = await direct('fib');
const cEnv: [string, string][] = [['TUTTI_PARAM_N', '1']];
const js = await direct('sum'); // typed world, no inputs: reads nothing, writes "0\n"

const worker = async () => {
  const t0 = performance.now();
  const w = new Worker('require("node:worker_threads").parentPort.postMessage(1)', { eval: true });
  await new Promise((r) => w.once('message', r));
  const ms = performance.now() - t0;
  await w.terminate();
  return ms;
};
const child = async () => {
  const t0 = performance.now();
  const p = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((r) => p.once('exit', r));
  return performance.now() - t0;
};
execFileSync('true');

const result = {
  cComponent: stats(await times(n, () => c.call(cEnv))),
  jsComponent: stats(await times(quick ? 20 : 200, () => js.call())),
  workerThread: stats(await times(quick ? 10 : 100, worker)),
  childProcess: stats(await times(quick ? 5 : 50, child)),
};
process.stdout.write(`${JSON.stringify(result)}\n`);
