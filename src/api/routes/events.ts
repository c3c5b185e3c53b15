/**
 * Live events over SSE. Stored events are replayed from the client's position (Last-Event-ID or
 * ?after=), then new ones follow: this process's engine wakes the stream at once, and a one-second
 * look at the store catches events written by other servers on the same database.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { eventsAfter, latestEventId } from '../../store/events.js';
import { getRun } from '../../store/runs.js';
import type { Api } from '../context.js';
import { notFound, validationHook } from '../errors.js';
import { err } from '../openapi.js';

const RUN_END = new Set(['run-succeeded', 'run-failed', 'run-cancelled', 'run-skipped']);
const FINAL = new Set(['succeeded', 'failed', 'cancelled', 'skipped']);
const POLL_MS = 1000;
const PING_MS = 15_000;
const After = z.coerce.number().int().min(0).optional().openapi({ description: 'replay events after this id (default: a run\'s whole history; for all runs, only new events)' });
const sse = { content: { 'text/event-stream': { schema: z.string().openapi({ description: 'SSE: `id` = event id, `event` = type, `data` = the event as JSON' }) } } };

export function eventRoutes(api: Api) {
  const app = new OpenAPIHono({ defaultHook: validationHook });
  const { db } = api.tutti.database;

  const stream = (c: Context, runId: string | undefined, after: number) =>
    streamSSE(c, async (s) => {
      let last = after;
      let closed = false;
      let wake: (() => void) | undefined;
      const off = api.tutti.engine.onEvent((e) => {
        if (!runId || e.runId === runId) wake?.();
      });
      s.onAbort(() => {
        closed = true;
        wake?.();
      });
      let quietSince = Date.now();
      // Woken by this process's engine, the new events are usually in its memory; the periodic
      // look (and a gap: an event written by someone else) reads the store.
      let woken = false;
      try {
        while (!closed) {
          const woke = woken;
          const rows = (woken ? api.tutti.engine.recentEvents?.(last, runId, 500) : undefined) ?? (await eventsAfter(db, { runId, afterId: last, limit: 500 }));
          woken = false;
          let ended = false;
          // One write for all of them: a write per event was a syscall per event.
          let text = '';
          for (const e of rows) {
            text += `event: ${e.type}\ndata: ${JSON.stringify(e)}\nid: ${e.id}\n\n`;
            last = e.id;
            if (runId && RUN_END.has(e.type)) ended = true;
          }
          if (text) await s.write(text);
          if (rows.length) quietSince = Date.now();
          // A run's stream ends with the run. An end event in the replay may be one a retry has since
          // undone: only the run's state now says whether it is over.
          if (ended && rows.length < 500 && FINAL.has((await getRun(db, runId!))?.state ?? 'succeeded')) break;
          // Nothing new on a periodic look: a client resuming past a finished run's last event (or
          // at it) would otherwise wait forever for an end event it has already seen.
          if (runId && !rows.length && !woke && FINAL.has((await getRun(db, runId))?.state ?? 'succeeded')) break;
          if (rows.length === 500) continue;
          if (Date.now() - quietSince > PING_MS) {
            await s.write(': ping\n\n');
            quietSince = Date.now();
          }
          await new Promise<void>((r) => {
            const t = setTimeout(r, POLL_MS);
            wake = () => {
              clearTimeout(t);
              woken = true;
              r();
            };
          });
          wake = undefined;
        }
      } finally {
        off();
      }
    });

  const lastEventId = (c: Context) => {
    const h = c.req.header('last-event-id');
    return h && /^\d+$/.test(h) ? Number(h) : undefined;
  };

  app.openapi(
    createRoute({ method: 'get', path: '/runs/{id}/events', summary: 'A run\'s events, live (SSE); the stream ends when the run does', tags: ['events'], request: { params: z.object({ id: z.string().openapi({ param: { name: 'id', in: 'path' } }) }), query: z.object({ after: After }) }, responses: { 200: { description: 'event stream', ...sse }, 404: err('no such run') } }),
    async (c) => {
      const id = c.req.valid('param').id;
      if (!(await getRun(db, id))) throw notFound(`run ${id}`);
      return stream(c, id, lastEventId(c) ?? c.req.valid('query').after ?? 0) as never;
    },
  );

  app.openapi(
    createRoute({ method: 'get', path: '/events', summary: 'Events of all runs, live (SSE)', tags: ['events'], request: { query: z.object({ after: After }) }, responses: { 200: { description: 'event stream', ...sse } } }),
    async (c) => stream(c, undefined, lastEventId(c) ?? c.req.valid('query').after ?? (await latestEventId(db))) as never,
  );

  return app;
}
