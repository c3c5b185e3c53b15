/**
 * Bearer-token auth. Hono's bearerAuth only takes tokens of RFC 6750 characters and answers every
 * other request with a bare 400, so a token with "@" or "!" locked everyone out: any token of
 * visible ASCII works here, and the server refuses at start one that a header cannot carry.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { ApiError } from './errors.js';

/** Why a token cannot be used, or undefined when it can. */
export function tokenProblem(token: string): string | undefined {
  if (!token.length) return 'the token is empty';
  if (!/^[\x21-\x7e]+$/.test(token)) return 'the token must be visible ASCII characters (no spaces, control or non-ASCII characters: an HTTP header cannot carry them reliably)';
  if (token.length > 4096) return 'the token is longer than 4096 characters';
  return undefined;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export function bearerToken(token: string): MiddlewareHandler {
  const problem = tokenProblem(token);
  if (problem) throw new Error(problem);
  const expected = digest(token);
  return async (c, next) => {
    const header = c.req.header('authorization');
    const challenge = { 'www-authenticate': 'Bearer realm="tutti"' };
    if (!header) throw new ApiError(401, 'unauthorized', 'this server needs a bearer token: Authorization: Bearer <TUTTI_API_TOKEN>', undefined, challenge);
    const m = /^Bearer +(\S+)\s*$/i.exec(header);
    // RFC 6750: a malformed request is a 400, a wrong or missing token a 401.
    if (!m) throw new ApiError(400, 'invalid_request', 'the Authorization header must be "Bearer <token>"', undefined, challenge);
    // Compared by digest: constant time whatever the lengths.
    if (!timingSafeEqual(digest(m[1]!), expected)) throw new ApiError(401, 'unauthorized', 'wrong bearer token', undefined, challenge);
    return next();
  };
}
