/** Components: upload (validated against the task contracts), list, inspect, download. */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { sha256 } from '../../runtime/component.js';
import { componentLocation } from '../../scheduler/components.js';
import { componentVersionsOf, findComponentVersion, getComponent, listComponents, saveComponentVersion, type ComponentRow } from '../../store/components.js';
import { readBody, requireMediaType } from '../body.js';
import type { Api } from '../context.js';
import { ApiError, notFound, validationHook } from '../errors.js';
import { err, json } from '../openapi.js';
import { ComponentSchema } from '../schemas.js';

const errors = { 400: err('bad input') };
const Name = z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, 'must be 1-63 characters of a-z, 0-9, ".", "_" or "-"');
const Version = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.+-]{0,62}$/, 'must be 1-63 characters of letters, digits, ".", "_", "+" or "-"');
const Ref = z.string().openapi({ param: { name: 'ref', in: 'path' }, description: 'a digest (64 hex digits) or name@version', example: 'sum@1.0.0' });

function toJson(c: ComponentRow, versions: string[]): z.infer<typeof ComponentSchema> {
  return { digest: c.digest, size: c.size, contract: c.contract, hasPlan: c.hasPlan, manifest: c.manifest ?? null, imports: c.imports, exports: c.exports, versions, createdAt: c.createdAt };
}

export function componentRoutes(api: Api) {
  const app = new OpenAPIHono({ defaultHook: validationHook });
  const db = api.tutti.database.db;

  const resolve = async (ref: string): Promise<ComponentRow> => {
    let digest = ref;
    if (ref.includes('@')) {
      const [name, version] = ref.split('@') as [string, string];
      const found = await findComponentVersion(db, name, version);
      if (!found) throw notFound(`component ${ref}`);
      digest = found.digest;
    }
    const row = /^[0-9a-f]{64}$/.test(digest) ? await getComponent(db, digest) : undefined;
    if (!row) throw notFound(`component ${ref}`);
    return row;
  };

  app.openapi(
    createRoute({
      method: 'post',
      path: '/components',
      summary: 'Upload a component',
      description:
        'The body is the .wasm (Content-Type: application/wasm). It is checked against the task contracts; with name and version it is also labelled name@version, and a version never changes its bytes (409).',
      tags: ['components'],
      request: {
        query: z.object({ name: Name.optional(), version: Version.optional() }),
        body: { content: { 'application/wasm': { schema: z.string().openapi({ format: 'binary' }) } }, required: true },
      },
      responses: {
        200: { description: 'already known (same bytes, same label)', ...json(ComponentSchema) },
        201: { description: 'stored', ...json(ComponentSchema) },
        409: err('name@version already has other bytes'),
        413: err('larger than the upload limit'),
        ...errors,
      },
    }),
    async (c) => {
      const { name, version } = c.req.valid('query');
      if ((name === undefined) !== (version === undefined)) throw new ApiError(400, 'invalid_request', 'give both name and version, or neither');
      requireMediaType(c, ['application/wasm', 'application/octet-stream']);
      const bytes = await readBody(c, api.maxUploadBytes);
      if (!bytes.length) throw new ApiError(400, 'invalid_component', 'the body is empty: send the .wasm bytes');
      const known = await getComponent(db, sha256(bytes));
      const prepared = await api.tutti.registry.register(bytes);
      let created = !known;
      if (name && version) {
        const label = await saveComponentVersion(db, name, version, prepared.info.digest);
        if (label.result === 'conflict') {
          throw new ApiError(409, 'conflict', `${name}@${version} is already taken by other bytes (digest ${label.digest}): publish a new version`);
        }
        created ||= label.result === 'created';
      }
      const row = (await getComponent(db, prepared.info.digest))!;
      return c.json(toJson(row, await componentVersionsOf(db, row.digest)), created ? 201 : 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/components',
      summary: 'List components',
      tags: ['components'],
      responses: { 200: { description: 'every component, newest first', ...json(z.object({ items: z.array(ComponentSchema) })) } },
    }),
    async (c) => c.json({ items: (await listComponents(db)).map((r) => toJson(r, r.versions)) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/components/{ref}',
      summary: 'Inspect a component',
      tags: ['components'],
      request: { params: z.object({ ref: Ref }) },
      responses: { 200: { description: 'contract, exports, imports, scaling manifest', ...json(ComponentSchema) }, 404: err('unknown') },
    }),
    async (c) => {
      const row = await resolve(c.req.valid('param').ref);
      return c.json(toJson(row, await componentVersionsOf(db, row.digest)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/components/{ref}/wasm',
      summary: 'Download a component\'s bytes',
      tags: ['components'],
      request: { params: z.object({ ref: Ref }) },
      responses: { 200: { description: 'the .wasm', content: { 'application/wasm': { schema: z.string().openapi({ format: 'binary' }) } } }, 404: err('unknown') },
    }),
    async (c) => {
      const row = await resolve(c.req.valid('param').ref);
      const bytes = await api.tutti.assets.read(componentLocation(row.digest));
      return c.body(new Uint8Array(bytes), 200, { 'content-type': 'application/wasm', etag: `"${row.digest}"`, 'cache-control': 'public, max-age=31536000, immutable' });
    },
  );

  return app;
}
