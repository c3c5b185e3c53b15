/**
 * The database schema: the single source of truth for Tutti's state. drizzle-kit generates the
 * migrations in ./drizzle from this file (`npm run db:generate`).
 */
import { sql } from 'drizzle-orm';
import { blob, index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

const now = sql`(CAST(unixepoch('subsec') * 1000 AS INTEGER))`;

/** Component bytes, known by content digest. */
export const components = sqliteTable('components', {
  digest: text('digest').primaryKey(), // sha256 hex
  size: integer('size').notNull(),
  /** 'command' (wasi:cli/command) or 'task' (tutti:task typed world). */
  contract: text('contract', { enum: ['command', 'task'] }).notNull(),
  hasPlan: integer('has_plan', { mode: 'boolean' }).notNull().default(false),
  /** Embedded scaling manifest (JSON), when the component carries one. */
  manifest: text('manifest', { mode: 'json' }),
  imports: text('imports', { mode: 'json' }).$type<string[]>().notNull(),
  exports: text('exports', { mode: 'json' }).$type<string[]>().notNull(),
  createdAt: integer('created_at').notNull().default(now),
});

/** name@version labels for uploaded components. A version, once given, never changes its bytes. */
export const componentVersions = sqliteTable(
  'component_versions',
  {
    name: text('name').notNull(),
    version: text('version').notNull(),
    digest: text('digest').notNull().references(() => components.digest),
    createdAt: integer('created_at').notNull().default(now),
  },
  (t) => [primaryKey({ columns: [t.name, t.version] })],
);

export const flows = sqliteTable('flows', {
  id: text('id').primaryKey(),
  revision: integer('revision').notNull(),
  deleted: integer('deleted', { mode: 'boolean' }).notNull().default(false),
  createdAt: integer('created_at').notNull().default(now),
  updatedAt: integer('updated_at').notNull().default(now),
});

/** Every version of every flow. Runs point at the revision they ran, so deleting a flow keeps its history. */
export const flowRevisions = sqliteTable(
  'flow_revisions',
  {
    flowId: text('flow_id').notNull(),
    revision: integer('revision').notNull(),
    /** The document as submitted (YAML or JSON). */
    source: text('source').notNull(),
    /** The parsed flow, with every task's component resolved to a digest. */
    spec: text('spec', { mode: 'json' }).notNull(),
    createdAt: integer('created_at').notNull().default(now),
  },
  (t) => [primaryKey({ columns: [t.flowId, t.revision] })],
);

/** `skipped`: never started, because its flow was at its run limit with the `skip` policy. */
export const runStates = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'skipped'] as const;
export type RunState = (typeof runStates)[number];

export const runs = sqliteTable(
  'runs',
  {
    id: text('id').primaryKey(),
    flowId: text('flow_id').notNull(),
    revision: integer('revision').notNull(),
    state: text('state', { enum: runStates }).notNull(),
    params: text('params', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    trigger: text('trigger').notNull(),
    /** The schedule tick a scheduled or backfill run stands for (ms since epoch). */
    logicalTime: integer('logical_time'),
    /**
     * What fired the run, when it must fire once only (a schedule tick, a backfill tick, an upstream
     * run): a second server or a retry after a crash finds the key taken and creates nothing.
     */
    dedupeKey: text('dedupe_key'),
    backfillId: text('backfill_id'),
    error: text('error'),
    createdAt: integer('created_at').notNull().default(now),
    startedAt: integer('started_at'),
    finishedAt: integer('finished_at'),
    /**
     * A nonce written by the compare-and-set that last moved this row. D1 has no transactions: the
     * statements that follow a move in the same batch test for the nonce to know whether it won.
     */
    stepToken: text('step_token'),
  },
  (t) => [
    index('runs_state').on(t.state),
    index('runs_flow').on(t.flowId, t.createdAt),
    uniqueIndex('runs_dedupe').on(t.flowId, t.dedupeKey),
    index('runs_backfill').on(t.backfillId, t.state),
  ],
);

/**
 * One row per schedule trigger of a live flow: when it fires next. Firing moves `nextFireAt` with a
 * compare-and-set, so of several servers exactly one fires each tick.
 */
export const schedules = sqliteTable(
  'schedules',
  {
    flowId: text('flow_id').notNull(),
    /** cron + timezone: a schedule keeps its place across flow revisions while these stay the same. */
    key: text('key').notNull(),
    cron: text('cron').notNull(),
    timezone: text('timezone'),
    missed: text('missed', { enum: ['skip', 'catch-up'] }).notNull(),
    params: text('params', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    nextFireAt: integer('next_fire_at').notNull(),
    lastFireAt: integer('last_fire_at'),
    /**
     * A nonce written by the compare-and-set that last moved this row. D1 has no transactions: the
     * statements that follow a move in the same batch test for the nonce to know whether it won.
     */
    stepToken: text('step_token'),
  },
  (t) => [primaryKey({ columns: [t.flowId, t.key] }), index('schedules_due').on(t.nextFireAt)],
);

/** A request to run a scheduled flow once per tick over a past time range. */
export const backfills = sqliteTable('backfills', {
  id: text('id').primaryKey(),
  flowId: text('flow_id').notNull(),
  cron: text('cron').notNull(),
  timezone: text('timezone'),
  from: integer('from').notNull(),
  to: integer('to').notNull(),
  /** Most of its runs running at once. */
  concurrency: integer('concurrency').notNull(),
  runCount: integer('run_count').notNull(),
  createdAt: integer('created_at').notNull().default(now),
});

/** Flow-to-flow triggers of live flows, kept in step with their flows' current revisions. */
export const flowTriggers = sqliteTable(
  'flow_triggers',
  {
    targetFlowId: text('target_flow_id').notNull(),
    idx: integer('idx').notNull(),
    sourceFlowId: text('source_flow_id').notNull(),
    /** 'succeeded' | 'failed' | 'finished' for run triggers, 'asset' for an asset trigger. */
    on: text('on').notNull(),
    /** For asset triggers: the upstream task and output name. */
    task: text('task'),
    asset: text('asset'),
    /** Target asset input ← upstream "task/output". */
    inputs: text('inputs', { mode: 'json' }).$type<Record<string, string>>().notNull(),
  },
  (t) => [primaryKey({ columns: [t.targetFlowId, t.idx] }), index('flow_triggers_source').on(t.sourceFlowId)],
);

/** How far a consumer of the event log has read (flow-to-flow reactions). */
export const cursors = sqliteTable('cursors', {
  name: text('name').primaryKey(),
  eventId: integer('event_id').notNull(),
});

export const taskRunStates = ['pending', 'running', 'succeeded', 'failed', 'skipped', 'cancelled'] as const;
export type TaskRunState = (typeof taskRunStates)[number];

export const taskRuns = sqliteTable(
  'task_runs',
  {
    id: text('id').primaryKey(),
    runId: text('run_id').notNull().references(() => runs.id),
    taskId: text('task_id').notNull(),
    state: text('state', { enum: taskRunStates }).notNull(),
    /** How many instances were planned, and which policy decided it. */
    instanceCount: integer('instance_count'),
    policy: text('policy'),
    /** Asset ids this task reads, in order: its flow inputs, then every output of each task it needs. */
    inputs: text('inputs', { mode: 'json' }).$type<string[]>(),
    succeededCount: integer('succeeded_count').notNull().default(0),
    /** The flow's `concurrency`: most instances of this task run running at once (null: no cap). */
    concurrency: integer('concurrency'),
    error: text('error'),
    startedAt: integer('started_at'),
    finishedAt: integer('finished_at'),
    /**
     * A nonce written by the compare-and-set that last moved this row. D1 has no transactions: the
     * statements that follow a move in the same batch test for the nonce to know whether it won.
     */
    stepToken: text('step_token'),
  },
  (t) => [
    uniqueIndex('task_runs_run_task').on(t.runId, t.taskId),
    // Every claim looks for running task runs with a cap: without it, a scan of all task runs ever.
    index('task_runs_capped').on(t.state).where(sql`${t.concurrency} IS NOT NULL`),
  ],
);

export const instanceStates = ['pending', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type InstanceState = (typeof instanceStates)[number];

export const instances = sqliteTable(
  'instances',
  {
    id: text('id').primaryKey(),
    taskRunId: text('task_run_id').notNull().references(() => taskRuns.id),
    runId: text('run_id').notNull(),
    idx: integer('idx').notNull(),
    state: text('state', { enum: instanceStates }).notNull(),
    /** Attempts started so far. */
    attempt: integer('attempt').notNull().default(0),
    /** A pending instance is not claimed before this time (retry backoff). */
    availableAt: integer('available_at').notNull().default(0),
    leaseOwner: text('lease_owner'),
    leaseExpiresAt: integer('lease_expires_at'),
    /**
     * sha256 (hex) of the secret a remote worker's lease carries: its reports count only with that
     * secret (src/runtime/remote/lease-secret.ts). Null for a server's own workers, which report
     * in-process; left behind when a lease ends, as it then matches no running attempt.
     */
    leaseSecret: text('lease_secret'),
    partition: text('partition', { mode: 'json' }).notNull(),
    progress: real('progress').notNull().default(0),
    errorKind: text('error_kind'),
    error: text('error'),
    startedAt: integer('started_at'),
    finishedAt: integer('finished_at'),
    /**
     * A nonce written by the compare-and-set that last moved this row. D1 has no transactions: the
     * statements that follow a move in the same batch test for the nonce to know whether it won.
     */
    stepToken: text('step_token'),
  },
  (t) => [
    uniqueIndex('instances_task_idx').on(t.taskRunId, t.idx),
    // Claims take the oldest runnable instances: with id in the index, no sort of all pending rows.
    index('instances_claim').on(t.state, t.availableAt, t.id),
    index('instances_run').on(t.runId),
    index('instances_task_state').on(t.taskRunId, t.state),
  ],
);

/** One row per attempt of an instance: its outcome, timing and log. */
export const attempts = sqliteTable(
  'attempts',
  {
    instanceId: text('instance_id').notNull().references(() => instances.id),
    attempt: integer('attempt').notNull(),
    worker: text('worker').notNull(),
    outcome: text('outcome', { enum: ['succeeded', 'failed', 'lost', 'cancelled'] }).notNull(),
    errorKind: text('error_kind'),
    error: text('error'),
    log: text('log').notNull().default(''),
    startedAt: integer('started_at').notNull(),
    finishedAt: integer('finished_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.instanceId, t.attempt] })],
);

/** Bytes produced by an instance or given as a run input, with their lineage. */
export const assets = sqliteTable(
  'assets',
  {
    id: text('id').primaryKey(),
    runId: text('run_id').notNull(),
    /** Null for a run input. */
    taskId: text('task_id'),
    instanceIdx: integer('instance_idx'),
    name: text('name').notNull(),
    size: integer('size').notNull(),
    sha256: text('sha256').notNull(),
    mediaType: text('media_type').notNull(),
    /** Key in the asset store: where the bytes are, or for an inline asset, where they go when a file is wanted. */
    location: text('location').notNull(),
    /**
     * The bytes of a small output, kept in the row: they become durable with the commit that
     * records them, with no file to create and fsync first. Null: the bytes are at `location`.
     */
    content: blob('content', { mode: 'buffer' }),
    createdAt: integer('created_at').notNull().default(now),
  },
  (t) => [uniqueIndex('assets_lineage').on(t.runId, t.taskId, t.instanceIdx, t.name)],
);

export const events = sqliteTable(
  'events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    runId: text('run_id').notNull(),
    taskId: text('task_id'),
    type: text('type').notNull(),
    data: text('data', { mode: 'json' }).$type<Record<string, unknown>>(),
    createdAt: integer('created_at').notNull().default(now),
  },
  (t) => [index('events_run').on(t.runId, t.id)],
);

/**
 * Values tasks may receive as environment variables when a flow names them. Kept out of flow
 * documents, logs and events; whoever can read the database can read them.
 */
export const secrets = sqliteTable('secrets', {
  name: text('name').primaryKey(),
  value: text('value').notNull(),
  createdAt: integer('created_at').notNull().default(now),
  updatedAt: integer('updated_at').notNull().default(now),
});
