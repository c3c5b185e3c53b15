/**
 * The Cloudflare Worker:
 * - `fetch`: the Tutti HTTP API (api/app.ts) over D1 and R2, plus `GET /healthz` and single
 *   instances of the bundled tasks over request bodies (`POST /edge/run/:flow/:task`);
 * - `queue`: the INSTANCES consumer, one step of a run or one instance per message (edge/engine.ts);
 * - `scheduled`: the flows' schedule triggers, by the Node server's own schedule code.
 * The deployed flows are registered in D1 on first use, so a deploy is all it takes to run them.
 */
import { createClient } from '@libsql/client/web';
import { drizzle } from 'drizzle-orm/d1';
import { drizzle as drizzleLibsql } from 'drizzle-orm/libsql/web';
import { Hono, type Context, type ExecutionContext } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { createApp } from '../api/app.js';
import type { ApiHost } from '../api/context.js';
import { ApiError } from '../api/errors.js';
import { AssetNotFound } from '../assets/r2.js';
import { triggerRows } from '../scheduler/flows.js';
import { Reactor } from '../scheduler/reactions.js';
import { ScheduleLoop } from '../scheduler/schedules.js';
import type { Db } from '../store/db.js';
import { saveFlowRevision } from '../store/flows.js';
import { createRun, stalledRunIds } from '../store/runs.js';
import * as schema from '../store/schema.js';
import { syncTriggers } from '../store/triggers.js';
import { EdgeAssetStore } from './assets.js';
import { taskKey, type EdgeBundle, type EdgeTask } from './bundle.js';
import { EdgeEngine, type EdgeMessage, type QueueLike } from './engine.js';
import type { EdgeEnv } from './env.js';
import { runOnEdge } from './runtime/run.js';

interface QueueMessage {
  id: string;
  body: unknown;
  ack(): void;
  retry(opts?: { delaySeconds?: number }): void;
}

const REDEPLOY =
  'This Tutti runs on Cloudflare Workers, which cannot compile WebAssembly at run time. Add the component to a flow file and run `tutti deploy cloudflare FLOW…` to ship it precompiled.';

type Ctx = Context<{ Bindings: EdgeEnv }>;

const problem = (c: Ctx, status: ContentfulStatusCode, code: string, message: string, details?: unknown) =>
  c.json({ error: { code, message, ...(details === undefined ? {} : { details }) } }, status);

/** What the task sees besides its inputs; the same names the Node engine gives a single-partition instance. */
function instanceEnvironment(task: EdgeTask, runId: string, secrets: [string, string][]) {
  const params = Object.entries(task.params);
  return {
    env: [
      ...Object.entries(task.env),
      ...secrets,
      ['TUTTI_RUN_ID', runId],
      ['TUTTI_TASK', task.task],
      ['TUTTI_PARTITION_INDEX', '0'],
      ['TUTTI_PARTITION_COUNT', '1'],
      ...params.map(([k, v]) => [`TUTTI_PARAM_${k.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`, v]),
    ] as [string, string][],
    args: [task.task, ...params.map(([k, v]) => `--${k}=${v}`)],
  };
}

function assetStore(env: EdgeEnv): EdgeAssetStore {
  if (!env.ASSETS) throw new Error('no R2 bucket is bound as ASSETS: add it to wrangler.toml ([[r2_buckets]] binding = "ASSETS")');
  return new EdgeAssetStore(env.ASSETS);
}
const assets = (c: Ctx) => assetStore(c.env);

interface D1Like {
  prepare(sql: string): { all(): Promise<unknown> };
}

/**
 * The store: a remote libSQL server (Turso, sqld) when the TUTTI_DB_URL secret is set, else the D1
 * database bound as DB. Either way the store's functions run unchanged: they use query builders and
 * `batch`, never an interactive transaction, on the run path.
 */
function database(env: EdgeEnv): { db: Db; ping(): Promise<unknown> } {
  if (typeof env.TUTTI_DB_URL === 'string') {
    const authToken = typeof env.TUTTI_DB_AUTH_TOKEN === 'string' ? env.TUTTI_DB_AUTH_TOKEN : undefined;
    const client = createClient({ url: env.TUTTI_DB_URL, authToken });
    return { db: drizzleLibsql(client, { schema }), ping: () => client.execute('SELECT 1') };
  }
  if (!env.DB) throw new Error('no database: bind a D1 database as DB in wrangler.toml ([[d1_databases]] binding = "DB"), or set the TUTTI_DB_URL secret to a libSQL server');
  const d1 = env.DB as D1Like;
  // drizzle's D1 and libSQL databases share the query builders and `batch`, which is all the store
  // uses on the run path (releaseLeases, the one transaction left, is Node-only), so the store's
  // functions take either.
  return { db: drizzle(env.DB as Parameters<typeof drizzle>[0], { schema }) as unknown as Db, ping: () => d1.prepare('SELECT 1').all() };
}

function queue(env: EdgeEnv): QueueLike {
  if (!env.INSTANCES) throw new Error('no queue is bound as INSTANCES: add it to wrangler.toml ([[queues.producers]] binding = "INSTANCES")');
  return env.INSTANCES as QueueLike;
}

export function createWorker(bundle: EdgeBundle) {
  const app = new Hono<{ Bindings: EdgeEnv }>();

  /** Saving an unchanged flow is a read, so this is cheap after the first time in each isolate. */
  let registered: Promise<void> | undefined;
  const registerFlows = (db: Db, store: EdgeAssetStore) => {
    registered ??= (async () => {
      for (const [id, { source, spec }] of Object.entries(bundle.flows)) {
        await saveFlowRevision(db, id, source, spec, (q) => syncTriggers(q, id, triggerRows(spec, Date.now())));
      }
      await new Reactor({ db, assets: store, onRun: () => {} }).init();
    })();
    registered.catch(() => (registered = undefined));
    return registered;
  };

  const open = async (env: EdgeEnv) => {
    const { db, ping } = database(env);
    const store = assetStore(env);
    await registerFlows(db, store);
    return { db, ping, store, engine: new EdgeEngine(db, store, bundle, queue(env), env) };
  };

  const api = async (request: Request, env: EdgeEnv, ctx: ExecutionContext): Promise<Response> => {
    const { db, ping, store, engine } = await open(env);
    const later = (p: Promise<unknown>) => ctx.waitUntil(p.catch((e) => console.error('tutti: dispatch failed:', e)));
    const host: ApiHost = {
      database: { db, client: { execute: ping } },
      assets: store,
      registry: {
        register: () => Promise.reject(new ApiError(403, 'redeploy-required', REDEPLOY)),
      },
      engine: {
        submit: async (run) => {
          const created = await createRun(db, run);
          if (created.length) later(queue(env).send({ type: 'advance', run: run.id }));
          return { events: created };
        },
        flowSpec: (flowId, revision) => engine.flowSpec(flowId, revision),
        notify: (run) => later(queue(env).send({ type: 'advance', run })),
        report: (events) => later(engine.react(events)),
        // Events reach a Worker through the database only: the live stream polls it.
        onEvent: () => () => {},
      },
      pool: { size: 0 },
      openAsset: (location) => store.open(location),
    };
    return createApp(host, { token: typeof env.TUTTI_API_TOKEN === 'string' ? env.TUTTI_API_TOKEN : undefined }).fetch(request, env, ctx);
  };

  app.get('/healthz', (c) => c.json({ ok: true, components: Object.keys(bundle.components).length, tasks: Object.keys(bundle.tasks) }));

  /**
   * One instance of a task over the request body: its only input (named by `?input=`, default
   * "body"), the whole of it one partition. 200 with the outputs' R2 locations, 422 with the failure.
   */
  app.post('/edge/run/:flow/:task', async (c) => {
    const key = taskKey(c.req.param('flow'), c.req.param('task'));
    const task = bundle.tasks[key];
    if (!task) return problem(c, 404, 'not-found', `no task ${key} in this deployment; it has: ${Object.keys(bundle.tasks).join(', ')}`);
    const component = bundle.components[task.component]!;
    const secrets: [string, string][] = [];
    for (const [envName, secret] of Object.entries(task.secrets)) {
      const value = c.env[secret];
      if (typeof value !== 'string') {
        return problem(c, 422, 'missing-secret', `secret "${secret}" is not set on this Worker: wrangler secret put ${secret}`);
      }
      secrets.push([envName, value]);
    }
    const runId = `edge_${crypto.randomUUID()}`;
    const input = { name: c.req.query('input') ?? 'body', mediaType: c.req.header('content-type') ?? 'application/octet-stream', bytes: new Uint8Array(await c.req.arrayBuffer()) };
    const result = await runOnEdge(component, {
      call: 'run',
      inputs: [input],
      params: task.params,
      ...instanceEnvironment(task, runId, secrets),
      scratch: task.scratch,
      outputBytes: task.outputBytes,
      logBytes: task.logBytes,
      planPartitions: task.planPartitions,
    });
    if (!result.ok) {
      return problem(c, 422, result.failure.kind, result.failure.message, { retryable: result.failure.retryable, log: result.log, run: runId });
    }
    const store = assets(c);
    const outputs = [];
    for (const o of result.outputs) {
      const location = `edge/${runId}/${task.task}/0-${o.name}`;
      await store.importBytes(location, o.bytes);
      outputs.push({ name: o.name, size: o.size, sha256: o.sha256, location });
    }
    return c.json({ run: runId, outputs, log: result.log });
  });

  app.get('/edge/assets/*', async (c) => {
    const location = c.req.path.slice('/edge/assets/'.length);
    try {
      const bytes = await assets(c).read(location);
      return new Response(bytes, { headers: { 'content-type': 'application/octet-stream' } });
    } catch (e) {
      if (e instanceof AssetNotFound) return problem(c, 404, 'not-found', e.message);
      throw e;
    }
  });

  app.all('*', (c) => api(c.req.raw, c.env, c.executionCtx));
  app.onError((e, c) => problem(c, 500, 'internal', e.message));

  return {
    fetch: app.fetch,

    /** One message at a time: each instance gets an invocation (and its CPU time) of its own. */
    async queue(batch: { messages: readonly QueueMessage[] }, env: EdgeEnv): Promise<void> {
      const { engine } = await open(env);
      for (const m of batch.messages) {
        try {
          const { retryAfterS } = await engine.handle(m.body as EdgeMessage, m.id);
          if (retryAfterS !== undefined) m.retry({ delaySeconds: retryAfterS });
          else m.ack();
        } catch (e) {
          console.error(`tutti: queue message ${JSON.stringify(m.body)} failed, retrying:`, e);
          m.retry({ delaySeconds: 1 });
        }
      }
    },

    /**
     * The cron trigger: fire the flows' due schedules (the Node server's ScheduleLoop step, at the
     * cron's time), and look again at runs and instances nothing is moving (a lost message, a
     * retry delayed past the queue's 12 h).
     */
    async scheduled(controller: { scheduledTime: number }, env: EdgeEnv): Promise<void> {
      const { db, store, engine } = await open(env);
      const created: string[] = [];
      await new ScheduleLoop({ db, assets: store, onRun: (id) => created.push(id), log: (m) => console.error(`tutti: ${m}`) }).fireDue(controller.scheduledTime);
      const runs = [...new Set([...created, ...(await stalledRunIds(db, 500))])];
      for (let i = 0; i < runs.length; i += 100) {
        await queue(env).sendBatch(runs.slice(i, i + 100).map((run) => ({ body: { type: 'advance', run } })));
      }
      await engine.redispatchOverdue(controller.scheduledTime);
      await engine.fireFlowTriggers();
    },
  };
}
