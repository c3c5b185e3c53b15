/**
 * CORS for a dashboard (or any browser app) served from another origin than the API. Only the
 * listed origins are allowed; "*" allows any. Bearer tokens travel in a header, not cookies, so
 * credentials mode is never needed.
 */
import type { Hono } from 'hono';
import { cors } from 'hono/cors';

export function allowOrigins(app: Hono<any, any, any>, origins: string[]) {
  if (!origins.length) return;
  const any = origins.includes('*');
  const allowed = new Set(origins.map((o) => o.replace(/\/+$/, '')));
  const mw = cors({
    origin: (origin) => (any ? origin || '*' : allowed.has(origin) ? origin : null),
    allowMethods: ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'],
    allowHeaders: ['Authorization', 'Content-Type', 'Last-Event-ID'],
    // The log route says which attempt it returned; downloads name their file.
    exposeHeaders: ['X-Tutti-Attempt', 'Content-Disposition', 'Content-Length'],
    maxAge: 600,
  });
  app.use('/api/v1/*', mw);
  app.use('/metrics', mw);
  app.use('/healthz', mw);
}
