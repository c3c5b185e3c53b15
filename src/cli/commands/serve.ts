import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createApp } from '../../api/app.js';
import { openTutti, type TuttiOptions } from '../../tutti.js';

export interface ServeOptions extends TuttiOptions {
  port: number;
  host: string;
}

/** HTTP API + scheduler + in-process workers until SIGINT/SIGTERM. */
export async function serveCommand(opts: ServeOptions): Promise<number> {
  const tutti = await openTutti(opts);
  await tutti.engine.start();
  const app = createApp(tutti);
  const server = serve({ fetch: app.fetch, port: opts.port, hostname: opts.host });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  process.stderr.write(`tutti serving on http://${opts.host}:${port} (db ${tutti.database.url}, ${tutti.pool.size} workers)\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  process.stderr.write('tutti: shutting down\n');
  await new Promise((r) => server.close(r));
  await tutti.close();
  return 0;
}
