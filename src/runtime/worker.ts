/** Worker-thread entry: runs instances one at a time, keeping compiled modules between them. */
import { parentPort } from 'node:worker_threads';
import { execute } from './execute.js';
import type { FromWorker, ToWorker } from './protocol.js';

const port = parentPort!;
const modules = new Map<string, Record<string, WebAssembly.Module>>();

port.on('message', async (msg: ToWorker) => {
  const { job } = msg;
  if (msg.coreModules) modules.set(job.modulesKey, msg.coreModules);
  const send = (m: FromWorker) => port.postMessage(m);
  const compiled = modules.get(job.modulesKey);
  const result = compiled
    ? await execute(job, compiled, (fraction) => send({ type: 'progress', jobId: job.jobId, fraction }))
    : ({ ok: false, failure: { kind: 'internal', message: `worker has no modules for ${job.modulesKey}`, retryable: true }, log: '' } as const);
  send({ type: 'done', jobId: job.jobId, result });
});
