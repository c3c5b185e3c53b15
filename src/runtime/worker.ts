/** Worker-thread entry: runs instances one at a time, in the order given, keeping compiled modules between them. */
import { parentPort } from 'node:worker_threads';
import { execute, loadBindings, prepareNext } from './execute.js';
import { CELL, type FromWorker, type InstanceJob, type InstanceResult, type ToWorker } from './protocol.js';

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

/** The job that ran last and its result: what a `fromPrevious` job reads. */
let previous: { jobId: number; result: InstanceResult } | undefined;

async function runJob(job: InstanceJob): Promise<void> {
  const t0 = performance.now();
  Atomics.store(cells, CELL.startedAt, Date.now() - epoch);
  Atomics.store(cells, CELL.started, job.jobId);
  const compiled = modules.get(job.modulesKey);
  const jobId = job.jobId;
  let result: InstanceResult;
  if (job.fromPrevious && !withPreviousOutputs(job)) {
    result = { ok: false, failure: { kind: 'cancelled', message: 'the job it follows did not succeed', retryable: true }, log: '' };
  } else {
    result = compiled
      ? await execute(job, compiled, (fraction) => send({ type: 'progress', jobId, fraction }))
      : { ok: false, failure: { kind: 'internal', message: `worker has no modules for ${job.modulesKey}`, retryable: true }, log: '' };
  }
  previous = { jobId, result };
  Atomics.store(cells, CELL.finished, jobId);
  send({ type: 'done', jobId, result, ms: performance.now() - t0 });
}

/** Give a `fromPrevious` job the outputs of the job just before it; false when that one failed. */
function withPreviousOutputs(job: InstanceJob): boolean {
  const prev = previous?.jobId === job.jobId - 1 ? previous.result : undefined;
  if (!prev?.ok || !job.fromPrevious) return false;
  const { taskId, idx } = job.fromPrevious;
  const outputs = [...prev.outputs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  job.inputs = outputs.map((o) => ({ name: `${taskId}/${idx}/${o.name}`, size: o.size, mediaType: 'application/octet-stream', path: o.path, bytes: o.bytes }));
  job.partition = { ...job.partition, slices: outputs.map((o, input) => ({ input, offset: 0, length: o.size })) };
  return true;
}
