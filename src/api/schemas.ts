/** Request and response shapes of the HTTP API: the zod schemas the OpenAPI document is generated from. */
import { z } from '@hono/zod-openapi';
import { instanceStates, runStates, taskRunStates } from '../store/schema.js';

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'invalid_flow' }),
      message: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .openapi('Error');

const Time = z.number().int().nullable().openapi({ description: 'ms since the Unix epoch' });

export const AssetSchema = z
  .object({
    id: z.string(),
    runId: z.string(),
    taskId: z.string().nullable().openapi({ description: 'null for a run input' }),
    instanceIdx: z.number().int().nullable(),
    name: z.string(),
    size: z.number().int(),
    sha256: z.string(),
    mediaType: z.string(),
    createdAt: z.number().int(),
    url: z.string().openapi({ description: 'where to download the bytes' }),
  })
  .openapi('Asset');

export const ComponentSchema = z
  .object({
    digest: z.string().openapi({ description: 'sha256 of the bytes (hex)' }),
    size: z.number().int(),
    contract: z.enum(['command', 'task']),
    hasPlan: z.boolean(),
    manifest: z.unknown().nullable(),
    imports: z.array(z.string()),
    exports: z.array(z.string()),
    versions: z.array(z.string()).openapi({ description: 'name@version labels pointing at these bytes' }),
    createdAt: z.number().int(),
  })
  .openapi('Component');

export const FlowSummarySchema = z
  .object({
    id: z.string(),
    revision: z.number().int(),
    description: z.string().nullable(),
    tasks: z.number().int(),
    triggers: z.array(z.unknown()),
    nextFireAt: Time.openapi({ description: 'next scheduled run, when the flow has a schedule' }),
    updatedAt: z.number().int(),
  })
  .openapi('FlowSummary');

export const FlowSchemaOut = z
  .object({
    id: z.string(),
    revision: z.number().int(),
    source: z.string().openapi({ description: 'the document as submitted (YAML or JSON)' }),
    spec: z.unknown().openapi({ description: 'the parsed flow, components resolved to digests' }),
    revisions: z.array(z.object({ revision: z.number().int(), createdAt: z.number().int() })),
    schedules: z.array(z.object({ cron: z.string(), timezone: z.string().nullable(), missed: z.string(), nextFireAt: z.number().int(), lastFireAt: Time })),
    createdAt: z.number().int(),
    updatedAt: z.number().int(),
  })
  .openapi('Flow');

export const RunSchema = z
  .object({
    id: z.string(),
    flowId: z.string(),
    revision: z.number().int(),
    state: z.enum(runStates),
    params: z.record(z.string(), z.unknown()),
    trigger: z.string(),
    logicalTime: Time,
    backfillId: z.string().nullable(),
    error: z.string().nullable(),
    createdAt: z.number().int(),
    startedAt: Time,
    finishedAt: Time,
  })
  .openapi('Run');

const Counts = z.partialRecord(z.enum(instanceStates), z.number().int()).openapi({ description: 'instances by state' });

export const TaskRunSchema = z
  .object({
    taskId: z.string(),
    state: z.enum(taskRunStates),
    instanceCount: z.number().int().nullable(),
    policy: z.string().nullable().openapi({ description: 'which scaling policy decided the instance count' }),
    instances: Counts,
    needs: z.array(z.string()),
    error: z.string().nullable(),
    startedAt: Time,
    finishedAt: Time,
  })
  .openapi('TaskRun');

export const RunDetailSchema = RunSchema.extend({ tasks: z.array(TaskRunSchema) }).openapi('RunDetail');

export const InstanceSchema = z
  .object({
    idx: z.number().int(),
    state: z.enum(instanceStates),
    attempt: z.number().int(),
    progress: z.number(),
    partition: z.unknown(),
    errorKind: z.string().nullable(),
    error: z.string().nullable(),
    startedAt: Time,
    finishedAt: Time,
  })
  .openapi('Instance');

export const AttemptSchema = z
  .object({
    attempt: z.number().int(),
    worker: z.string(),
    outcome: z.string(),
    errorKind: z.string().nullable(),
    error: z.string().nullable(),
    startedAt: z.number().int(),
    finishedAt: z.number().int(),
    logBytes: z.number().int(),
  })
  .openapi('Attempt');

export const BackfillSchema = z
  .object({ id: z.string(), flowId: z.string(), cron: z.string(), from: z.number().int(), to: z.number().int(), concurrency: z.number().int(), runs: z.number().int(), progress: z.record(z.string(), z.number().int()) })
  .openapi('Backfill');

export const TriggerBodySchema = z
  .object({
    params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}).openapi({ description: 'values of the flow\'s non-asset inputs' }),
    assets: z
      .record(z.string(), z.union([z.string(), z.array(z.string())]))
      .default({})
      .openapi({ description: 'asset inputs given as ids of stored assets (an upload or another run\'s output)' }),
  })
  .strict()
  .openapi('TriggerRequest');

export const BackfillBodySchema = z
  .object({
    from: z.iso.datetime({ offset: true }).openapi({ example: '2026-11-01T00:00:00Z' }),
    to: z.iso.datetime({ offset: true }).openapi({ example: '2026-11-02T00:00:00Z', description: 'exclusive' }),
    concurrency: z.number().int().min(1).max(1000).default(1),
    trigger: z.number().int().min(0).optional().openapi({ description: 'position of the schedule among the flow\'s triggers (default: the first schedule)' }),
  })
  .strict()
  .openapi('BackfillRequest');

export const Limit = z.coerce.number().int().min(1).max(500).default(50);

export const StatsSchema = z
  .object({
    since: z.number().int().openapi({ description: 'start of the first hour counted, ms since the epoch' }),
    until: z.number().int(),
    hours: z.array(z.object({ hour: z.number().int(), states: z.record(z.string(), z.number().int()).openapi({ description: 'runs created in that hour by their state now' }) })),
    succeeded: z.number().int(),
    failed: z.number().int(),
    successRate: z.number().nullable().openapi({ description: 'succeeded / (succeeded + failed) over the window; null without finished runs' }),
    durationMs: z.object({ p50: z.number().nullable(), p95: z.number().nullable(), finished: z.number().int().openapi({ description: 'runs finished in the window' }) }),
    instancesRunning: z.number().int(),
    queueDepth: z.number().int(),
    workers: z.number().int().openapi({ description: 'worker threads of the process that answered' }),
  })
  .openapi('Stats');
