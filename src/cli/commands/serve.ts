import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createApp } from '../../api/app.js';
import { tokenProblem } from '../../api/auth.js';
import { Reactor } from '../../scheduler/reactions.js';
import { ScheduleLoop } from '../../scheduler/schedules.js';
import { openTutti, type TuttiOptions } from '../../tutti.js';

export interface ServeOptions extends TuttiOptions {
  port: number;
  host: string;
  token?: string;
  maxUpload?: number;
  maxJson?: number;
  maxConnections?: number;
  corsOrigin?: string[];
  /** On SIGTERM/SIGINT, how long running instances get to finish. */
  grace?: number;
}

const LOCAL = new Set(['127.0.0.1', 'localhost', '::1']);

/** HTTP API + scheduler + schedules + flow triggers + in-process workers until SIGINT/SIGTERM. */
export async function serveCommand(opts: ServeOptions): Promise<number> {
  const token = opts.token ?? process.env.TUTTI_API_TOKEN ?? undefined;
  const badToken = token ? tokenProblem(token) : undefined;
  if (badToken) {
    process.stderr.write(`tutti: cannot serve with this token: ${badToken}\n`);
    return 2;
  }
  if (!token && !LOCAL.has(opts.host)) {
    process.stderr.write(`tutti: warning: serving on ${opts.host} without a token: anyone who can reach it can run code here (set TUTTI_API_TOKEN or --token)\n`);
  }
  // Listened for from the start: until a listener exists, SIGTERM kills the process on the spot
  // (a supervisor stopping a server that has just said it is serving would skip the shutdown).
  const stopped = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  const tutti = await openTutti(opts);
  const log = (msg: string) => process.stderr.write(`tutti: ${msg}\n`);
  const onRun = (id: string) => tutti.engine.notify(id);
  const schedules = new ScheduleLoop({ db: tutti.database.db, assets: tutti.assets, onRun, log });
  const reactor = new Reactor({ db: tutti.database.db, assets: tutti.assets, onRun, log });
  const offReactor = tutti.engine.onEvent((e) => reactor.onEvent(e));
  await tutti.engine.start();
  await reactor.start();
  schedules.start();
  const corsOrigins = [...(opts.corsOrigin ?? []), ...(process.env.TUTTI_CORS_ORIGINS ?? '').split(',').map((o) => o.trim()).filter(Boolean)];
  const app = createApp(tutti, { token: token || undefined, maxUploadBytes: opts.maxUpload, maxJsonBytes: opts.maxJson, schedules, corsOrigins });
  const server = serve({ fetch: app.fetch, port: opts.port, hostname: opts.host });
  // Each connection holds a socket, buffers and maybe a request: past this many, new ones are
  // closed at once rather than taking the process's descriptors and memory.
  (server as Server).maxConnections = opts.maxConnections ?? 1024;
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const workers = opts.workers === 0 ? 'no local workers' : `${tutti.pool.size} workers`;
  process.stderr.write(`tutti serving on http://${opts.host}:${port} (db ${tutti.database.url}, ${workers}${token ? ', token required' : ''})\n`);
  process.stderr.write(`tutti: dashboard at http://${opts.host}:${port}/ui/\n`);
  await stopped;
  const grace = opts.grace ?? 30_000;
  process.stderr.write(`tutti: shutting down: no new work; running instances get ${Math.round(grace / 1000)} s to finish, the rest are handed back\n`);
  await schedules.stop();
  await reactor.stop();
  offReactor();
  // The engine first: remote workers may still report while local instances finish.
  const { released } = await tutti.engine.stop(grace);
  if (released) process.stderr.write(`tutti: handed back ${released} unfinished instance(s); they run again on the next worker\n`);
  // Open SSE streams and long polls would keep close() waiting forever.
  (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
  await new Promise((r) => server.close(r));
  await tutti.close();
  process.stderr.write('tutti: stopped\n');
  return 0;
}
