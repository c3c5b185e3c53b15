/**
 * The HTTP API. Web-standard Request/Response only, so the same app runs on Node and on Workers.
 * `/healthz` is open; everything under `/api/v1` and `/metrics` needs the bearer token when one is set.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import type { ScheduleLoop } from '../scheduler/schedules.js';
import { bearerToken } from './auth.js';
import { limitBodies } from './body.js';
import { DEFAULT_MAX_JSON, DEFAULT_MAX_UPLOAD, type Api, type ApiHost, type ApiOptions, type RemoteEngine } from './context.js';
import { allowOrigins } from './cors.js';
import { errorResponse, onError, validationHook } from './errors.js';
import { componentRoutes } from './routes/components.js';
import { docsRoutes } from './routes/docs.js';
import { eventRoutes } from './routes/events.js';
import { flowRoutes } from './routes/flows.js';
import { metricsRoutes } from './routes/metrics.js';
import { runRoutes } from './routes/runs.js';
import { statsRoutes } from './routes/stats.js';
import { uiRoutes } from './routes/ui.js';
import { workerRoutes } from './routes/workers.js';

export function createApp(tutti: ApiHost, opts: ApiOptions & { schedules?: ScheduleLoop } = {}) {
  const api: Api = { tutti, schedules: opts.schedules, maxUploadBytes: opts.maxUploadBytes ?? DEFAULT_MAX_UPLOAD, maxJsonBytes: opts.maxJsonBytes ?? DEFAULT_MAX_JSON };
  const app = new OpenAPIHono({ defaultHook: validationHook });
  app.onError(onError);
  app.notFound((c) => errorResponse(c, 404, 'not_found', `no route ${c.req.method} ${c.req.path}`));

  // Before auth: a browser's CORS preflight carries no token.
  allowOrigins(app, opts.corsOrigins ?? []);

  app.get('/healthz', async (c) => {
    await tutti.database.client.execute('SELECT 1');
    return c.json({ ok: true, workers: tutti.pool.size });
  });

  if (opts.token) {
    const auth = bearerToken(opts.token);
    app.use('/api/v1/*', auth);
    app.use('/metrics', auth);
  }
  // After auth: a stranger's body is refused by its token before it is read.
  app.use('/api/v1/*', limitBodies({ upload: api.maxUploadBytes, json: api.maxJsonBytes }));

  const v1 = new OpenAPIHono({ defaultHook: validationHook });
  v1.route('/', componentRoutes(api));
  v1.route('/', flowRoutes(api));
  v1.route('/', runRoutes(api));
  v1.route('/', eventRoutes(api));
  v1.route('/', statsRoutes(api));
  const { engine } = tutti;
  if (engine.leaseRemote) v1.route('/', workerRoutes(engine as RemoteEngine));
  v1.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'Tutti API', version: '1', description: 'Flows of WebAssembly components: upload components, save flows, trigger and follow runs.' },
    servers: [{ url: '/api/v1' }],
    security: opts.token ? [{ bearer: [] }] : [],
  });
  v1.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
  v1.route('/', docsRoutes());
  app.route('/api/v1', v1);
  app.route('/', metricsRoutes(api));
  app.route('/', uiRoutes());
  return app;
}
