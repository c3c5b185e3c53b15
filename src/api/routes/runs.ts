/** Runs: trigger (JSON, uploads, webhook), list, detail, cancel, retry the failed part, instances and logs, assets. */
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { FlowSpec } from '../../scheduler/spec.js';
import { InputError, prepareRun, type TriggerRequest } from '../../scheduler/trigger.js';
import { currentRevision, getFlowRevision } from '../../store/flows.js';
import { taskRunInstances } from '../../store/instances.js';
import { cancelRun, retryRun } from '../../store/run-control.js';
import { attemptLog, attemptSummaries, getAsset, getInstance, instanceCounts, listRuns, taskRunOf, type RunCursor } from '../../store/run-queries.js';
import { getRun, getTaskRuns, runAssets, withContent, type AssetRow, type RunRow } from '../../store/runs.js';
import { runStates, type RunState } from '../../store/schema.js';
import { mediaType, parseJsonBody, readBody } from '../body.js';
import type { Api } from '../context.js';
import { ApiError, notFound, validationHook } from '../errors.js';
import { err, json } from '../openapi.js';
import { AssetSchema, AttemptSchema, InstanceSchema, Limit, RunDetailSchema, RunSchema, TriggerBodySchema } from '../schemas.js';

const RunId = z.string().openapi({ param: { name: 'id', in: 'path' } });
const FlowId = z.string().openapi({ param: { name: 'id', in: 'path' } });
const TaskId = z.string().openapi({ param: { name: 'task', in: 'path' } });
const Idx = z.coerce.number().int().min(0).openapi({ param: { name: 'idx', in: 'path' } });

const Time = z
  .string()
  .transform((v, ctx) => {
    const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
    // 400 nines is a number too (Infinity): only a time a Date can hold reaches the query.
    if (!Number.isSafeInteger(ms) || Math.abs(ms) > 8.64e15) {
      ctx.addIssue({ code: 'custom', message: 'must be an ISO 8601 time or ms since the epoch' });
      return z.NEVER;
    }
    return ms;
  })
  .openapi({ type: 'string', example: '2026-11-24T00:00:00Z' });

const Cursor = z
  .string()
  .transform((v, ctx): RunCursor => {
    try {
      const [createdAt, id] = JSON.parse(Buffer.from(v, 'base64url').toString('utf8')) as [number, string];
      if (Number.isSafeInteger(createdAt) && typeof id === 'string') return { createdAt, id };
    } catch {
      // reported below
    }
    ctx.addIssue({ code: 'custom', message: 'not a cursor from a previous page (use nextCursor as given)' });
    return z.NEVER;
  })
  .openapi({ type: 'string' });

const States = z
  .string()
  .transform((v, ctx) => {
    const list = v.split(',').filter(Boolean);
    const bad = list.filter((s) => !(runStates as readonly string[]).includes(s));
    if (bad.length) {
      ctx.addIssue({ code: 'custom', message: `unknown state(s) ${bad.join(', ')}; states are ${runStates.join(', ')}` });
      return z.NEVER;
    }
    return list as RunState[];
  })
  .openapi({ type: 'string', example: 'failed,cancelled' });

export function runJson(r: RunRow): z.infer<typeof RunSchema> {
  return {
    id: r.id, flowId: r.flowId, revision: r.revision, state: r.state, params: r.params, trigger: r.trigger, logicalTime: r.logicalTime, backfillId: r.backfillId,
    error: r.error, createdAt: r.createdAt, startedAt: r.startedAt, finishedAt: r.finishedAt,
  };
}

export function assetJson(a: AssetRow): z.infer<typeof AssetSchema> {
  return { id: a.id, runId: a.runId, taskId: a.taskId, instanceIdx: a.instanceIdx, name: a.name, size: a.size, sha256: a.sha256, mediaType: a.mediaType, createdAt: a.createdAt, url: `/api/v1/assets/${a.id}/content` };
}

/** A JSON body checked against a schema, with the same error shape as the validated routes. */
function parseJson<T extends z.ZodType>(schema: T, bytes: Uint8Array): z.infer<T> {
  const parsed = schema.safeParse(parseJsonBody(bytes) ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ in: 'json', path: i.path.map(String).join('.'), message: i.message }));
    throw new ApiError(400, 'invalid_request', issues.map((i) => `${i.path || 'body'}: ${i.message}`).join('; '), issues);
  }
  return parsed.data;
}

/**
 * A stored asset's file, opened before the answer starts: once a 200 is under way, a missing file
 * could only cut the download short (and log a stack).
 */
async function openLocal(file: string, id: string): Promise<ReadableStream<Uint8Array>> {
  const handle = await open(file, 'r').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') throw new ApiError(404, 'asset_missing', `asset ${id} is recorded, but its bytes are no longer in the asset store`);
    throw e;
  });
  return Readable.toWeb(handle.createReadStream()) as ReadableStream<Uint8Array>;
}

export function runRoutes(api: Api) {
  const app = new OpenAPIHono({ defaultHook: validationHook });
  app.openAPIRegistry.register('TriggerRequest', TriggerBodySchema);
  const { tutti } = api;
  const { db } = tutti.database;

  const detail = async (run: RunRow): Promise<z.infer<typeof RunDetailSchema>> => {
    const spec = (await getFlowRevision(db, run.flowId, run.revision))?.spec as FlowSpec | undefined;
    const counts = await instanceCounts(db, run.id);
    const trs = await getTaskRuns(db, run.id);
    const order = spec?.tasks.map((t) => t.id) ?? trs.map((t) => t.taskId);
    return {
      ...runJson(run),
      tasks: order.map((taskId) => {
        const t = trs.find((x) => x.taskId === taskId)!;
        return {
          taskId, state: t.state, instanceCount: t.instanceCount, policy: t.policy, instances: counts.get(t.id) ?? {}, needs: spec?.tasks.find((x) => x.id === taskId)?.needs ?? [],
          error: t.error, startedAt: t.startedAt, finishedAt: t.finishedAt,
        };
      }),
    };
  };
  const mustRun = async (id: string) => {
    const run = await getRun(db, id);
    if (!run) throw notFound(`run ${id}`);
    return run;
  };

  /** Start a run from a request: JSON (params + stored asset ids) or multipart (a file per asset input, a field per value). */
  const trigger = async (c: Context, flowId: string, how: 'api' | 'webhook'): Promise<RunRow> => {
    const revision = await currentRevision(db, flowId);
    if (revision === undefined) throw notFound(`flow ${flowId}`);
    const spec = await tutti.engine.flowSpec(flowId, revision);
    const req: TriggerRequest = {
      spec, revision, trigger: how, params: {}, assets: {}, files: {},
      assetHint: 'upload it as a multipart file part named "{name}", or give {"assets": {"{name}": "<asset id>"}}',
    };
    const type = mediaType(c);
    let temp: string | undefined;
    try {
      if (how === 'webhook') {
        const hook = spec.triggers.find((t) => t.type === 'webhook');
        if (!hook || hook.type !== 'webhook') throw new ApiError(404, 'not_found', `flow ${flowId} has no webhook trigger`);
        const bytes = await readBody(c, api.maxUploadBytes);
        if (type === 'application/json' || (!hook.input && bytes.length)) {
          const body = parseJsonBody(bytes) ?? {};
          if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new ApiError(400, 'invalid_request', 'the webhook body must be a JSON object');
          // A webhook sender posts its own payload: declared inputs are picked from it, the rest is ignored.
          for (const [name, input] of Object.entries(spec.inputs)) {
            const v = (body as Record<string, unknown>)[name];
            if (input.type !== 'asset' && v !== undefined) req.params![name] = v;
          }
        }
        if (hook.input) {
          temp = await mkdtemp(path.join(tmpdir(), 'tutti-upload-'));
          const file = path.join(temp, 'body');
          await writeFile(file, bytes);
          req.files![hook.input] = file;
        }
      } else if (type === 'multipart/form-data') {
        // Read under the upload limit first (chunked bodies have no Content-Length to check), then parse.
        const bytes = await readBody(c, api.maxUploadBytes);
        const form = await new Response(bytes, { headers: { 'content-type': c.req.header('content-type')! } }).formData().catch((e: Error) => {
          throw new ApiError(400, 'malformed_body', `the multipart body cannot be read: ${e.message}`);
        });
        temp = await mkdtemp(path.join(tmpdir(), 'tutti-upload-'));
        const seen = new Set<string>();
        for (const [name, value] of form.entries()) {
          // A second part of the same name would silently replace the first: say so instead.
          if (seen.has(name)) throw new ApiError(400, 'invalid_input', `the form has more than one part named "${name}": give each input once`);
          seen.add(name);
          if (typeof value === 'string') req.params![name] = value;
          else {
            const file = path.join(temp, `${Object.keys(req.files!).length}`);
            await writeFile(file, new Uint8Array(await value.arrayBuffer()));
            req.files![name] = file;
          }
        }
      } else if (type === 'application/json' || type === '') {
        const body = parseJson(TriggerBodySchema, await readBody(c, api.maxJsonBytes));
        req.params = body.params;
        for (const [name, ids] of Object.entries(body.assets)) {
          const list = [];
          for (const id of Array.isArray(ids) ? ids : [ids]) {
            const a = await getAsset(db, id);
            if (!a) throw new ApiError(400, 'invalid_input', `input "${name}": no asset ${id}`);
            list.push(a);
          }
          req.assets![name] = await withContent(db, list);
        }
      } else {
        throw new ApiError(415, 'unsupported_media_type', `content type "${type}": use application/json or multipart/form-data`);
      }
      const run = await prepareRun(tutti.assets, req);
      const { events, started } = await tutti.engine.submit(run, req.spec);
      if (!events.length) throw new InputError(`flow ${run.flowId} already has a run for ${run.dedupeKey}`);
      return started ?? (await mustRun(run.id));
    } finally {
      if (temp) await rm(temp, { recursive: true, force: true });
    }
  };

  const triggerBody = {
    content: {
      // Documented by reference, read by the handler: the same route also takes multipart uploads.
      'application/json': { schema: { $ref: '#/components/schemas/TriggerRequest' } },
      // A plain schema object: the form is read by the handler, file parts straight to disk.
      'multipart/form-data': { schema: { type: 'object' as const, description: 'one file part per asset input, one text part per other input', additionalProperties: { type: 'string' as const, format: 'binary' } } },
    },
  };
  const created = { 201: { description: 'run created (queued, or skipped at the flow\'s run limit)', ...json(RunSchema) }, 400: err('bad inputs'), 404: err('no such flow'), 413: err('upload too large'), 415: err('unsupported content type') };

  app.openapi(
    createRoute({ method: 'post', path: '/flows/{id}/runs', summary: 'Trigger a run', tags: ['runs'], request: { params: z.object({ id: FlowId }), body: triggerBody }, responses: created }),
    async (c) => c.json(runJson(await trigger(c, c.req.valid('param').id, 'api')), 201),
  );
  app.openapi(
    createRoute({
      method: 'post',
      path: '/flows/{id}/webhook',
      summary: 'Webhook of a flow with a webhook trigger',
      description: 'Top-level fields of a JSON body fill the flow\'s non-asset inputs (others are ignored); with `input:` on the trigger, the raw body becomes that asset input.',
      tags: ['runs'],
      request: { params: z.object({ id: FlowId }) },
      responses: created,
    }),
    async (c) => c.json(runJson(await trigger(c, c.req.valid('param').id, 'webhook')), 201),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/runs',
      summary: 'List runs, newest first',
      tags: ['runs'],
      request: {
        query: z.object({
          flow: z.string().optional(),
          state: States.optional(),
          trigger: z.string().optional(),
          backfill: z.string().optional(),
          since: Time.optional(),
          until: Time.optional(),
          limit: Limit,
          cursor: Cursor.optional(),
        }),
      },
      responses: { 200: { description: 'a page of runs', ...json(z.object({ items: z.array(RunSchema), nextCursor: z.string().nullable() })) }, 400: err('bad filter or cursor') },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const rows = await listRuns(db, { flowId: q.flow, states: q.state, trigger: q.trigger, backfillId: q.backfill, since: q.since, until: q.until }, { limit: q.limit, after: q.cursor });
      const page = rows.slice(0, q.limit);
      const last = page.at(-1);
      const nextCursor = rows.length > q.limit && last ? Buffer.from(JSON.stringify([last.createdAt, last.id])).toString('base64url') : null;
      return c.json({ items: page.map(runJson), nextCursor }, 200);
    },
  );

  app.openapi(
    createRoute({ method: 'get', path: '/runs/{id}', summary: 'A run with its task runs, instance counts by state, timings and errors', tags: ['runs'], request: { params: z.object({ id: RunId }) }, responses: { 200: { description: 'the run', ...json(RunDetailSchema) }, 404: err('no such run') } }),
    async (c) => c.json(await detail(await mustRun(c.req.valid('param').id)), 200),
  );

  app.openapi(
    createRoute({ method: 'post', path: '/runs/{id}/cancel', summary: 'Cancel a run (running instances are stopped)', tags: ['runs'], request: { params: z.object({ id: RunId }) }, responses: { 200: { description: 'cancelled', ...json(RunDetailSchema) }, 404: err('no such run'), 409: err('the run has already finished') } }),
    async (c) => {
      const run = await mustRun(c.req.valid('param').id);
      const events = await cancelRun(db, run.id, 'cancelled by request');
      if (!events.length) throw new ApiError(409, 'conflict', `run ${run.id} is ${run.state}: only a queued or running run can be cancelled`);
      tutti.engine.report(events);
      return c.json(await detail(await mustRun(run.id)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/runs/{id}/retry',
      summary: 'Retry the failed part of a finished run',
      description: 'Succeeded tasks and instances are kept; failed and cancelled instances run again, tasks that never ran are planned. The run keeps its id.',
      tags: ['runs'],
      request: { params: z.object({ id: RunId }) },
      responses: { 200: { description: 'queued again', ...json(RunDetailSchema) }, 404: err('no such run'), 409: err('the run is not failed or cancelled') },
    }),
    async (c) => {
      const id = c.req.valid('param').id;
      tutti.engine.report(await retryRun(db, id));
      return c.json(await detail(await mustRun(id)), 200);
    },
  );

  const taskRun = async (runId: string, taskId: string) => {
    await mustRun(runId);
    const tr = await taskRunOf(db, runId, taskId);
    if (!tr) throw notFound(`task ${taskId} in run ${runId}`);
    return tr;
  };
  const instanceJson = (i: NonNullable<Awaited<ReturnType<typeof getInstance>>>): z.infer<typeof InstanceSchema> => ({
    idx: i.idx, state: i.state, attempt: i.attempt, progress: i.progress, partition: i.partition, errorKind: i.errorKind, error: i.error, startedAt: i.startedAt, finishedAt: i.finishedAt,
  });

  app.openapi(
    createRoute({
      method: 'get',
      path: '/runs/{id}/tasks/{task}/instances',
      summary: 'A task run\'s instances in partition order, a page at a time',
      tags: ['runs'],
      request: { params: z.object({ id: RunId, task: TaskId }), query: z.object({ after: z.coerce.number().int().min(-1).default(-1).openapi({ description: 'last idx of the previous page' }), limit: z.coerce.number().int().min(1).max(1000).default(100) }) },
      responses: { 200: { description: 'a page of instances', ...json(z.object({ items: z.array(InstanceSchema), nextAfter: z.number().int().nullable() })) }, 404: err('no such run or task') },
    }),
    async (c) => {
      const { id, task } = c.req.valid('param');
      const q = c.req.valid('query');
      const tr = await taskRun(id, task);
      const rows = await taskRunInstances(db, tr.id, { afterIdx: q.after, limit: q.limit + 1 });
      const page = rows.slice(0, q.limit);
      return c.json({ items: page.map(instanceJson), nextAfter: rows.length > q.limit ? page.at(-1)!.idx : null }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/runs/{id}/tasks/{task}/instances/{idx}',
      summary: 'One instance with its attempts',
      tags: ['runs'],
      request: { params: z.object({ id: RunId, task: TaskId, idx: Idx }) },
      responses: { 200: { description: 'the instance', ...json(InstanceSchema.extend({ attempts: z.array(AttemptSchema) })) }, 404: err('no such instance') },
    }),
    async (c) => {
      const { id, task, idx } = c.req.valid('param');
      const tr = await taskRun(id, task);
      const inst = await getInstance(db, tr.id, idx);
      if (!inst) throw notFound(`instance ${idx} of task ${task}`);
      return c.json({ ...instanceJson(inst), attempts: await attemptSummaries(db, inst.id) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/runs/{id}/tasks/{task}/instances/{idx}/log',
      summary: 'The log (stderr and host.log lines) of an instance\'s attempt; the latest by default',
      tags: ['runs'],
      request: { params: z.object({ id: RunId, task: TaskId, idx: Idx }), query: z.object({ attempt: z.coerce.number().int().min(1).optional() }) },
      responses: { 200: { description: 'the log', content: { 'text/plain': { schema: z.string() } } }, 404: err('no such instance or attempt') },
    }),
    async (c) => {
      const { id, task, idx } = c.req.valid('param');
      const tr = await taskRun(id, task);
      const inst = await getInstance(db, tr.id, idx);
      if (!inst) throw notFound(`instance ${idx} of task ${task}`);
      const log = await attemptLog(db, inst.id, c.req.valid('query').attempt);
      if (!log) throw notFound(`a finished attempt of instance ${idx}`);
      return c.text(log.log, 200, { 'x-tutti-attempt': String(log.attempt) });
    },
  );

  app.openapi(
    createRoute({ method: 'get', path: '/runs/{id}/assets', summary: 'A run\'s inputs and outputs', tags: ['assets'], request: { params: z.object({ id: RunId }) }, responses: { 200: { description: 'assets by task and instance', ...json(z.object({ items: z.array(AssetSchema) })) }, 404: err('no such run') } }),
    async (c) => {
      const run = await mustRun(c.req.valid('param').id);
      return c.json({ items: (await runAssets(db, run.id)).map(assetJson) }, 200);
    },
  );

  const AssetId = z.string().openapi({ param: { name: 'id', in: 'path' } });
  const mustAsset = async (id: string) => {
    const a = await getAsset(db, id);
    if (!a) throw notFound(`asset ${id}`);
    return a;
  };
  app.openapi(
    createRoute({ method: 'get', path: '/assets/{id}', summary: 'Asset metadata and lineage', tags: ['assets'], request: { params: z.object({ id: AssetId }) }, responses: { 200: { description: 'the asset', ...json(AssetSchema) }, 404: err('no such asset') } }),
    async (c) => c.json(assetJson(await mustAsset(c.req.valid('param').id)), 200),
  );
  app.openapi(
    createRoute({ method: 'get', path: '/assets/{id}/content', summary: 'Download an asset', tags: ['assets'], request: { params: z.object({ id: AssetId }) }, responses: { 200: { description: 'the bytes', content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } } }, 404: err('no such asset') } }),
    async (c) => {
      const a = await mustAsset(c.req.valid('param').id);
      // Read from the row: an ArrayBuffer's view, never one of the shared buffers the scheduler keeps.
      const inline = a.inline ? ((await withContent(db, [a]))[0]!.content as Uint8Array<ArrayBuffer>) : undefined;
      const stream = inline ?? (tutti.openAsset ? await tutti.openAsset(a.location) : await openLocal(tutti.assets.localPath(a.location), a.id));
      return c.body(stream, 200, {
        'content-type': a.mediaType,
        'content-length': String(a.size),
        'content-disposition': `attachment; filename="${a.name.replace(/[^\w.-]/g, '_')}"`,
        etag: `"${a.sha256}"`,
      });
    },
  );

  return app;
}
