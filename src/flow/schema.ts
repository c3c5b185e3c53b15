import { z } from 'zod';
import { cronProblem, timezoneProblem } from './cron.js';
import { durationMs, MAX_DURATION_MS, MAX_SIZE_BYTES, sizeBytes } from './units.js';

/** Task, input and flow ids: used in URLs, asset names and file paths, so kept to a safe alphabet. */
const Id = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be 1-63 characters of a-z, 0-9, "_" or "-", starting with a letter or digit');

/** How a rejected value is shown in a message: long text cut, so an error never echoes a huge input. */
function shown(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (v && typeof v === 'object') return Array.isArray(v) ? 'a list' : 'a mapping';
  return String(v);
}

const DAY_MS = 86_400_000;
const GiB = 2 ** 30;
const MiB = 2 ** 20;

/**
 * Whole milliseconds from `min` up to MAX_DURATION_MS, or what is wrong with `v`. Longer is refused,
 * not clamped: the flow would not do what it says (and a remote worker cannot parse past 2^53 ms).
 */
function checkDuration(v: unknown, min: number): number | string {
  const ms = typeof v === 'string' || typeof v === 'number' ? durationMs(v) : null;
  if (ms === null) return `bad duration ${shown(v)}: use a number with ms, s, m, h or d, e.g. "30s"`;
  if (ms > MAX_DURATION_MS) {
    const days = Math.floor((MAX_DURATION_MS / DAY_MS) * 10) / 10;
    return `duration ${shown(v)} is too long: at most ${MAX_DURATION_MS} ms (${days} days), the longest a timer can wait`;
  }
  if (ms < min) return `duration ${shown(v)} is too short: at least ${min} ms`;
  return ms;
}

/** Bytes up to `max`, or what is wrong with `v`; `why` says what holds no more. */
function checkSize(v: unknown, max: number, why: string): number | string {
  const bytes = typeof v === 'string' || typeof v === 'number' ? sizeBytes(v) : null;
  if (bytes === null) return `bad size ${shown(v)}: use bytes or a number with KiB, MiB or GiB, e.g. "128MiB"`;
  if (bytes > max) {
    const most = max % MiB === 0 ? `${max % GiB === 0 ? `${max / GiB}GiB` : `${max / MiB}MiB`} (${max} bytes)` : `${max} bytes`;
    return `size ${shown(v)} is too large: at most ${most}; ${why}`;
  }
  return bytes;
}

/**
 * A string with a unit or a plain number, checked by `check`. zod refuses a non-finite number
 * before any transform sees it (YAML's .inf, .nan): `check` words that message too.
 */
function unit(check: (v: unknown) => number | string) {
  return z.union([z.string(), z.number()], { error: (issue) => String(check(issue.input)) }).transform((v, ctx) => {
    const n = check(v);
    if (typeof n === 'string') {
      ctx.addIssue({ code: 'custom', message: n });
      return z.NEVER;
    }
    return n;
  });
}

const duration = (min = 0) => unit((v) => checkDuration(v, min));
const size = (max: number, why: string) => unit((v) => checkSize(v, max, why));
const Duration = duration();

/** A 32-bit wasm memory has at most 65536 pages of 64 KiB. */
export const MAX_MEMORY_BYTES = 4 * GiB;
/** A log is held whole in a worker's heap (512 MB), copied to the scheduler and stored in one row. */
export const MAX_LOG_BYTES = 64 * MiB;

export const SecretName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be letters, digits and "_", not starting with a digit');

const ParamValue = z.union([z.string(), z.number(), z.boolean()]);

export const RetrySchema = z
  .object({
    attempts: z.number().int().min(1).max(100).default(1).describe('Total attempts, the first one included'),
    backoff: z.enum(['fixed', 'exponential']).default('exponential'),
    delay: Duration.default(1000).describe('Delay before the second attempt (at most 24d)'),
    maxDelay: Duration.default(300_000).describe('Longest delay between two attempts (at most 24d)'),
  })
  .strict();

export const TaskSchema = z
  .object({
    id: Id,
    component: z.string().min(1).describe('A .wasm path relative to the flow file, or name@version of an uploaded component'),
    needs: z.array(Id).default([]).describe('Tasks whose outputs become this task\'s inputs (fan-in of all their instances)'),
    inputs: z.array(Id).default([]).describe('Flow inputs this task reads'),
    params: z.record(z.string(), ParamValue).default({}),
    env: z.record(z.string(), z.string()).default({}).describe('Environment variables the task sees (nothing else from the host)'),
    secrets: z
      .union([z.array(SecretName), z.record(z.string(), SecretName)])
      .default({})
      .transform((v) => (Array.isArray(v) ? Object.fromEntries(v.map((n) => [n, n])) : v))
      .describe('Secrets given to the task as environment variables: a list of names, or ENV_NAME: SECRET_NAME'),
    scratch: z.boolean().default(false).describe('Give each instance an empty directory at /scratch, removed afterwards'),
    network: z
      .object({
        allow: z
          .array(z.string().regex(/^[a-z0-9.-]+(:\d{1,5})?$/i, 'must be a host name or address, optionally with :port'))
          .min(1)
          .describe('Hosts (host or host:port) the task may send HTTP requests to; nothing else is reachable'),
      })
      .strict()
      .optional(),
    retry: RetrySchema.default({ attempts: 1, backoff: 'exponential', delay: 1000, maxDelay: 300_000 }),
    timeout: duration(1).optional().describe('Wall-clock limit for one instance (at most 24d)'),
    maxInstances: z.number().int().min(1).optional().describe('Caps the fan-out the component asks for'),
    concurrency: z.number().int().min(1).optional().describe('Instances of this task running at once'),
    memory: size(MAX_MEMORY_BYTES, 'a 32-bit wasm memory holds no more').optional().describe('Linear-memory cap for one instance (at most 4GiB)'),
    outputLimit: size(MAX_SIZE_BYTES, 'byte counts are exact only up to it').optional().describe('Bytes all outputs of one instance may add up to'),
    logLimit: size(MAX_LOG_BYTES, 'a log is held whole in memory and stored in one row').optional().describe('Bytes of log kept per attempt (at most 64MiB)'),
    planLimit: z.number().int().min(1).max(1_000_000).optional().describe('Most partitions the component\'s plan may return (default 200,000)'),
  })
  .strict();

export const FlowInputSchema = z
  .object({
    type: z.enum(['asset', 'string', 'number', 'boolean']).default('asset'),
    description: z.string().optional(),
    default: ParamValue.optional(),
    required: z.boolean().default(true),
  })
  .strict();

const Cron = z
  .string()
  .superRefine((v, ctx) => {
    const problem = cronProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .describe('5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first');

const TimeZone = z
  .string()
  .superRefine((v, ctx) => {
    const problem = timezoneProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .describe('IANA time zone the cron is read in, e.g. Europe/Paris (default UTC)');

/** Upstream output "task/name" that becomes an asset input of the triggered run. */
const OutputRef = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}\/[^/\s]+$/, 'must be "task/output", e.g. "count/stdout"');

export const ScheduleTriggerSchema = z
  .object({
    type: z.literal('schedule'),
    cron: Cron,
    timezone: TimeZone.optional(),
    missed: z
      .enum(['skip', 'catch-up'])
      .default('skip')
      .describe('Ticks missed while no server was running: skip them, or run each one (at most 1,000) when a server is back'),
    params: z.record(z.string(), ParamValue).default({}).describe('Values for the flow\'s non-asset inputs'),
  })
  .strict();

export const TriggerSchema = z.discriminatedUnion('type', [
  ScheduleTriggerSchema,
  z
    .object({
      type: z.literal('webhook'),
      input: Id.optional().describe('Asset input that receives the raw request body; top-level JSON fields fill the non-asset inputs'),
    })
    .strict(),
  z
    .object({
      type: z.literal('flow'),
      flow: Id.describe('Upstream flow id'),
      on: z.enum(['succeeded', 'failed', 'finished']).default('succeeded'),
      inputs: z.record(Id, OutputRef).default({}).describe('Asset inputs of this flow taken from the upstream run\'s outputs'),
    })
    .strict(),
  z
    .object({
      type: z.literal('asset'),
      flow: Id.describe('Upstream flow id'),
      asset: OutputRef.describe('Fires when a run of the upstream flow materializes this output ("task/output")'),
      inputs: z.record(Id, OutputRef).default({}).describe('Asset inputs of this flow taken from the upstream run\'s outputs'),
    })
    .strict(),
]);

export const FlowConcurrencySchema = z
  .object({
    max: z.number().int().min(1).describe('Most runs of this flow running at once'),
    policy: z
      .enum(['queue', 'skip', 'cancel-oldest'])
      .default('queue')
      .describe('When a run is triggered at the limit: wait in line, be recorded as skipped, or cancel the oldest running run'),
  })
  .strict();

export const FlowSchema = z
  .object({
    id: Id,
    description: z.string().optional(),
    inputs: z.record(Id, FlowInputSchema).default({}),
    triggers: z.array(TriggerSchema).default([]),
    concurrency: FlowConcurrencySchema.optional(),
    tasks: z.array(TaskSchema).min(1, 'a flow needs at least one task'),
  })
  .strict();

/** A flow as written (before defaults): what editors validate against. */
export type FlowInput = z.input<typeof FlowSchema>;
/** A parsed flow with defaults applied and units converted (durations in ms, sizes in bytes). */
export type Flow = z.output<typeof FlowSchema>;
export type Task = z.output<typeof TaskSchema>;
export type Retry = z.output<typeof RetrySchema>;
export type Trigger = z.output<typeof TriggerSchema>;
export type ScheduleTrigger = z.output<typeof ScheduleTriggerSchema>;
export type FlowConcurrency = z.output<typeof FlowConcurrencySchema>;

/** JSON Schema for flow files, generated from the zod schema so the two never drift. */
export function flowJsonSchema(): object {
  return z.toJSONSchema(FlowSchema, { io: 'input', unrepresentable: 'any' });
}
