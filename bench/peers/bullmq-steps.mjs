/**
 * BullMQ's step process: one Worker on the `bench` queue. A job is one step (fib of its `n`);
 * in a FlowProducer chain a parent job becomes runnable only when its child has completed.
 */
import { Worker } from 'bullmq';
import { fib, serveStepProcess } from './common.mjs';

const [port, concurrency] = process.argv.slice(2).map(Number);
const worker = new Worker('bench', async (job) => fib(job.data.n), {
  connection: { host: '127.0.0.1', port },
  concurrency,
});
serveStepProcess({ shutdown: async () => (await worker.close(), {}) });
await worker.waitUntilReady();
process.send({ type: 'ready' });
