/** Runs, task runs and their assets: creating runs, planning tasks, finishing runs. */
import { and, asc, desc, eq, getTableColumns, inArray, isNull, notExists, sql } from 'drizzle-orm';
import type { Partition } from '../runtime/protocol.js';
import type { Db } from './db.js';
import { eventRows, guardedEvents, newToken, run as runStep, type Statement, type Step } from './batch.js';
import type { EventRow, NewEvent } from './events.js';
import { prepared } from './prepared.js';
import { q, readRows, write, writeReturning, type Fragment } from './statement.js';
import { assets, instances, runs, taskRuns, type RunState } from './schema.js';

export interface NewAsset {
  id: string;
  /** For run inputs given as several assets (an upstream fan-out): their order. */
  order?: number;
  name: string;
  location: string;
  size: number;
  sha256: string;
  mediaType: string;
  /** The bytes of an inline asset (see assets.content); absent: they are at `location`. */
  content?: Uint8Array;
}

export type RunRow = typeof runs.$inferSelect;
export type TaskRunRow = typeof taskRuns.$inferSelect;
const { content: _bytes, ...assetColumns } = getTableColumns(assets);
/** An asset's row without its bytes: `inline` says whether the row holds them. */
export const assetFields = { ...assetColumns, inline: sql<boolean>`${assets.content} IS NOT NULL`.mapWith(Boolean) };
export type AssetRow = Omit<typeof assets.$inferSelect, 'content'> & { inline: boolean };
/** An asset with the bytes of an inline one in hand (read from its row, or just produced). */
export type LoadedAsset = AssetRow & { content?: Uint8Array };
type InstanceRow = typeof instances.$inferSelect;

export interface NewRun {
  id: string;
  flowId: string;
  revision: number;
  params: Record<string, unknown>;
  trigger: string;
  taskIds: string[];
  inputs: NewAsset[];
  logicalTime?: number | null;
  /** A run with a key already taken by this flow is not created (see runs.dedupeKey). */
  dedupeKey?: string | null;
  backfillId?: string | null;
  /** The flow's run limit: with the `skip` policy, a run triggered at the limit is recorded as skipped. */
  skipAbove?: number;
}

/**
 * Record a new run (queued, or skipped at its flow's limit), as a step that callers may batch with
 * more. With `guard`, nothing is written unless it holds (a schedule's move, say). Deciding
 * "skipped" is part of the insert, not a read before it. Its result: the run's events, none when a
 * run with its dedupe key (or id) exists already.
 *
 * With `startedAt`, the run is recorded running (and both its run-created and run-started events
 * written): for a run nothing can hold back (no run limit, no backfill), which would otherwise be
 * started by the next statement anyway.
 */
export function createRunStep(run: NewRun, guard?: Fragment, startedAt?: number): Step<EventRow[]> {
  const now = Date.now();
  if (startedAt !== undefined && (run.skipAbove !== undefined || run.backfillId)) throw new Error(`run ${run.id} may be held back: it cannot be recorded started`);
  const active = q`(SELECT count(*) FROM runs WHERE flow_id = ${run.flowId} AND state IN ('queued', 'running'))`;
  const skip = run.skipAbove === undefined ? q`0` : q`${active} >= ${run.skipAbove}`;
  const error =
    run.skipAbove === undefined
      ? q`NULL`
      : q`${`flow ${run.flowId} already has `} || ${active} || ${` active run(s) (concurrency max ${run.skipAbove}, policy skip)`}`;
  const exists = q`EXISTS (SELECT 1 FROM runs WHERE id = ${run.id})`;
  const data = { flowId: run.flowId, revision: run.revision, trigger: run.trigger, ...(run.logicalTime != null ? { logicalTime: run.logicalTime } : {}) };
  const inputs = run.inputs.map(({ order, content: _content, ...a }) => ({ ...a, idx: order ?? null }));
  const items: Statement[] = [
    // A taken dedupe key (or id) makes this a no-op, and then every statement below writes nothing.
    write(q`INSERT INTO runs (id, flow_id, revision, state, error, params, trigger, created_at, started_at, finished_at, logical_time, dedupe_key, backfill_id)
      SELECT ${run.id}, ${run.flowId}, ${run.revision}, CASE WHEN ${skip} THEN 'skipped' ELSE ${startedAt === undefined ? 'queued' : 'running'} END, CASE WHEN ${skip} THEN ${error} END,
        ${JSON.stringify(run.params)}, ${run.trigger}, ${now}, ${startedAt ?? null}, CASE WHEN ${skip} THEN ${now} END, ${run.logicalTime ?? null}, ${run.dedupeKey ?? null}, ${run.backfillId ?? null}
      WHERE ${guard ?? q`1`}
      ON CONFLICT DO NOTHING`),
    write(q`INSERT INTO task_runs (id, run_id, task_id, state)
      SELECT r.id || '.' || j.value, r.id, j.value, CASE r.state WHEN 'skipped' THEN 'skipped' ELSE 'pending' END
      FROM json_each(${JSON.stringify(run.taskIds)}) j JOIN runs r ON r.id = ${run.id}`),
  ];
  if (inputs.length) {
    items.push(
      write(q`INSERT INTO assets (id, run_id, task_id, instance_idx, name, location, size, sha256, media_type, created_at)
        SELECT json_extract(j.value, '$.id'), ${run.id}, NULL, json_extract(j.value, '$.idx'), json_extract(j.value, '$.name'), json_extract(j.value, '$.location'),
          json_extract(j.value, '$.size'), json_extract(j.value, '$.sha256'), json_extract(j.value, '$.mediaType'), ${now}
        FROM json_each(${JSON.stringify(inputs)}) j WHERE ${exists}`),
      ...contentWrites(run.inputs),
    );
  }
  const firstEvent = items.length;
  const created = guardedEvents([{ runId: run.id, type: 'run-created', data }, ...(startedAt === undefined ? [] : [{ runId: run.id, type: 'run-started' }])], exists);
  items.push(created.statement);
  if (run.skipAbove !== undefined) {
    items.push(
      writeReturning(q`INSERT INTO events (run_id, task_id, type, data, created_at)
        SELECT id, NULL, 'run-skipped', json_object('error', error), ${now} FROM runs WHERE id = ${run.id} AND state = 'skipped'
        RETURNING id, run_id, task_id, type, data, created_at`),
    );
  }
  return { items, read: (r) => [...created.rows(r[firstEvent]), ...eventRows(r[firstEvent + 1])] };
}

/**
 * The bytes of inline assets, each into the row just inserted with its id: one statement per asset
 * (a blob parameter), and a row that was not written (a lost step) is not there to update.
 */
export function contentWrites(list: NewAsset[]): Statement[] {
  return list.filter((a) => a.content).map((a) => write(q`UPDATE assets SET content = ${a.content!} WHERE id = ${a.id}`));
}

/** Record a new run (queued, or skipped at its flow's limit). Returns its events; none when its dedupe key was taken. */
export async function createRun(db: Db, run: NewRun): Promise<EventRow[]> {
  return runStep(db, createRunStep(run));
}

/** Events guarded by "the run carries this token" / "the task run carries this token". */
const runHas = (runId: string, token: string) => q`EXISTS (SELECT 1 FROM runs WHERE id = ${runId} AND step_token = ${token})`;
const taskRunHas = (taskRunId: string, token: string) => q`EXISTS (SELECT 1 FROM task_runs WHERE id = ${taskRunId} AND step_token = ${token})`;

export async function activeRunIds(db: Db): Promise<string[]> {
  const rows = await db.select({ id: runs.id }).from(runs).where(inArray(runs.state, ['queued', 'running'])).orderBy(asc(runs.id));
  return rows.map((r) => r.id);
}

/**
 * Active runs with no instance pending or running: nothing will move them but a scheduler looking
 * at them. With several servers on one database, a server that died between committing a task's
 * end and planning the next leaves its runs here; another server picks them up.
 */
export async function stalledRunIds(db: Db, limit: number): Promise<string[]> {
  const busy = db
    .select({ one: sql`1` })
    .from(instances)
    .where(and(eq(instances.runId, runs.id), inArray(instances.state, ['pending', 'running'])));
  const rows = await db
    .select({ id: runs.id })
    .from(runs)
    .where(and(inArray(runs.state, ['queued', 'running']), notExists(busy)))
    // Running runs first: a queued one usually waits for its flow's run limit, not for a scheduler.
    .orderBy(desc(sql`${runs.state} = 'running'`), asc(runs.id))
    .limit(limit);
  return rows.map((r) => r.id);
}

export async function getRun(db: Db, runId: string): Promise<RunRow | undefined> {
  return prepared(db, 'getRun', () => db.select().from(runs).where(eq(runs.id, sql.placeholder('id'))).prepare()).get({ id: runId });
}

export async function getTaskRuns(db: Db, runId: string): Promise<TaskRunRow[]> {
  return db.select().from(taskRuns).where(eq(taskRuns.runId, runId));
}

/**
 * Just what deciding the next step of a run needs: cheap to read on every step of a long run. One
 * row, not a row per task run (the driver's cost per row was most of the read's), and as plain
 * text, not JSON (parsing it was the rest): task ids and states are words, errors come apart.
 * A task run's id is always `<run id>.<task id>` (createRunStep).
 */
export async function taskRunStates(db: Db, runId: string): Promise<Pick<TaskRunRow, 'id' | 'taskId' | 'state' | 'error'>[]> {
  return (await readStates(db, runId, q``)).states;
}

/**
 * taskRunStates with the id of the run's newest event, read in one statement, so at one point:
 * events after it are exactly what changed since.
 */
export async function taskRunStatesAt(db: Db, runId: string): Promise<{ states: Pick<TaskRunRow, 'id' | 'taskId' | 'state' | 'error'>[]; lastEventId: number }> {
  return readStates(db, runId, q`, (SELECT coalesce(max(id), 0) FROM events WHERE run_id = ${runId}) AS last`);
}

async function readStates(db: Db, runId: string, more: Fragment) {
  const [row] = await readRows<{ states: string | null; errors: string | null; last?: number }>(
    db,
    q`SELECT group_concat(task_id || ' ' || state, ',') AS states, json_group_object(task_id, error) FILTER (WHERE error IS NOT NULL) AS errors${more}
      FROM task_runs WHERE run_id = ${runId}`,
  );
  const lastEventId = Number(row?.last ?? 0);
  if (!row?.states) return { states: [], lastEventId };
  const errors = (row.errors && row.errors !== '{}' ? JSON.parse(row.errors) : {}) as Record<string, string>;
  const states = row.states.split(',').map((entry) => {
    const at = entry.indexOf(' ');
    const taskId = entry.slice(0, at);
    return { id: `${runId}.${taskId}`, taskId, state: entry.slice(at + 1) as TaskRunRow['state'], error: errors[taskId] ?? null };
  });
  return { states, lastEventId };
}

/** What a run's events after `afterId` say happened, oldest first: just enough to follow its task runs. */
export async function runEventsAfter(db: Db, runId: string, afterId: number): Promise<{ id: number; taskId: string | null; type: string }[]> {
  const rows = await readRows<{ id: number; task_id: string | null; type: string }>(
    db,
    q`SELECT id, task_id, type FROM events WHERE run_id = ${runId} AND id > ${afterId} ORDER BY id`,
  );
  return rows.map((r) => ({ id: Number(r.id), taskId: r.task_id, type: r.type }));
}

export async function getTaskRun(db: Db, taskRunId: string): Promise<TaskRunRow | undefined> {
  return db.query.taskRuns.findFirst({ where: eq(taskRuns.id, taskRunId) });
}

/**
 * queued → running, in one statement so that limits hold with several servers: at most `flowMax`
 * running runs of the flow (oldest queued first), and at most its backfill's concurrency.
 */
export async function startRun(db: Db, runId: string, gate: { flowMax?: number } = {}): Promise<EventRow[]> {
  return runStep(db, startRunStep(runId, gate));
}

export function startRunStep(runId: string, gate: { flowMax?: number } = {}): Step<EventRow[]> {
  // Correlated subqueries over a second copy of runs ("r").
  const flowGate =
    gate.flowMax === undefined
      ? q``
      : q` AND (SELECT count(*) FROM runs r WHERE r.flow_id = runs.flow_id AND r.state = 'running') < ${gate.flowMax}
        AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.flow_id = runs.flow_id AND r.state = 'queued' AND (r.created_at, r.id) < (runs.created_at, runs.id))`;
  const token = newToken();
  const ev = guardedEvents([{ runId, type: 'run-started' }], runHas(runId, token));
  return {
    items: [
      write(q`UPDATE runs SET state = 'running', started_at = ${Date.now()}, step_token = ${token}
        WHERE id = ${runId} AND state = 'queued'${flowGate}
          AND (runs.backfill_id IS NULL OR (
            (SELECT count(*) FROM runs r WHERE r.backfill_id = runs.backfill_id AND r.state = 'running') < (SELECT concurrency FROM backfills WHERE backfills.id = runs.backfill_id)
            AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.backfill_id = runs.backfill_id AND r.state = 'queued' AND r.logical_time < runs.logical_time)))`),
      ev.statement,
    ],
    read: (r) => ev.rows(r[1]),
  };
}

/** Queued runs that may start once a run of this flow (or of their backfill) ends: the oldest first. */
export async function queuedRunIds(db: Db, flowId: string, limit: number): Promise<string[]> {
  const rows = await db
    .select({ id: runs.id })
    .from(runs)
    .where(and(eq(runs.flowId, flowId), eq(runs.state, 'queued')))
    .orderBy(asc(runs.logicalTime), asc(runs.createdAt), asc(runs.id))
    .limit(limit);
  return rows.map((r) => r.id);
}

/** The longest-running run of a flow (for the cancel-oldest policy). */
export async function oldestRunningRun(db: Db, flowId: string): Promise<string | undefined> {
  const [row] = await db.select({ id: runs.id }).from(runs).where(and(eq(runs.flowId, flowId), eq(runs.state, 'running'))).orderBy(asc(runs.startedAt), asc(runs.id)).limit(1);
  return row?.id;
}

export async function finishRun(db: Db, runId: string, state: Extract<RunState, 'succeeded' | 'failed' | 'cancelled'>, error: string | null): Promise<EventRow[]> {
  return runStep(db, finishRunStep(runId, state, error));
}

/** With `ifAllSucceeded`, the run is finished only if every one of its task runs has succeeded when the step runs. */
export function finishRunStep(
  runId: string, state: Extract<RunState, 'succeeded' | 'failed' | 'cancelled'>, error: string | null, ifAllSucceeded = false,
): Step<EventRow[]> {
  const token = newToken();
  const allSucceeded = ifAllSucceeded ? q` AND NOT EXISTS (SELECT 1 FROM task_runs u WHERE u.run_id = ${runId} AND u.state != 'succeeded')` : q``;
  const ev = guardedEvents([{ runId, type: `run-${state}`, data: error ? { error } : undefined }], runHas(runId, token));
  return {
    items: [
      write(q`UPDATE runs SET state = ${state}, error = ${error}, finished_at = ${Date.now()}, step_token = ${token}
        WHERE id = ${runId} AND state IN ('queued', 'running')${allSucceeded}`),
      ev.statement,
    ],
    read: (r) => ev.rows(r[1]),
  };
}

/** The flow inputs given to a run (assets with no producing task). */
export async function runInputAssets(db: Db, runId: string): Promise<AssetRow[]> {
  return db.select(assetFields).from(assets).where(and(eq(assets.runId, runId), isNull(assets.taskId))).orderBy(asc(assets.name), asc(assets.instanceIdx));
}

/** Every output of the given tasks in a run, ordered by task (as listed), instance, then name. */
export async function taskOutputAssets(db: Db, runId: string, taskIds: string[]): Promise<AssetRow[]> {
  if (!taskIds.length) return [];
  // The task ids as one JSON parameter: a fan-in may need more tasks than a statement binds parameters.
  const only = taskIds.length === 1 ? eq(assets.taskId, taskIds[0]!) : sql`${assets.taskId} IN (SELECT value FROM json_each(${JSON.stringify(taskIds)}))`;
  const rows = await db.select(assetFields).from(assets).where(and(eq(assets.runId, runId), only)).orderBy(asc(assets.instanceIdx), asc(assets.name));
  const byTask = new Map<string, AssetRow[]>();
  for (const r of rows) {
    const list = byTask.get(r.taskId!);
    if (list) list.push(r);
    else byTask.set(r.taskId!, [r]);
  }
  return taskIds.flatMap((t) => byTask.get(t) ?? []);
}

export async function assetsByIds(db: Db, ids: string[]): Promise<AssetRow[]> {
  const out: AssetRow[] = [];
  for (let i = 0; i < ids.length; i += 500) {
    // One JSON parameter, not 500: D1 binds at most 100.
    out.push(...(await db.select(assetFields).from(assets).where(sql`${assets.id} IN (SELECT value FROM json_each(${JSON.stringify(ids.slice(i, i + 500))}))`)));
  }
  const byId = new Map(out.map((a) => [a.id, a]));
  return ids.map((id) => byId.get(id)!).filter(Boolean);
}

export async function runAssets(db: Db, runId: string): Promise<AssetRow[]> {
  return db.select(assetFields).from(assets).where(eq(assets.runId, runId)).orderBy(asc(assets.taskId), asc(assets.instanceIdx), asc(assets.name));
}

/** `rows` with the bytes of the inline ones read from the store (files are left where they are). */
export async function withContent(db: Db, rows: AssetRow[]): Promise<LoadedAsset[]> {
  const ids = rows.filter((a) => a.inline && !(a as LoadedAsset).content).map((a) => a.id);
  const bytes = new Map<string, Uint8Array>();
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = JSON.stringify(ids.slice(i, i + 500));
    const found = await db.select({ id: assets.id, content: assets.content }).from(assets).where(sql`${assets.id} IN (SELECT value FROM json_each(${chunk}))`);
    for (const r of found) if (r.content) bytes.set(r.id, new Uint8Array(r.content.buffer, r.content.byteOffset, r.content.byteLength));
  }
  return rows.map((a) => {
    const content = bytes.get(a.id);
    return content ? { ...a, content } : a;
  });
}

/** What planning a task run writes. With `claim`, its first `claim.count` instances are leased to `claim.owner` at once. */
export interface PlanWrite {
  runId: string;
  taskRunId: string;
  taskId: string;
  inputs: string[];
  policy: string;
  partitions: Partition[];
  concurrency?: number;
  /** The tasks it needs: it is planned only if they have all succeeded when the step runs. */
  needs?: string[];
  claim?: { owner: string; leaseMs: number; count: number };
}

/**
 * Move a pending task run to running with its instances. Idempotent: a second call (after a crash,
 * or from another server) finds the task run no longer pending and inserts nothing.
 */
export async function planTaskRun(db: Db, p: PlanWrite): Promise<EventRow[]> {
  return runStep(db, planStep(p));
}

/** Planning as a step; it writes nothing unless the run is running and the task run still pending. */
export function planStep(p: PlanWrite): Step<EventRow[]> {
  const now = Date.now();
  const empty = p.partitions.length === 0;
  const token = newToken();
  const mine = taskRunHas(p.taskRunId, token);
  // One need or one input (a chain) is looked up by primary key, without a JSON list to parse.
  const needs = !p.needs?.length
    ? q``
    : p.needs.length === 1
      ? q` AND EXISTS (SELECT 1 FROM task_runs u WHERE u.id = ${`${p.runId}.${p.needs[0]}`} AND u.state = 'succeeded')`
      : q` AND NOT EXISTS (SELECT 1 FROM task_runs u WHERE u.run_id = ${p.runId} AND u.task_id IN (SELECT value FROM json_each(${JSON.stringify(p.needs)})) AND u.state != 'succeeded')`;
  // A scheduler may plan from outputs it was told of before their commit ran: the plan holds only
  // if every one of them is in the store when it does (a result that lost its lease wrote none).
  const distinct = [...new Set(p.inputs)];
  const inputsExist = !distinct.length
    ? q``
    : distinct.length === 1
      ? q` AND EXISTS (SELECT 1 FROM assets WHERE id = ${distinct[0]})`
      : q` AND (SELECT count(*) FROM assets WHERE id IN (SELECT value FROM json_each(${JSON.stringify(distinct)}))) = ${distinct.length}`;
  const items: Statement[] = [
    write(q`UPDATE task_runs SET state = ${empty ? 'succeeded' : 'running'}, inputs = ${JSON.stringify(p.inputs)}, instance_count = ${p.partitions.length},
        policy = ${p.policy}, concurrency = ${p.concurrency ?? null}, started_at = ${now}, finished_at = ${empty ? now : null}, step_token = ${token}
      WHERE id = ${p.taskRunId} AND state = 'pending' AND EXISTS (SELECT 1 FROM runs WHERE id = ${p.runId} AND state = 'running')${needs}${inputsExist}`),
  ];
  const claimed = Math.min(p.claim?.count ?? 0, p.partitions.length);
  const c = p.claim ?? { owner: null, leaseMs: 0 };
  if (p.partitions.length === 1) {
    // The common case (a task of one instance) with plain parameters: no JSON to parse, about half the cost.
    const [part] = p.partitions as [Partition];
    const leased = claimed === 1;
    items.push(
      write(q`INSERT INTO instances (id, task_run_id, run_id, idx, state, attempt, lease_owner, lease_expires_at, started_at, partition, available_at)
        SELECT ${`${p.taskRunId}.${part.index}`}, ${p.taskRunId}, ${p.runId}, ${part.index}, ${leased ? 'running' : 'pending'}, ${leased ? 1 : 0},
          ${leased ? c.owner : null}, ${leased ? now + c.leaseMs : null}, ${leased ? now : null}, ${JSON.stringify(part)}, ${now}
        WHERE ${mine}
        ON CONFLICT DO NOTHING`),
    );
  } else {
    // The partitions travel as one JSON parameter per chunk: D1 binds at most 100 parameters. The
    // first `claimed` of them (by position) are leased at once, with their first attempt started.
    for (let i = 0; i < p.partitions.length; i += PLAN_CHUNK) {
      const leased = q`(j.key + ${i} < ${claimed})`;
      items.push(
        write(q`INSERT INTO instances (id, task_run_id, run_id, idx, state, attempt, lease_owner, lease_expires_at, started_at, partition, available_at)
          SELECT ${p.taskRunId} || '.' || json_extract(j.value, '$.index'), ${p.taskRunId}, ${p.runId}, json_extract(j.value, '$.index'),
            CASE WHEN ${leased} THEN 'running' ELSE 'pending' END, CASE WHEN ${leased} THEN 1 ELSE 0 END,
            CASE WHEN ${leased} THEN ${c.owner} END, CASE WHEN ${leased} THEN ${now + c.leaseMs} END, CASE WHEN ${leased} THEN ${now} END, j.value, ${now}
          FROM json_each(${JSON.stringify(p.partitions.slice(i, i + PLAN_CHUNK))}) j WHERE ${mine}
          ON CONFLICT DO NOTHING`),
      );
    }
  }
  const events: NewEvent[] = [{ runId: p.runId, taskId: p.taskId, type: 'task-planned', data: { instances: p.partitions.length, policy: p.policy } }];
  if (empty) events.push({ runId: p.runId, taskId: p.taskId, type: 'task-succeeded' });
  const ev = guardedEvents(events, mine);
  items.push(ev.statement);
  return { items, read: (r) => ev.rows(r.at(-1)) };
}

/**
 * The instances a plan with `claim` leased, as the rows it wrote (valid only when the plan's events
 * came back: otherwise it wrote nothing).
 */
export function claimedByPlan(p: PlanWrite, now: number): InstanceRow[] {
  const c = p.claim;
  if (!c) return [];
  return p.partitions.slice(0, c.count).map((partition) => ({
    id: `${p.taskRunId}.${partition.index}`, taskRunId: p.taskRunId, runId: p.runId, idx: partition.index, state: 'running', attempt: 1, availableAt: now, leaseOwner: c.owner,
    leaseExpiresAt: now + c.leaseMs, leaseSecret: null, partition, progress: 0, errorKind: null, error: null, startedAt: now, finishedAt: null, stepToken: null,
  }));
}

/** Partitions per insert statement when planning (a JSON parameter of a few hundred KiB). */
const PLAN_CHUNK = 2000;

export async function skipTaskRun(db: Db, runId: string, taskRunId: string, taskId: string, reason: string): Promise<EventRow[]> {
  return runStep(db, skipStep(runId, taskRunId, taskId, reason));
}

export function skipStep(runId: string, taskRunId: string, taskId: string, reason: string): Step<EventRow[]> {
  const token = newToken();
  const ev = guardedEvents([{ runId, taskId, type: 'task-skipped', data: { reason } }], taskRunHas(taskRunId, token));
  return {
    items: [
      write(q`UPDATE task_runs SET state = 'skipped', error = ${reason}, finished_at = ${Date.now()}, step_token = ${token} WHERE id = ${taskRunId} AND state = 'pending'`),
      ev.statement,
    ],
    read: (r) => ev.rows(r[1]),
  };
}

/** A task run that could not be planned (its component's plan failed): failed, with no instances. */
export async function failTaskRunPlanning(db: Db, runId: string, taskRunId: string, taskId: string, error: string): Promise<EventRow[]> {
  return runStep(db, failPlanningStep(runId, taskRunId, taskId, error));
}

export function failPlanningStep(runId: string, taskRunId: string, taskId: string, error: string): Step<EventRow[]> {
  const now = Date.now();
  const token = newToken();
  const ev = guardedEvents([{ runId, taskId, type: 'task-failed', data: { error } }], taskRunHas(taskRunId, token));
  return {
    items: [
      write(q`UPDATE task_runs SET state = 'failed', error = ${error}, started_at = ${now}, finished_at = ${now}, instance_count = 0, policy = 'plan export', step_token = ${token}
        WHERE id = ${taskRunId} AND state = 'pending'`),
      ev.statement,
    ],
    read: (r) => ev.rows(r[1]),
  };
}
