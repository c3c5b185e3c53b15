/** Reading request bodies that are not JSON: size-capped, with the content type checked. */
import type { Context } from 'hono';
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

/** The whole body as bytes, refusing more than `max` (checked as it streams, not only by Content-Length). */
export async function readBody(c: Context, max: number): Promise<Uint8Array> {
  const declared = Number(c.req.header('content-length') ?? NaN);
  if (declared > max) throw tooLarge(max);
  // With a declared length the HTTP parser reads no more than it: take the body whole, without
  // the web stream a Request body would cost (most of a small trigger's handling on Node).
  if (Number.isInteger(declared)) return new Uint8Array(await c.req.raw.arrayBuffer());
  const body = c.req.raw.body;
  if (!body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > max) throw tooLarge(max);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export function tooLarge(max: number): ApiError {
  return new ApiError(413, 'payload_too_large', `the body is larger than the server's limit of ${max} bytes (tutti serve --max-upload)`);
}
