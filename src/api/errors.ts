/** Every error leaves the API as `{error: {code, message, details}}`; a client's mistake is a 4xx. */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { StorageError } from '../assets/storage-error.js';
import { FlowError, formatPath } from '../flow/index.js';
import { ComponentRejected } from '../runtime/component.js';
import { NotFound } from '../scheduler/backfills.js';
import { LEASE_LOST } from '../runtime/remote/protocol.js';
import { LeaseLost, RemoteReportError } from '../scheduler/engine.js';
import { InputError } from '../scheduler/trigger.js';
import { RunStateError } from '../store/run-control.js';

export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} not found`);

export function errorResponse(c: Context, status: ContentfulStatusCode, code: string, message: string, details?: unknown) {
  return c.json({ error: { code, message, ...(details !== undefined ? { details } : {}) } }, status);
}

export function onError(err: Error, c: Context) {
  if (err instanceof ApiError) {
    for (const [k, v] of Object.entries(err.headers ?? {})) c.header(k, v);
    return errorResponse(c, err.status, err.code, err.message, err.details);
  }
  if (err instanceof FlowError) {
    return errorResponse(c, 400, 'invalid_flow', err.message, err.issues.map((i) => ({ path: formatPath(i.path), message: i.message, line: i.line, column: i.column })));
  }
  if (err instanceof InputError) return errorResponse(c, 400, 'invalid_input', err.message, err.message.split('\n'));
  if (err instanceof ComponentRejected) return errorResponse(c, 400, 'invalid_component', err.message);
  if (err instanceof RunStateError) return errorResponse(c, err.state === 'missing' ? 404 : 409, err.state === 'missing' ? 'not_found' : 'conflict', err.message);
  if (err instanceof NotFound) return errorResponse(c, 404, 'not_found', err.message);
  if (err instanceof LeaseLost) return errorResponse(c, 409, LEASE_LOST, err.message);
  if (err instanceof RemoteReportError) return errorResponse(c, 400, 'invalid_report', err.message);
  if (err instanceof HTTPException) {
    const status = err.status as ContentfulStatusCode;
    const code = status === 413 ? 'payload_too_large' : status === 415 ? 'unsupported_media_type' : status === 401 ? 'unauthorized' : 'bad_request';
    return errorResponse(c, status, code, err.message || 'bad request');
  }
  if (err instanceof SyntaxError) return errorResponse(c, 400, 'malformed_body', `the body is not valid: ${err.message}`);
  if (err instanceof URIError) return errorResponse(c, 400, 'bad_request', 'the URL is not valid percent-encoded UTF-8');
  const storage = storageFailure(err);
  if (storage) {
    // The operator needs the cause (in the log, with the path); the client only that it is not its fault.
    console.error(`tutti: ${storage.what} failed on ${c.req.method} ${c.req.path}:`, (err as Error).message);
    c.header('retry-after', '30');
    return errorResponse(c, 503, storage.code, storage.message);
  }
  console.error('tutti: internal error on', c.req.method, c.req.path, err);
  return errorResponse(c, 500, 'internal', 'internal error (logged on the server)');
}

/** zod-openapi's hook: a request that fails its schema gets every problem with its place. */
export function validationHook(result: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] }; target?: string }, c: Context) {
  if (result.success) return undefined;
  const issues = result.error!.issues.map((i) => ({ in: result.target, path: i.path.map(String).join('.'), message: i.message }));
  return errorResponse(c, 400, 'invalid_request', issues.map((i) => `${i.in ?? 'request'}${i.path ? ` ${i.path}` : ''}: ${i.message}`).join('; '), issues);
}

const DISK: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exhausted',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EIO: 'an I/O error',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
};
const DATABASE: Record<string, string> = {
  SQLITE_FULL: 'the database or its disk is full',
  SQLITE_READONLY: 'the database is read-only',
  SQLITE_IOERR: 'the database had an I/O error',
  SQLITE_CANTOPEN: 'the database file cannot be opened',
  SQLITE_BUSY: 'the database is busy',
  SQLITE_LOCKED: 'the database is locked',
  SQLITE_PERM: 'permission denied on the database',
  SQLITE_CORRUPT: 'the database is corrupt',
  SQLITE_NOTADB: 'the database file is not a database',
};

/**
 * A failure of the server's own storage (full, read-only, unreachable), found anywhere in the
 * error's cause chain: drizzle wraps the driver's error with the query text, which never leaves.
 */
export function storageFailure(err: unknown): { code: string; what: string; message: string } | undefined {
  for (let e = err, n = 0; e && typeof e === 'object' && n < 8; e = (e as { cause?: unknown }).cause, n++) {
    const code = String((e as { code?: unknown }).code ?? '');
    // The asset store's own words, unless the errno says more (a full or read-only disk).
    if (e instanceof StorageError && (e.op === 'read' || !DISK[code])) return { code: 'storage_unavailable', what: 'storage', message: `the server cannot do this now: ${e.message}` };
    if (DISK[code]) return { code: 'storage_unavailable', what: 'storage', message: `the server cannot store this now: ${DISK[code]} (${code}); try again later` };
    // Extended codes name their primary one first: SQLITE_IOERR_WRITE is an SQLITE_IOERR.
    const db = DATABASE[code.split('_').slice(0, 2).join('_')];
    if (db) return { code: 'database_unavailable', what: 'the database', message: `the server cannot store this now: ${db}; try again later` };
  }
  return undefined;
}
