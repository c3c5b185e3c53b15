/**
 * BullMQ peer: Debian's redis-server started on a free port of 127.0.0.1 with no config file (so
 * Redis's built-in defaults: RDB snapshots, no append-only file), a worker process
 * (bullmq-steps.mjs), and the client here: FlowProducer chains for the sequential workloads,
 * plain jobs for the one-step ones, completion observed through QueueEvents.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { FlowProducer, Queue, QueueEvents } from 'bullmq';
import { freePort, installedVersion, ipcReady, ipcRequest, isMain, peerMain, peersDir, runWorkloads, waitFor, watchExit } from './common.mjs';

// The worker runs jobs concurrently up to the number of runs the throughput workload keeps in
// flight, as Restate and DBOS do; the sequential workloads never have more than one job ready.
const CONCURRENCY = 64;

export async function bench({ scope, quick, log }) {
  const dir = scope.tmpDir('bullmq');
  const port = await freePort();
  const redisVersion = execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).match(/v=(\S+)/)?.[1] ?? '?';
  // --dir keeps the default RDB snapshot inside the temp dir; nothing about persistence is changed.
  const redis = scope.spawn('redis-server', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no'], { logDir: dir });
  const died = watchExit(redis);
  died.catch(() => {});
  const cli = (...args) => execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  await Promise.race([died, waitFor('redis-server', () => cli('ping') === 'PONG')]);
  const persistence = `appendonly=${cli('config', 'get', 'appendonly').split('\n')[1]}, save="${cli('config', 'get', 'save').split('\n')[1]}"`;
  log(`redis-server ${redisVersion} on :${port} (${persistence})`);

  const connection = { host: '127.0.0.1', port };
  const worker = scope.fork('bullmq-worker', path.join(peersDir, 'bullmq-steps.mjs'), [String(port), String(CONCURRENCY)], { logDir: dir });
  await ipcReady(worker);
  const workerDied = watchExit(worker);
  workerDied.catch(() => {});

  const queue = new Queue('bench', { connection });
  const flows = new FlowProducer({ connection });
  const events = new QueueEvents('bench', { connection });
  // waitUntilFinished adds listeners per job in flight to the events and to the job's queue.
  for (const e of [queue, flows, events]) e.setMaxListeners(0);
  await Promise.all([queue.waitUntilReady(), flows.waitUntilReady(), events.waitUntilReady()]);
  scope.onClose(async () => {
    if (worker.connected) await ipcRequest(worker, { type: 'shutdown' }, 10_000);
    await Promise.all([queue.close(), flows.close(), events.close()]);
  });

  const call = async (steps, n) => {
    if (steps === 1) {
      const job = await queue.add('fib', { n });
      return job.waitUntilFinished(events);
    }
    // The last step is the root: a FlowProducer parent runs after its child, so nesting
    // steps-1 levels deep gives a chain in which step i+1 starts only after step i completed.
    let node = { name: 'fib', queueName: 'bench', data: { n } };
    for (let i = 1; i < steps; i++) node = { name: 'fib', queueName: 'bench', data: { n }, children: [node] };
    const tree = await flows.add(node);
    return tree.job.waitUntilFinished(events);
  };
  const compute = async (n, times) => (await ipcRequest(worker, { type: 'compute', n, times })).ms;
  const result = await Promise.race([died, workerDied, runWorkloads({ call, compute, quick, log })]);
  return {
    ...result,
    notes: [
      `bullmq ${installedVersion('bullmq')} (ioredis ${installedVersion('ioredis')}) on redis-server ${redisVersion} (Debian), no config file`,
      `durability: Redis defaults, ${persistence}: RDB snapshots only, no fsync per job; a crash loses up to the last snapshot interval`,
      'sequential workloads: a FlowProducer chain (each step the parent of the previous); one-step workloads: plain jobs; completion seen through QueueEvents',
      `one Worker (concurrency ${CONCURRENCY}) in a separate Node process; the client (Queue, FlowProducer, QueueEvents) is the benchmark process`,
    ],
  };
}

if (isMain(import.meta.url)) await peerMain('bullmq', bench);
