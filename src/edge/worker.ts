/**
 * The Cloudflare Worker. For now it serves `GET /healthz` and runs single instances of the bundled
 * tasks over request bodies (`POST /edge/run/:flow/:task`), outputs stored in R2; the API, the
 * scheduler on D1 and queue-dispatched fan-out come next (docs/edge-design.md).
 */
import { Hono, type Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { AssetNotFound, R2AssetStore } from '../assets/r2.js';
import { taskKey, type EdgeBundle, type EdgeTask } from './bundle.js';
import type { EdgeEnv } from './env.js';
import { runOnEdge } from './runtime/run.js';

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

function assets(c: Ctx): R2AssetStore {
  if (!c.env.ASSETS) throw new Error('no R2 bucket is bound as ASSETS: add it to wrangler.toml ([[r2_buckets]] binding = "ASSETS")');
  return new R2AssetStore(c.env.ASSETS);
}

export function createWorker(bundle: EdgeBundle) {
  const app = new Hono<{ Bindings: EdgeEnv }>();

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

  app.notFound((c) => problem(c, 404, 'not-found', `no route ${c.req.method} ${c.req.path}`));
  app.onError((e, c) => problem(c, 500, 'internal', e.message));

  return { fetch: app.fetch };
}
