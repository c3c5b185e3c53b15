/** Worker-thread entry: runs instances one at a time, in the order given, keeping compiled modules between them. */
import { parentPort } from 'node:worker_threads';
import { execute, loadBindings, prepareNext } from './execute.js';
import { CELL, type FromWorker, type InstanceJob, type ToWorker } from './protocol.js';

const port = parentPort!;
const modules = new Map<string, Record<string, WebAssembly.Module>>();
const queue: InstanceJob[] = [];
let cells: Int32Array = new Int32Array(3);
let epoch = Date.now();
let draining = false;

const send = (m: FromWorker) => port.postMessage(m);

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'init') {
    cells = msg.cells;
    epoch = msg.epoch;
    return;
  }
  if (msg.type === 'skip') {
    // Too late when it already ran: then its result is simply not awaited any more.
    const i = queue.findIndex((j) => j.jobId === msg.jobId);
    if (i >= 0) queue.splice(i, 1);
    return;
  }
  for (const [key, set] of Object.entries(msg.modules)) modules.set(key, set);
  if (msg.type === 'load') {
    void loadBindings(msg.moduleUrl).catch(() => {});
    return;
  }
  queue.push(...msg.jobs);
  if (!draining) void drain();
});

/** The component of the last job, and whether the one before used it too. */
let lastKey: string | undefined;
let repeated = false;

async function drain(): Promise<void> {
  draining = true;
  do {
    let last: InstanceJob | undefined;
    for (let job = queue.shift(); job; job = queue.shift()) {
      repeated = job.modulesKey === lastKey;
      lastKey = job.modulesKey;
      last = job;
      await runJob(job);
    }
    // Idle now: make the next instance of a component that keeps coming before it is asked for.
    const compiled = last && repeated ? modules.get(last.modulesKey) : undefined;
    if (compiled) await prepareNext(last!, compiled);
  } while (queue.length);
  draining = false;
}

async function runJob(job: InstanceJob): Promise<void> {
  const t0 = performance.now();
  Atomics.store(cells, CELL.startedAt, Date.now() - epoch);
  Atomics.store(cells, CELL.started, job.jobId);
  const compiled = modules.get(job.modulesKey);
  const jobId = job.jobId;
  const result = compiled
    ? await execute(job, compiled, (fraction) => send({ type: 'progress', jobId, fraction }))
    : ({ ok: false, failure: { kind: 'internal', message: `worker has no modules for ${job.modulesKey}`, retryable: true }, log: '' } as const);
  Atomics.store(cells, CELL.finished, jobId);
  send({ type: 'done', jobId, result, ms: performance.now() - t0 });
}
