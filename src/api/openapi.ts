/** Small builders for route definitions: a JSON body or response, and a documented error response. */
import type { z } from '@hono/zod-openapi';
import { ErrorSchema } from './schemas.js';

export const json = <T extends z.ZodType>(schema: T) => ({ content: { 'application/json': { schema } } });
export const err = (description: string) => ({ description, ...json(ErrorSchema) });
