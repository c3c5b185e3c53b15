/** Instances: atomic claims with leases, and committing each attempt's outcome exactly once. */
import { and, asc, count, eq, gt, inArray, isNotNull, lte, notInArray, sql, type SQLWrapper } from 'drizzle-orm';
import type { Failure } from '../runtime/failures.js';
import { leaseSecretMatches } from '../runtime/remote/lease-secret.js';
import type { Db } from './db.js';
import { atomically, eventRows, guardedEvents, newToken, returned, run, written, type Statement, type Step } from './batch.js';
import type { EventRow } from './events.js';
import type { NewAsset } from './runs.js';
import { joined, q, write, writeReturning, type Fragment } from './statement.js';
import { attempts, instances, taskRuns } from './schema.js';

export type InstanceRow = typeof instances.$inferSelect;

/**
 * Lease up to `n` runnable instances to `owner`, each claim one statement so two claimers never get
 * the same instance. Each claim starts a new attempt; `secretHash` is stored with a remote worker's
 * leases (see src/runtime/remote/lease-secret.ts). Task runs with a `concurrency` cap get at most
 * their cap minus what is already running (counted here: exact with one scheduler per database,
 * may overshoot briefly when several servers claim at once).
 */
export async function claimInstances(db: Db, owner: string, n: number, leaseMs: number, secretHash: string | null = null): Promise<InstanceRow[]> {
  if (n <= 0) return [];
  const now = Date.now();
  const capped = await cappedTaskRuns(db);
  // A remote lease's secret is written by the statement that takes the lease: there is no moment
  // when the attempt is leased without it (and none when an earlier lease's secret would do).
  const lease = (ids: SQLWrapper) =>
    db
      .update(instances)
      .set({ state: 'running', attempt: sql`${instances.attempt} + 1`, leaseOwner: owner, leaseExpiresAt: now + leaseMs, leaseSecret: secretHash, startedAt: now, progress: 0 })
      .where(and(inArray(instances.id, ids), eq(instances.state, 'pending')))
      .returning();
  const claimed: InstanceRow[] = [];
  for (const t of capped) {
    if (claimed.length >= n) break;
    const [row] = await db
      .select({ running: count() })
      .from(instances)
      .where(and(eq(instances.taskRunId, t.id), eq(instances.state, 'running')));
    const room = Math.min(n - claimed.length, t.concurrency! - (row?.running ?? 0));
    if (room <= 0) continue;
    const ids = db
      .select({ id: instances.id })
      .from(instances)
      .where(and(eq(instances.taskRunId, t.id), eq(instances.state, 'pending'), lte(instances.availableAt, now)))
      .orderBy(asc(instances.idx))
      .limit(room);
    claimed.push(...(await lease(ids)));
  }
  const rest = n - claimed.length;
  if (rest > 0) {
    const free = db
      .select({ id: instances.id })
      .from(instances)
      .where(
        and(
          eq(instances.state, 'pending'),
          lte(instances.availableAt, now),
          capped.length ? notInArray(instances.taskRunId, capped.map((t) => t.id)) : undefined,
        ),
      )
      .orderBy(asc(instances.availableAt), asc(instances.id))
      .limit(rest);
    claimed.push(...(await lease(free)));
  }
  return claimed;
}

/** Running task runs with a concurrency cap: read by every claim, through the partial index task_runs_capped. */
export function cappedTaskRuns(db: Db) {
  return db
    .select({ id: taskRuns.id, concurrency: taskRuns.concurrency })
    .from(taskRuns)
    .where(and(eq(taskRuns.state, 'running'), isNotNull(taskRuns.concurrency)));
}

/**
 * Lease one instance to `owner` if it is pending, due, and its task run has room under its
 * concurrency cap: one statement, so it is exact whoever else claims (a queue consumer on Workers
 * claims the instance its message names).
 */
export async function claimInstance(db: Db, id: string, owner: string, leaseMs: number): Promise<InstanceRow | undefined> {
  const now = Date.now();
  const cap = sql`(SELECT ${taskRuns.concurrency} FROM ${taskRuns} WHERE ${taskRuns.id} = ${instances.taskRunId})`;
  const [row] = await db
    .update(instances)
    .set({ state: 'running', attempt: sql`${instances.attempt} + 1`, leaseOwner: owner, leaseExpiresAt: now + leaseMs, startedAt: now, progress: 0 })
    .where(
      and(
        eq(instances.id, id),
        eq(instances.state, 'pending'),
        lte(instances.availableAt, now),
        sql`(${cap} IS NULL OR (SELECT count(*) FROM instances o WHERE o.task_run_id = ${instances.taskRunId} AND o.state = 'running') < ${cap})`,
      ),
    )
    .returning();
  return row;
}

/** Pending instances that were due before `dueBefore`, oldest first (on Workers: ones whose queue message was lost). */
export async function overdueInstances(db: Db, dueBefore: number, limit: number): Promise<string[]> {
  const rows = await db
    .select({ id: instances.id })
    .from(instances)
    .where(and(eq(instances.state, 'pending'), lte(instances.availableAt, dueBefore)))
    .orderBy(asc(instances.availableAt), asc(instances.id))
    .limit(limit);
  return rows.map((r) => r.id);
}

export interface AttemptRecord {
  instance: InstanceRow;
  taskId: string;
  worker: string;
  log: string;
  startedAt: number;
}

/** The guard every outcome must pass: the instance is still ours, at this attempt. */
function stillLeased(a: AttemptRecord): Fragment {
  return q`id = ${a.instance.id} AND state = 'running' AND attempt = ${a.instance.attempt} AND lease_owner = ${a.worker}`;
}

export interface Success {
  record: AttemptRecord;
  outputs: NewAsset[];
}

/**
 * Commit successful attempts, many at once: instances, attempt records, output assets, task run
 * counts and events in one batch (one fsync for the whole group). Only attempts that still hold
 * their lease count: the instances they move carry this commit's token, and every other statement
 * counts only those. Returns the events written and the successes that counted.
 */
export async function completeInstances(db: Db, batch: Success[]): Promise<{ events: EventRow[]; won: Success[] }> {
  if (!batch.length) return { events: [], won: [] };
  return run(db, completeStep(batch));
}

/** completeInstances as a step, for a batch that also plans what the completed task runs unblock. */
export function completeStep(batch: Success[]): Step<{ events: EventRow[]; won: Success[] }> {
  if (batch.length === 1) return completeOne(batch[0]!);
  const now = Date.now();
  const token = newToken();
  const won = q`i.step_token = ${token}`;
  const items: Statement[] = [];
  const keyLists: string[] = [];
  for (let i = 0; i < batch.length; i += 200) {
    const chunk = batch.slice(i, i + 200);
    const keys = JSON.stringify(chunk.map(({ record: a }) => ({ i: a.instance.id, a: a.instance.attempt, w: a.worker, s: a.startedAt, t: a.instance.taskRunId })));
    keyLists.push(keys);
    // Every statement here starts from the list and looks instances up by primary key (`+state`
    // keeps SQLite off the state index, CROSS JOIN keeps the join order): the cost follows the size
    // of the group, never the number of instances around it. The keys are read straight from
    // json_each: through a subquery, SQLite evaluated it once per instance (quadratic in the group).
    items.push(
      writeReturning(q`UPDATE instances SET state = 'succeeded', progress = 1, finished_at = ${now}, lease_owner = NULL, lease_expires_at = NULL,
          error_kind = NULL, error = NULL, step_token = ${token}, started_at = json_extract(k.value, '$.s')
        FROM json_each(${keys}) AS k
        WHERE instances.id = json_extract(k.value, '$.i') AND +instances.state = 'running'
          AND instances.attempt = json_extract(k.value, '$.a') AND instances.lease_owner = json_extract(k.value, '$.w')
        RETURNING instances.id AS id`),
    );
  }
  for (let i = 0; i < batch.length; i += 100) {
    const chunk = batch.slice(i, i + 100);
    const logs = JSON.stringify(chunk.map(({ record: a }) => ({ i: a.instance.id, w: a.worker, l: a.log })));
    items.push(
      write(q`INSERT INTO attempts (instance_id, attempt, worker, outcome, log, started_at, finished_at)
        SELECT i.id, i.attempt, json_extract(k.value, '$.w'), 'succeeded', json_extract(k.value, '$.l'), i.started_at, ${now}
        FROM json_each(${logs}) k CROSS JOIN instances i ON i.id = json_extract(k.value, '$.i') WHERE ${won}`),
    );
    // Outputs in files as one list; inline ones (most, and small) each with its bytes as a parameter.
    const files = chunk.flatMap(({ record: a, outputs }) => outputs.filter((o) => !o.content).map((o) => ({ ...o, inst: a.instance.id, task: a.taskId })));
    if (files.length) {
      items.push(
        write(q`INSERT INTO assets (id, run_id, task_id, instance_idx, name, location, size, sha256, media_type, created_at)
          SELECT json_extract(o.value, '$.id'), i.run_id, json_extract(o.value, '$.task'), i.idx, json_extract(o.value, '$.name'), json_extract(o.value, '$.location'),
            json_extract(o.value, '$.size'), json_extract(o.value, '$.sha256'), json_extract(o.value, '$.mediaType'), ${now}
          FROM json_each(${JSON.stringify(files)}) o CROSS JOIN instances i ON i.id = json_extract(o.value, '$.inst') WHERE ${won}
          ON CONFLICT (run_id, task_id, instance_idx, name) DO UPDATE SET size = excluded.size, sha256 = excluded.sha256, location = excluded.location, id = excluded.id, content = NULL`),
      );
    }
    for (const { record: a, outputs } of chunk) {
      const mine = q`EXISTS (SELECT 1 FROM instances WHERE id = ${a.instance.id} AND step_token = ${token})`;
      for (const o of outputs) if (o.content) items.push(outputInsert(a, o, now, mine));
    }
  }
  const taskRunIds = JSON.stringify([...new Set(batch.map((b) => b.record.instance.taskRunId))]);
  const winners = joined(
    keyLists.map((keys) => q`SELECT i.id, i.idx, i.task_run_id FROM json_each(${keys}) k CROSS JOIN instances i ON i.id = json_extract(k.value, '$.i') WHERE ${won}`),
    ' UNION ALL ',
  );
  // One statement counts and, when this group completes a task run, finishes it and marks it with
  // the token, so that only the commit that crossed the total writes its task-succeeded. The
  // winners are counted once, per task run, and joined to their task runs by primary key.
  const completes = q`task_runs.state = 'running' AND task_runs.succeeded_count + w.n >= task_runs.instance_count`;
  items.push(
    write(q`UPDATE task_runs SET succeeded_count = task_runs.succeeded_count + w.n,
        state = CASE WHEN ${completes} THEN 'succeeded' ELSE task_runs.state END,
        finished_at = CASE WHEN ${completes} THEN ${now} ELSE task_runs.finished_at END,
        step_token = CASE WHEN ${completes} THEN ${token} ELSE task_runs.step_token END
      FROM (SELECT task_run_id, count(*) AS n FROM (${winners}) GROUP BY task_run_id) AS w
      WHERE task_runs.id = w.task_run_id`),
  );
  // One event per task run per group, listing the instances: a fan-out of 100,000 writes
  // hundreds of event rows, not 100,000.
  items.push(
    writeReturning(q`INSERT INTO events (run_id, task_id, type, data, created_at)
      SELECT tr.run_id, tr.task_id, 'instances-succeeded', json_object('count', count(*), 'idxs', json_group_array(w.idx)), ${now}
      FROM (${winners}) w CROSS JOIN task_runs tr ON tr.id = w.task_run_id GROUP BY tr.id ORDER BY tr.id
      RETURNING id, run_id, task_id, type, data, created_at`),
    writeReturning(q`INSERT INTO events (run_id, task_id, type, data, created_at)
      SELECT run_id, task_id, 'task-succeeded', NULL, ${now} FROM task_runs WHERE id IN (SELECT value FROM json_each(${taskRunIds})) AND step_token = ${token}
      RETURNING id, run_id, task_id, type, data, created_at`),
  );
  return {
    items,
    read(results) {
      const ids = new Set(results.slice(0, keyLists.length).flatMap((r) => returned<{ id: string }>(r).map((x) => x.id)));
      return { events: [...eventRows(results.at(-2)), ...eventRows(results.at(-1))], won: batch.filter((b) => ids.has(b.record.instance.id)) };
    },
  };
}

/** One output of an attempt, with its bytes if inline, written only if `won` holds. */
function outputInsert(a: AttemptRecord, o: NewAsset, now: number, won: Fragment): Statement {
  return write(q`INSERT INTO assets (id, run_id, task_id, instance_idx, name, location, size, sha256, media_type, created_at, content)
    SELECT ${o.id}, ${a.instance.runId}, ${a.taskId}, ${a.instance.idx}, ${o.name}, ${o.location}, ${o.size}, ${o.sha256}, ${o.mediaType}, ${now}, ${o.content ?? null}
    WHERE ${won}
    ON CONFLICT (run_id, task_id, instance_idx, name) DO UPDATE SET size = excluded.size, sha256 = excluded.sha256, location = excluded.location, id = excluded.id, content = excluded.content`);
}

/** completeStep for one success: the same writes with plain parameters, a third of the cost. */
function completeOne(success: Success): Step<{ events: EventRow[]; won: Success[] }> {
  const { record: a, outputs } = success;
  const now = Date.now();
  const token = newToken();
  const won = q`EXISTS (SELECT 1 FROM instances WHERE id = ${a.instance.id} AND step_token = ${token})`;
  const ended = q`EXISTS (SELECT 1 FROM task_runs WHERE id = ${a.instance.taskRunId} AND step_token = ${token})`;
  const data = { count: 1, idxs: [a.instance.idx] };
  const items: Statement[] = [
    write(q`UPDATE instances SET state = 'succeeded', progress = 1, started_at = ${a.startedAt}, finished_at = ${now}, lease_owner = NULL, lease_expires_at = NULL,
        error_kind = NULL, error = NULL, step_token = ${token}
      WHERE ${stillLeased(a)}`),
    write(q`INSERT INTO attempts (instance_id, attempt, worker, outcome, log, started_at, finished_at)
      SELECT id, attempt, ${a.worker}, 'succeeded', ${a.log}, started_at, ${now} FROM instances WHERE id = ${a.instance.id} AND step_token = ${token}`),
  ];
  // An instance has few outputs (often one): a statement each, with plain parameters and its bytes.
  for (const o of outputs) items.push(outputInsert(a, o, now, won));
  // SET reads the row as it was: the count before this success.
  const completes = q`state = 'running' AND succeeded_count + 1 >= instance_count`;
  items.push(
    write(q`UPDATE task_runs SET succeeded_count = succeeded_count + 1,
        state = CASE WHEN ${completes} THEN 'succeeded' ELSE state END,
        finished_at = CASE WHEN ${completes} THEN ${now} ELSE finished_at END,
        step_token = CASE WHEN ${completes} THEN ${token} ELSE step_token END
      WHERE id = ${a.instance.taskRunId} AND ${won}`),
    // Both events in one statement (the second only when the task run ended), without RETURNING.
    write(q`INSERT INTO events (run_id, task_id, type, data, created_at)
      SELECT ${a.instance.runId}, ${a.taskId}, 'instances-succeeded', ${JSON.stringify(data)}, ${now} WHERE ${won}
      UNION ALL SELECT ${a.instance.runId}, ${a.taskId}, 'task-succeeded', NULL, ${now} WHERE ${ended}`),
  );
  return {
    items,
    read(r) {
      const { count, lastId } = written(r.at(-1));
      const events: EventRow[] = [];
      const base = { runId: a.instance.runId, taskId: a.taskId, createdAt: now };
      if (count >= 1) events.push({ ...base, id: lastId - count + 1, type: 'instances-succeeded', data });
      if (count === 2) events.push({ ...base, id: lastId, type: 'task-succeeded', data: null });
      return { events, won: written(r[0]).count ? [success] : [] };
    },
  };
}

/**
 * Record a failed attempt. With `retryAt`, the instance goes back to pending until then; without,
 * it fails for good, and so does its task run (its other pending instances are cancelled).
 * Null when the attempt had lost its lease: then nothing is written.
 */
export async function failInstance(
  db: Db,
  a: AttemptRecord,
  failure: Failure,
  retryAt: number | null,
): Promise<{ events: EventRow[]; taskFailed: boolean } | null> {
  const now = Date.now();
  const token = newToken();
  const mine = q`EXISTS (SELECT 1 FROM instances WHERE id = ${a.instance.id} AND step_token = ${token})`;
  const items: Statement[] = [
    writeReturning(
      retryAt !== null
        ? q`UPDATE instances SET state = 'pending', available_at = ${retryAt}, lease_owner = NULL, lease_expires_at = NULL,
            error_kind = ${failure.kind}, error = ${failure.message}, step_token = ${token} WHERE ${stillLeased(a)} RETURNING id`
        : q`UPDATE instances SET state = 'failed', started_at = ${a.startedAt}, finished_at = ${now}, lease_owner = NULL, lease_expires_at = NULL,
            error_kind = ${failure.kind}, error = ${failure.message}, step_token = ${token} WHERE ${stillLeased(a)} RETURNING id`,
    ),
    write(q`INSERT INTO attempts (instance_id, attempt, worker, outcome, error_kind, error, log, started_at, finished_at)
      SELECT ${a.instance.id}, ${a.instance.attempt}, ${a.worker}, 'failed', ${failure.kind}, ${failure.message}, ${a.log}, ${a.startedAt}, ${now} WHERE ${mine}`),
  ];
  const base = { runId: a.instance.runId, taskId: a.taskId };
  const attemptEvent = guardedEvents(
    [{ ...base, type: retryAt !== null ? 'instance-retrying' : 'instance-failed', data: { idx: a.instance.idx, attempt: a.instance.attempt, kind: failure.kind, error: failure.message, retryAt } }],
    mine,
  );
  items.push(attemptEvent.statement);
  const message = `instance ${a.instance.idx} failed after ${a.instance.attempt} attempt(s): ${failure.kind}: ${failure.message}`;
  const taskRunMine = q`EXISTS (SELECT 1 FROM task_runs WHERE id = ${a.instance.taskRunId} AND step_token = ${token})`;
  const taskEvent = guardedEvents([{ ...base, type: 'task-failed', data: { error: message } }], taskRunMine);
  if (retryAt === null) {
    items.push(
      writeReturning(q`UPDATE task_runs SET state = 'failed', error = ${message}, finished_at = ${now}, step_token = ${token}
        WHERE id = ${a.instance.taskRunId} AND state = 'running' AND ${mine} RETURNING id`),
      write(q`UPDATE instances SET state = 'cancelled', finished_at = ${now} WHERE task_run_id = ${a.instance.taskRunId} AND state = 'pending' AND ${taskRunMine}`),
      taskEvent.statement,
    );
  }
  const results = await atomically(db, items);
  if (!returned(results[0]).length) return null;
  if (retryAt !== null) return { events: attemptEvent.rows(results[2]), taskFailed: false };
  return { events: [...attemptEvent.rows(results[2]), ...taskEvent.rows(results[5])], taskFailed: returned(results[3]).length > 0 };
}

export async function setProgress(db: Db, instanceId: string, attempt: number, fraction: number): Promise<void> {
  await db.update(instances).set({ progress: fraction }).where(and(eq(instances.id, instanceId), eq(instances.attempt, attempt), eq(instances.state, 'running')));
}

/** An attempt given up on: its instance is pending again, and its output files are garbage. */
export interface ReleasedAttempt {
  id: string;
  runId: string;
  taskId: string;
  idx: number;
  attempt: number;
}

/**
 * Put running instances back to pending, recording their attempt as lost: those whose lease has
 * expired (a dead server or worker), those of one holder (it is shutting down), or every lease
 * but those held by `keepOwnersLike` (remote workers outlive a restart of the only server).
 */
export async function releaseLeases(
  db: Db,
  which: { expired: true } | { owner: string; held?: { id: string; attempt: number }[] } | { allExceptOwnersLike: string },
  reason = 'the worker stopped before reporting',
): Promise<ReleasedAttempt[]> {
  return db.transaction(async (tx) => {
    const now = Date.now();
    const running = eq(instances.state, 'running');
    const cond =
      'expired' in which
        ? and(running, lte(instances.leaseExpiresAt, now))
        : 'owner' in which
          ? and(running, eq(instances.leaseOwner, which.owner), which.held ? inArray(instances.id, which.held.map((h) => h.id)) : undefined)
          : and(running, sql`coalesce(${instances.leaseOwner}, '') NOT LIKE ${which.allExceptOwnersLike}`);
    let lost = await tx
      .select({ id: instances.id, runId: instances.runId, taskId: taskRuns.taskId, idx: instances.idx, attempt: instances.attempt, owner: instances.leaseOwner, startedAt: instances.startedAt })
      .from(instances)
      .innerJoin(taskRuns, eq(taskRuns.id, instances.taskRunId))
      .where(cond);
    // Only the attempts named: a later attempt of the same instance is another lease.
    if ('held' in which && which.held) {
      const named = new Set(which.held.map((h) => `${h.id}:${h.attempt}`));
      lost = lost.filter((l) => named.has(`${l.id}:${l.attempt}`));
    }
    if (!lost.length) return [];
    for (let i = 0; i < lost.length; i += 100) {
      const chunk = lost.slice(i, i + 100);
      await tx
        .insert(attempts)
        .values(chunk.map((l) => ({ instanceId: l.id, attempt: l.attempt, worker: l.owner ?? '?', outcome: 'lost' as const, errorKind: 'lost', error: reason, startedAt: l.startedAt ?? now, finishedAt: now })))
        .onConflictDoNothing();
      // The attempt number stays in the condition: a lease renewed and reported meanwhile is not undone.
      for (const l of chunk) {
        await tx
          .update(instances)
          .set({ state: 'pending', leaseOwner: null, leaseExpiresAt: null, availableAt: now })
          .where(and(eq(instances.id, l.id), eq(instances.attempt, l.attempt), running));
      }
    }
    return lost.map(({ id, runId, taskId, idx, attempt }) => ({ id, runId, taskId, idx, attempt }));
  });
}

/**
 * Extend leases: every running instance of `owner` (a server's heartbeat for its own workers), or
 * the listed attempts (a remote worker's). Returns the attempts still held; any other was lost.
 */
export async function renewLeases(db: Db, owner: string, until: number, held?: { id: string; attempt: number }[]): Promise<{ id: string; attempt: number }[]> {
  if (held && !held.length) return [];
  const rows = await db
    .update(instances)
    .set({ leaseExpiresAt: until })
    .where(and(eq(instances.state, 'running'), eq(instances.leaseOwner, owner), held ? inArray(instances.id, held.map((h) => h.id)) : undefined))
    .returning({ id: instances.id, attempt: instances.attempt });
  if (!held) return rows;
  const now = new Map(rows.map((r) => [r.id, r.attempt]));
  return held.filter((h) => now.get(h.id) === h.attempt);
}

/**
 * The attempts of `held` that `owner` holds with the secret it presents for each (compared in
 * constant time). One read; nothing is written, so a wrong secret changes nothing.
 */
export async function leasesHeld(db: Db, owner: string, held: { id: string; attempt: number; secret?: string }[]): Promise<{ id: string; attempt: number }[]> {
  if (!held.length) return [];
  const rows = await db
    .select({ id: instances.id, attempt: instances.attempt, secret: instances.leaseSecret })
    .from(instances)
    .where(and(inArray(instances.id, [...new Set(held.map((h) => h.id))]), eq(instances.state, 'running'), eq(instances.leaseOwner, owner)));
  const now = new Map(rows.map((r) => [r.id, r]));
  return held
    .filter((h) => {
      const row = now.get(h.id);
      // Compared even when the attempt is not the one held: the answer takes the same time.
      return leaseSecretMatches(row?.secret, h.secret) && row!.attempt === h.attempt;
    })
    .map(({ id, attempt }) => ({ id, attempt }));
}

export async function getInstance(db: Db, instanceId: string): Promise<InstanceRow | undefined> {
  const [row] = await db.select().from(instances).where(eq(instances.id, instanceId));
  return row;
}

/** Attempts of an instance that failed (lost ones, a dead worker's, do not use up its retries). */
export async function failedAttempts(db: Db, instanceId: string): Promise<number> {
  const [row] = await db.select({ n: count() }).from(attempts).where(and(eq(attempts.instanceId, instanceId), eq(attempts.outcome, 'failed')));
  return row?.n ?? 0;
}

/** A task run's instances in partition order, a page at a time (a task may have 100,000). */
export async function taskRunInstances(db: Db, taskRunId: string, page: { afterIdx?: number; limit?: number } = {}): Promise<InstanceRow[]> {
  return db
    .select()
    .from(instances)
    .where(and(eq(instances.taskRunId, taskRunId), gt(instances.idx, page.afterIdx ?? -1)))
    .orderBy(asc(instances.idx))
    .limit(page.limit ?? 1000);
}

export async function instanceAttempts(db: Db, instanceId: string) {
  return db.select().from(attempts).where(eq(attempts.instanceId, instanceId)).orderBy(asc(attempts.attempt));
}

export async function runAttempts(db: Db, runId: string) {
  return db
    .select({ instanceId: attempts.instanceId, attempt: attempts.attempt, outcome: attempts.outcome, errorKind: attempts.errorKind, error: attempts.error, log: attempts.log })
    .from(attempts)
    .innerJoin(instances, eq(instances.id, attempts.instanceId))
    .where(eq(instances.runId, runId))
    .orderBy(asc(attempts.instanceId), asc(attempts.attempt));
}
