/** Aggregates for dashboards: runs per hour by state, success rate, duration percentiles, live load. */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { queueDepth, stateCounts } from '../../store/metrics.js';
import { runDurationPercentiles, runsPerHour } from '../../store/run-queries.js';
import type { Api } from '../context.js';
import { validationHook } from '../errors.js';
import { json } from '../openapi.js';
import { StatsSchema } from '../schemas.js';

const HOUR = 3_600_000;

export function statsRoutes(api: Api) {
  const app = new OpenAPIHono({ defaultHook: validationHook });
  const { db } = api.tutti.database;
  app.openapi(
    createRoute({
      method: 'get',
      path: '/stats',
      summary: 'Runs per hour, success rate, run duration p50/p95, instances running and queue depth',
      tags: ['runs'],
      request: {
        query: z.object({
          hours: z.coerce.number().int().min(1).max(24 * 90).default(24).openapi({ description: 'window, counted back from now' }),
          flow: z.string().optional(),
        }),
      },
      responses: { 200: { description: 'the numbers', ...json(StatsSchema) } },
    }),
    async (c) => {
      const { hours, flow } = c.req.valid('query');
      const now = Date.now();
      const since = Math.floor((now - hours * HOUR) / HOUR) * HOUR + HOUR;
      const [perHour, durations, counts, queued] = await Promise.all([
        runsPerHour(db, since, flow),
        runDurationPercentiles(db, since, [0.5, 0.95], flow),
        stateCounts(db),
        queueDepth(db, now),
      ]);
      const buckets = new Map<number, Record<string, number>>();
      for (let h = since; h <= now; h += HOUR) buckets.set(h, {});
      for (const r of perHour) buckets.set(r.hour, { ...buckets.get(r.hour), [r.state]: r.n });
      const total = (s: string) => perHour.filter((r) => r.state === s).reduce((a, r) => a + r.n, 0);
      const succeeded = total('succeeded');
      const failed = total('failed');
      const pct = (p: number) => durations.percentiles.find((x) => x.p === p)?.ms ?? null;
      const instances = Object.fromEntries(counts.instances.map((r) => [r.state, r.n]));
      return c.json(
        {
          since, until: now,
          hours: [...buckets].map(([hour, states]) => ({ hour, states })),
          succeeded, failed,
          successRate: succeeded + failed ? succeeded / (succeeded + failed) : null,
          durationMs: { p50: pct(0.5), p95: pct(0.95), finished: durations.finished },
          instancesRunning: instances.running ?? 0,
          queueDepth: queued,
          workers: api.tutti.pool.size,
        },
        200,
      );
    },
  );
  return app;
}
