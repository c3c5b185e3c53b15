/**
 * Request bodies: every one is size-capped as it streams (the declared length alone proves nothing),
 * and JSON is checked for depth and number range before any parser or validator sees it.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { ApiError } from './errors.js';

/** The media type of the request without parameters, lower case ('' when absent). */
export function mediaType(c: Context): string {
  return (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}

export function requireMediaType(c: Context, allowed: string[]): string {
  const type = mediaType(c);
  if (!allowed.includes(type)) {
    throw new ApiError(415, 'unsupported_media_type', `content type ${type ? `"${type}"` : 'missing'}: use ${allowed.join(' or ')}`);
  }
  return type;
}

/**
 * Routes whose body may be as large as an upload (`--max-upload`); every other route takes a JSON
 * (or flow) document and is held to `--max-json`. Safe by default: a new upload route missing here
 * refuses its bodies past `--max-json` until it is listed.
 */
const UPLOADS: [method: string, path: RegExp][] = [
  ['POST', /^\/api\/v1\/components\/?$/],
  ['POST', /^\/api\/v1\/flows\/[^/]+\/(runs|webhook)\/?$/],
  ['PUT', /^\/api\/v1\/workers\/attempts\/[^/]+\/[^/]+\/outputs\/[^/]+$/],
];

const isUpload = (method: string, path: string) => UPLOADS.some(([m, p]) => m === method && p.test(path));

/**
 * Refuse a body over its route's limit before it is read into memory: at once when its declared
 * length says so, or as it streams when it has none (chunked). JSON bodies of non-upload routes are
 * read here, checked for depth and range, and handed on from memory.
 */
export function limitBodies(limits: { upload: number; json: number }): MiddlewareHandler {
  return async (c, next) => {
    const raw = c.req.raw;
    if (!raw.body) return next();
    const upload = isUpload(c.req.method, c.req.path);
    const max = upload ? limits.upload : limits.json;
    const length = raw.headers.get('content-length');
    if (length !== null && !raw.headers.has('transfer-encoding')) {
      if (!/^\d+$/.test(length.trim())) throw new ApiError(400, 'bad_request', 'the Content-Length header is not a number');
      if (Number(length) > max) {
        // Read to its end (and dropped) before the answer, up to a bound: a client still writing when
        // the connection closes under it reports a broken pipe, not the 413 that says why.
        if (Number(length) <= DISCARD_MAX) await discard(raw.body);
        throw tooLarge(max);
      }
    } else {
      c.req.raw = new Request(raw, { body: raw.body.pipeThrough(capStream(max)), duplex: 'half' } as RequestInit);
    }
    if (!upload && mediaType(c) === 'application/json') {
      const bytes = await readBody(c, max);
      checkJson(bytes);
      // Hono's validator reads the body from this cache: the stream above is spent.
      (c.req.bodyCache as Record<string, unknown>).arrayBuffer = Promise.resolve(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
    }
    return next();
  };
}

/** Beyond this, a body over its limit is not read at all: the connection is closed instead. */
const DISCARD_MAX = 64 * 2 ** 20;

async function discard(body: ReadableStream<Uint8Array>): Promise<void> {
  try {
    for await (const _ of body as unknown as AsyncIterable<Uint8Array>);
  } catch {
    // the client went away: nothing to answer
  }
}

function capStream(max: number): TransformStream<Uint8Array, Uint8Array> {
  let size = 0;
  return new TransformStream({
    transform(chunk, ctl) {
      size += chunk.byteLength;
      if (size > max) ctl.error(tooLarge(max));
      else ctl.enqueue(chunk);
    },
  });
}

/** The whole body as bytes, refusing more than `max` (checked as it streams, not only by Content-Length). */
export async function readBody(c: Context, max: number): Promise<Uint8Array> {
  const declared = Number(c.req.header('content-length') ?? NaN);
  if (declared > max) throw tooLarge(max);
  const cached = c.req.bodyCache.arrayBuffer;
  if (cached) return new Uint8Array(await cached);
  // With a declared length the HTTP parser reads no more than it: take the body whole, without
  // the web stream a Request body would cost (most of a small trigger's handling on Node).
  if (Number.isInteger(declared)) return new Uint8Array(await c.req.raw.arrayBuffer().catch(unwrapStreamError));
  const body = c.req.raw.body;
  if (!body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > max) throw tooLarge(max);
      chunks.push(chunk);
    }
  } catch (e) {
    unwrapStreamError(e);
  }
  return Buffer.concat(chunks);
}

/** A body stream cut short by `capStream` surfaces as its ApiError, possibly wrapped by the reader. */
function unwrapStreamError(e: unknown): never {
  if (e instanceof ApiError) throw e;
  const cause = (e as { cause?: unknown } | null)?.cause;
  if (cause instanceof ApiError) throw cause;
  throw new ApiError(400, 'bad_request', 'the request body could not be read to its end');
}

export function tooLarge(max: number): ApiError {
  // The node adapter drains what is left of the body for a moment, then closes the connection: a
  // client still writing sees this answer rather than a broken pipe.
  return new ApiError(413, 'payload_too_large', `the body is larger than this route's limit of ${max} bytes (tutti serve --max-upload for uploads, --max-json for documents)`);
}

/** Deeper than this, a JSON or flow document is an attack, not data. */
export const MAX_DEPTH = 64;

/**
 * Check a JSON text in one pass without parsing it: nesting no deeper than MAX_DEPTH (recursive
 * code downstream, JSON.stringify included, would overflow its stack), and no number that is not a
 * finite double (`1e999` parses to Infinity and would be stored as null). Invalid JSON passes:
 * JSON.parse reports it. Throws a 400 naming the byte offset.
 */
export function checkJson(bytes: Uint8Array): void {
  let depth = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0x22 /* " */) {
      for (i++; i < bytes.length && bytes[i] !== 0x22; i++) if (bytes[i] === 0x5c /* \ */) i++;
    } else if (b === 0x5b /* [ */ || b === 0x7b /* { */) {
      if (++depth > MAX_DEPTH) throw new ApiError(400, 'too_deep', `the JSON body nests deeper than ${MAX_DEPTH} levels (at byte ${i})`);
    } else if (b === 0x5d /* ] */ || b === 0x7d /* } */) {
      depth--;
    } else if (b === 0x2d /* - */ || (b >= 0x30 && b <= 0x39)) {
      const start = i;
      while (i + 1 < bytes.length && isNumberByte(bytes[i + 1]!)) i++;
      // Only a long literal or one with an exponent can overflow: the common short ones cost no decode.
      if (i - start > 15 || hasExponent(bytes, start, i)) {
        const text = Buffer.from(bytes.subarray(start, i + 1)).toString('latin1');
        if (!Number.isFinite(Number(text)) && /^-?\d/.test(text)) {
          throw new ApiError(400, 'number_out_of_range', `the number ${text.length > 24 ? `${text.slice(0, 24)}…` : text} at byte ${start} is beyond what a double can hold`);
        }
      }
    }
  }
}

const isNumberByte = (b: number) => (b >= 0x30 && b <= 0x39) || b === 0x2e || b === 0x65 || b === 0x45 || b === 0x2b || b === 0x2d;

function hasExponent(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i <= to; i++) if (bytes[i] === 0x65 || bytes[i] === 0x45) return true;
  return false;
}

/** Parse a checked JSON body (see checkJson); a 400 when it is not JSON. */
export function parseJsonBody(bytes: Uint8Array): unknown {
  checkJson(bytes);
  const text = new TextDecoder().decode(bytes);
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ApiError(400, 'malformed_body', `the body is not valid JSON: ${(e as Error).message}`);
  }
}
