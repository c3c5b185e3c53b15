/**
 * Remote workers (`tutti worker --server URL`): lease attempts with a long poll, keep their leases
 * alive, upload outputs, report the outcome, hand attempts back at shutdown. A report about an
 * attempt whose lease has gone elsewhere, or that lacks the lease's secret, gets 409 `lease_lost`
 * and changes nothing. Only the lease answer carries job specs (and so secret values): every other
 * answer here says no more than what the caller sent.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import {
  CompleteRequestSchema, FailRequestSchema, HeartbeatRequestSchema, HeartbeatResponseSchema, LEASE_SECRET_HEADER, LeaseRequestSchema, LeaseResponseSchema, ReleaseRequestSchema, WorkerId,
} from '../../runtime/remote/protocol.js';
import type { RemoteEngine } from '../context.js';
import { ApiError, validationHook } from '../errors.js';
import { err, json } from '../openapi.js';

const tags = ['workers'];
const InstanceId = z.string().openapi({ param: { name: 'id', in: 'path' } });
const Attempt = z.coerce.number().int().min(1).openapi({ param: { name: 'attempt', in: 'path' } });
const lost = err('the attempt is not held with this lease secret (lease expired or given to another worker, or the secret is missing or wrong): drop it');

export function workerRoutes(engine: RemoteEngine) {
  const app = new OpenAPIHono({ defaultHook: validationHook });

  app.openapi(
    createRoute({
      method: 'post',
      path: '/workers/lease',
      summary: 'Lease attempts to run, waiting up to waitMs for some (long poll)',
      tags,
      request: { body: { content: { 'application/json': { schema: LeaseRequestSchema } }, required: true } },
      responses: { 200: { description: 'the attempts leased (none when the wait ran out or the server is stopping)', ...json(LeaseResponseSchema) }, 400: err('bad request') },
    }),
    async (c) => {
      const { worker, max, waitMs } = c.req.valid('json');
      const jobs = await engine.leaseRemote(worker, max, waitMs, c.req.raw.signal);
      return c.json({ leaseMs: engine.leaseMs, jobs }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/workers/heartbeat',
      summary: 'Renew the leases a worker holds (and report progress); answers with the ones it lost',
      tags,
      request: { body: { content: { 'application/json': { schema: HeartbeatRequestSchema } }, required: true } },
      responses: { 200: { description: 'renewed', ...json(HeartbeatResponseSchema) }, 400: err('bad request') },
    }),
    async (c) => {
      const { worker, leases } = c.req.valid('json');
      return c.json({ leaseMs: engine.leaseMs, lost: await engine.heartbeatRemote(worker, leases) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/workers/release',
      summary: 'Give unfinished attempts back (the worker is shutting down): they are offered again at once',
      tags,
      request: { body: { content: { 'application/json': { schema: ReleaseRequestSchema } }, required: true } },
      responses: { 200: { description: 'released', ...json(z.object({ released: z.number().int() })) }, 400: err('bad request') },
    }),
    async (c) => {
      const { worker, leases } = c.req.valid('json');
      return c.json({ released: await engine.releaseRemote(worker, leases) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/workers/attempts/{id}/{attempt}/outputs/{name}',
      summary: 'Upload one output of an attempt (streamed; checked against x-tutti-sha256 when given). The server keeps the digest it computed: that is the one recorded',
      tags,
      request: {
        params: z.object({ id: InstanceId, attempt: Attempt, name: z.string().openapi({ param: { name: 'name', in: 'path' } }) }),
        query: z.object({ worker: WorkerId }),
        headers: z.object({
          'x-tutti-sha256': z.string().regex(/^[0-9a-f]{64}$/).optional(),
          [LEASE_SECRET_HEADER]: z.string().max(256).optional().openapi({ description: 'the lease secret of the attempt (without it, 409 lease_lost)' }),
        }),
        body: { content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } } },
      },
      responses: { 200: { description: 'stored', ...json(z.object({ size: z.number().int(), sha256: z.string() })) }, 400: err('bad output'), 409: lost },
    }),
    async (c) => {
      const { id, attempt, name } = c.req.valid('param');
      const body = c.req.raw.body;
      if (!body) throw new ApiError(400, 'invalid_request', 'the body is the output\'s bytes; it is missing');
      const headers = c.req.valid('header');
      const stored = await engine.uploadRemoteOutput({ worker: c.req.valid('query').worker, instanceId: id, attempt, secret: headers[LEASE_SECRET_HEADER] }, name, body, headers['x-tutti-sha256']);
      return c.json(stored, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/workers/attempts/{id}/complete',
      summary: 'Report an attempt succeeded; its uploaded outputs are committed once, if each is the size and sha256 the server computed when it was uploaded',
      tags,
      request: { params: z.object({ id: InstanceId }), body: { content: { 'application/json': { schema: CompleteRequestSchema } }, required: true } },
      responses: { 204: { description: 'committed' }, 400: err('bad report'), 409: lost },
    }),
    async (c) => {
      await engine.completeRemote(c.req.valid('json').worker, c.req.valid('param').id, c.req.valid('json'));
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/workers/attempts/{id}/fail',
      summary: 'Report an attempt failed; the task\'s retry policy decides what comes next',
      tags,
      request: { params: z.object({ id: InstanceId }), body: { content: { 'application/json': { schema: FailRequestSchema } }, required: true } },
      responses: { 204: { description: 'recorded' }, 400: err('bad report'), 409: lost },
    }),
    async (c) => {
      await engine.failRemote(c.req.valid('json').worker, c.req.valid('param').id, c.req.valid('json'));
      return c.body(null, 204);
    },
  );

  return app;
}
