/** The HTTP API. Web-standard Request/Response only, so the same app runs on Node and on Workers. */
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Tutti } from '../tutti.js';

export function createApp(tutti: Tutti) {
  const app = new OpenAPIHono();
  app.get('/healthz', async (c) => {
    await tutti.database.client.execute('SELECT 1');
    return c.json({ ok: true, workers: tutti.pool.size });
  });
  return app;
}
