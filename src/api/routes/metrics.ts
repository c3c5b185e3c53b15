/** /metrics in the Prometheus text format (prom-client): state gauges read from the store at scrape time. */
import { Hono } from 'hono';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { queueDepth, runDurations, stateCounts } from '../../store/metrics.js';
import type { Api } from '../context.js';

export function metricsRoutes(api: Api) {
  const { db } = api.tutti.database;
  const registry = new Registry();
  let counts: Promise<Awaited<ReturnType<typeof stateCounts>>> | undefined;
  // One set of queries per scrape, shared by the gauges below.
  const current = () => (counts ??= stateCounts(db).finally(() => setTimeout(() => (counts = undefined), 0)));

  new Gauge({
    name: 'tutti_runs', help: 'Runs by flow and state', labelNames: ['flow', 'state'], registers: [registry],
    async collect() {
      this.reset();
      for (const r of (await current()).runs) this.set({ flow: r.flowId, state: r.state }, r.n);
    },
  });
  new Gauge({
    name: 'tutti_task_runs', help: 'Task runs by state', labelNames: ['state'], registers: [registry],
    async collect() {
      this.reset();
      for (const r of (await current()).taskRuns) this.set({ state: r.state }, r.n);
    },
  });
  new Gauge({
    name: 'tutti_instances', help: 'Instances by state', labelNames: ['state'], registers: [registry],
    async collect() {
      this.reset();
      for (const r of (await current()).instances) this.set({ state: r.state }, r.n);
    },
  });
  new Gauge({
    name: 'tutti_queue_depth', help: 'Instances ready to run and waiting for a worker', registers: [registry],
    async collect() {
      this.set(await queueDepth(db, Date.now()));
    },
  });
  new Gauge({ name: 'tutti_workers', help: 'Worker threads of this process', registers: [registry], collect() { this.set(api.tutti.pool.size); } });
  const ahead = api.tutti.engine.linksAhead;
  if (ahead) new Counter({
    name: 'tutti_chain_links_ahead_total', help: 'Chain links run ahead in a worker by this process: taken by their dispatch, or not', labelNames: ['outcome'], registers: [registry],
    collect() {
      this.reset();
      this.inc({ outcome: 'taken' }, ahead.taken);
      this.inc({ outcome: 'not-taken' }, ahead.notTaken);
    },
  });
  // Runs that ended here since the last scrape: their times are read then, in one query per
  // thousand, not one per run (or every 10,000 ends, so that a server nobody scrapes holds few).
  let ended: string[] = [];
  const durations = new Histogram({
    name: 'tutti_run_duration_seconds', help: 'Wall time of runs finished by this process, from start to end', labelNames: ['flow', 'state'], registers: [registry],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800, 3600],
    collect: () => observeEnded(),
  });
  const observeEnded = async () => {
    const ids = ended;
    ended = [];
    for (let i = 0; i < ids.length; i += 1000) {
      for (const r of await runDurations(db, ids.slice(i, i + 1000))) durations.observe({ flow: r.flowId, state: r.state }, r.ms / 1000);
    }
  };
  api.tutti.engine.onEvent((e) => {
    if (e.type !== 'run-succeeded' && e.type !== 'run-failed' && e.type !== 'run-cancelled') return;
    if (ended.push(e.runId) >= 10_000) observeEnded().catch(() => {});
  });

  const app = new Hono();
  app.get('/metrics', async (c) => c.text(await registry.metrics(), 200, { 'content-type': registry.contentType }));
  return app;
}
