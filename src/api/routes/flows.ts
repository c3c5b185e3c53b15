/** Flows: create or update from YAML or JSON, list, get with revisions, delete; webhooks and backfills. */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { parseFlow } from '../../flow/index.js';
import { startBackfill } from '../../scheduler/backfills.js';
import { registerFlow } from '../../scheduler/flows.js';
import type { FlowSpec } from '../../scheduler/spec.js';
import { deleteFlow, getFlow, getFlowRevision, listFlowRevisions, listFlows } from '../../store/flows.js';
import { backfillProgress, flowSchedules, getBackfill, type BackfillRow } from '../../store/triggers.js';
import { parseJsonBody, readBody, requireMediaType } from '../body.js';
import type { Api } from '../context.js';
import { ApiError, notFound, validationHook } from '../errors.js';
import { err, json } from '../openapi.js';
import { BackfillBodySchema, BackfillSchema, FlowSchemaOut, FlowSummarySchema } from '../schemas.js';

const FLOW_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml', 'application/json'];
const FlowId = z.string().openapi({ param: { name: 'id', in: 'path' }, example: 'word-count' });
const flowDoc = {
  // Plain schema objects, not zod: the body is parsed here (YAML or JSON), not by the JSON validator.
  content: Object.fromEntries(FLOW_TYPES.map((t) => [t, { schema: { type: 'string' as const, description: 'a flow document (see schema/flow.schema.json)' } }])),
  required: true,
};
const Saved = z.object({ id: z.string(), revision: z.number().int(), created: z.boolean().openapi({ description: 'false when the document equals the current revision' }) });

export function flowRoutes(api: Api) {
  const app = new OpenAPIHono({ defaultHook: validationHook });
  const { db } = api.tutti.database;
  const backfillJson = async (b: BackfillRow): Promise<z.infer<typeof BackfillSchema>> => ({
    id: b.id, flowId: b.flowId, cron: b.cron, from: b.from, to: b.to, concurrency: b.concurrency, runs: b.runCount, progress: await backfillProgress(db, b.id),
  });

  const save = async (c: Parameters<Parameters<typeof app.openapi>[1]>[0], expectId?: string) => {
    const type = requireMediaType(c, FLOW_TYPES);
    const bytes = await readBody(c, api.maxJsonBytes);
    // JSON is parsed as JSON (strict, iterative, depth-checked) before the YAML parser, which
    // accepts it too, reads it again to place each problem at its line.
    if (type === 'application/json') parseJsonBody(bytes);
    const source = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
    const parsed = parseFlow(source, 'flow');
    if (expectId && parsed.flow.id !== expectId) throw new ApiError(400, 'invalid_flow', `the document's id is "${parsed.flow.id}" but the URL names flow "${expectId}"`);
    const { revision, created } = await registerFlow(db, api.tutti.registry, parsed, 'flow');
    api.schedules?.wake();
    return c.json({ id: parsed.flow.id, revision, created }, created ? 201 : 200);
  };
  const saveResponses = { 200: { description: 'unchanged', ...json(Saved) }, 201: { description: 'new revision stored', ...json(Saved) }, 400: err('invalid flow: every problem with its path and line'), 415: err('not YAML or JSON') };

  app.openapi(createRoute({ method: 'post', path: '/flows', summary: 'Create or update a flow', tags: ['flows'], request: { body: flowDoc }, responses: saveResponses }), (c) => save(c));
  app.openapi(
    createRoute({ method: 'put', path: '/flows/{id}', summary: 'Update a flow (the document\'s id must match)', tags: ['flows'], request: { params: z.object({ id: FlowId }), body: flowDoc }, responses: saveResponses }),
    (c) => save(c, c.req.valid('param').id),
  );

  app.openapi(
    createRoute({ method: 'get', path: '/flows', summary: 'List flows', tags: ['flows'], request: { query: z.object({ q: z.string().optional().openapi({ description: 'substring of the id or description' }) }) }, responses: { 200: { description: 'live flows', ...json(z.object({ items: z.array(FlowSummarySchema) })) } } }),
    async (c) => {
      const q = c.req.valid('query').q?.toLowerCase();
      const items = [];
      for (const { flow, current } of await listFlows(db)) {
        const spec = current.spec as FlowSpec;
        if (q && !flow.id.includes(q) && !(spec.description ?? '').toLowerCase().includes(q)) continue;
        const next = (await flowSchedules(db, flow.id)).map((s) => s.nextFireAt).sort((a, b) => a - b)[0];
        items.push({ id: flow.id, revision: flow.revision, description: spec.description ?? null, tasks: spec.tasks.length, triggers: spec.triggers, nextFireAt: next ?? null, updatedAt: flow.updatedAt });
      }
      return c.json({ items }, 200);
    },
  );

  app.openapi(
    createRoute({ method: 'get', path: '/flows/{id}', summary: 'Get a flow: current revision, revision list, schedules', tags: ['flows'], request: { params: z.object({ id: FlowId }) }, responses: { 200: { description: 'the flow', ...json(FlowSchemaOut) }, 404: err('no such flow') } }),
    async (c) => {
      const id = c.req.valid('param').id;
      const found = await getFlow(db, id);
      if (!found) throw notFound(`flow ${id}`);
      const schedules = (await flowSchedules(db, id)).map((s) => ({ cron: s.cron, timezone: s.timezone, missed: s.missed, nextFireAt: s.nextFireAt, lastFireAt: s.lastFireAt }));
      return c.json(
        { id, revision: found.flow.revision, source: found.current.source, spec: found.current.spec, revisions: await listFlowRevisions(db, id), schedules, createdAt: found.flow.createdAt, updatedAt: found.flow.updatedAt },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/flows/{id}/revisions/{revision}',
      summary: 'Get one revision of a flow (also of a deleted flow)',
      tags: ['flows'],
      request: { params: z.object({ id: FlowId, revision: z.coerce.number().int().min(1).openapi({ param: { name: 'revision', in: 'path' } }) }) },
      responses: { 200: { description: 'the revision', ...json(z.object({ id: z.string(), revision: z.number().int(), source: z.string(), spec: z.unknown(), createdAt: z.number().int() })) }, 404: err('no such revision') },
    }),
    async (c) => {
      const { id, revision } = c.req.valid('param');
      const rev = await getFlowRevision(db, id, revision);
      if (!rev) throw notFound(`revision ${revision} of flow ${id}`);
      return c.json({ id, revision, source: rev.source, spec: rev.spec, createdAt: rev.createdAt }, 200);
    },
  );

  app.openapi(
    createRoute({ method: 'delete', path: '/flows/{id}', summary: 'Delete a flow (its runs keep the revision they ran)', tags: ['flows'], request: { params: z.object({ id: FlowId }) }, responses: { 204: { description: 'deleted' }, 404: err('no such flow') } }),
    async (c) => {
      const id = c.req.valid('param').id;
      if (!(await deleteFlow(db, id))) throw notFound(`flow ${id}`);
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/flows/{id}/backfills',
      summary: 'Run a scheduled flow once per schedule tick in a past range',
      description: 'Each run knows its tick (logicalTime; tasks see TUTTI_LOGICAL_TIME). At most `concurrency` of them run at once, in tick order.',
      tags: ['flows'],
      request: { params: z.object({ id: FlowId }), body: { content: { 'application/json': { schema: BackfillBodySchema } }, required: true } },
      responses: { 201: { description: 'backfill created with its runs', ...json(BackfillSchema) }, 400: err('no schedule, bad range, too many ticks'), 404: err('no such flow') },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const id = c.req.valid('param').id;
      const { id: backfillId, runIds } = await startBackfill(db, api.tutti.assets, { flowId: id, from: Date.parse(body.from), to: Date.parse(body.to), concurrency: body.concurrency, trigger: body.trigger });
      for (const r of runIds) api.tutti.engine.notify(r);
      return c.json(await backfillJson((await getBackfill(db, backfillId))!), 201);
    },
  );

  app.openapi(
    createRoute({ method: 'get', path: '/backfills/{id}', summary: 'A backfill and its runs by state', tags: ['flows'], request: { params: z.object({ id: z.string().openapi({ param: { name: 'id', in: 'path' } }) }) }, responses: { 200: { description: 'the backfill', ...json(BackfillSchema) }, 404: err('no such backfill') } }),
    async (c) => {
      const b = await getBackfill(db, c.req.valid('param').id);
      if (!b) throw notFound(`backfill ${c.req.valid('param').id}`);
      return c.json(await backfillJson(b), 200);
    },
  );

  return app;
}
