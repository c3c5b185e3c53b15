import path from 'node:path';
import { RemoteWorker } from '../../runtime/remote/worker.js';
import { UsageError } from '../errors.js';

export interface WorkerOptions {
  server: string;
  token?: string;
  concurrency?: number;
  cacheDir?: string;
  inputCache: number;
  grace: number;
}

/** Pull attempts from a server and run them here until SIGINT/SIGTERM, then hand back what is unfinished. */
export async function workerCommand(opts: WorkerOptions): Promise<number> {
  let url: URL | undefined;
  try {
    url = new URL(opts.server);
  } catch {
    // reported below
  }
  if (!url || !['http:', 'https:'].includes(url.protocol)) throw new UsageError(`--server ${JSON.stringify(opts.server)} is not an http(s) URL, e.g. http://10.0.0.5:8080`);
  // Listened for before anything is said: until a listener exists, SIGTERM kills the process on the spot.
  const stopped = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  const log = (msg: string) => process.stderr.write(`tutti worker: ${msg}\n`);
  const worker = new RemoteWorker({
    server: opts.server,
    token: opts.token ?? process.env.TUTTI_API_TOKEN ?? undefined,
    concurrency: opts.concurrency ?? (await import('node:os')).availableParallelism(),
    cacheDir: path.resolve(opts.cacheDir ?? process.env.TUTTI_WORKER_CACHE ?? path.join('.tutti', 'worker-cache')),
    inputCacheBytes: opts.inputCache,
    log,
  });
  log(`${worker.id} pulling from ${opts.server}`);
  const running = worker.run();
  await Promise.race([running, stopped]);
  log(`stopping: running attempts get ${Math.round(opts.grace / 1000)} s to finish, the rest go back to the server`);
  await worker.stop(opts.grace);
  await running;
  log(`stopped (${worker.counts.succeeded} succeeded, ${worker.counts.failed} failed, ${worker.counts.lost} lost)`);
  return 0;
}
