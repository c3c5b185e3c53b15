/** Instances: atomic claims with leases, and committing each attempt's outcome exactly once. */
import { TransactionRollbackError, and, asc, count, eq, gt, inArray, isNotNull, lte, notInArray, sql, type SQLWrapper } from 'drizzle-orm';
import type { Failure } from '../runtime/failures.js';
import type { Db } from './db.js';
import { insertEvents, type EventRow, type NewEvent } from './events.js';
import type { NewAsset } from './runs.js';
import { assets, attempts, instances, taskRuns } from './schema.js';

export type InstanceRow = typeof instances.$inferSelect;

/**
 * Lease up to `n` runnable instances to `owner`, each claim one statement so two claimers never get
 * the same instance. Each claim starts a new attempt. Task runs with a `concurrency` cap get at most
 * their cap minus what is already running (counted here: exact with one scheduler per database,
 * may overshoot briefly when several servers claim at once).
 */
export async function claimInstances(db: Db, owner: string, n: number, leaseMs: number): Promise<InstanceRow[]> {
  if (n <= 0) return [];
  const now = Date.now();
  const capped = await db
    .select({ id: taskRuns.id, concurrency: taskRuns.concurrency })
    .from(taskRuns)
    .where(and(eq(taskRuns.state, 'running'), isNotNull(taskRuns.concurrency)));
  const lease = (ids: SQLWrapper) =>
    db
      .update(instances)
      .set({ state: 'running', attempt: sql`${instances.attempt} + 1`, leaseOwner: owner, leaseExpiresAt: now + leaseMs, startedAt: now, progress: 0 })
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

export interface AttemptRecord {
  instance: InstanceRow;
  taskId: string;
  worker: string;
  log: string;
  startedAt: number;
}

/** The guard every outcome must pass: the instance is still ours, at this attempt. */
function stillLeased(a: AttemptRecord) {
  return and(
    eq(instances.id, a.instance.id),
    eq(instances.state, 'running'),
    eq(instances.attempt, a.instance.attempt),
    eq(instances.leaseOwner, a.worker),
  );
}

export interface Success {
  record: AttemptRecord;
  outputs: NewAsset[];
}

/**
 * Commit successful attempts, many at once: instances, attempt records, output assets, task run
 * counts and events in one transaction (one fsync for the whole batch). Only attempts that still
 * hold their lease count. Returns the events written and the successes that counted.
 */
export async function completeInstances(db: Db, batch: Success[]): Promise<{ events: EventRow[]; won: Success[] }> {
  if (!batch.length) return { events: [], won: [] };
  return db.transaction(async (tx) => {
    const now = Date.now();
    const winners: Success[] = [];
    for (let i = 0; i < batch.length; i += 200) {
      const chunk = batch.slice(i, i + 200);
      const keys = sql.join(chunk.map((b) => sql`(${b.record.instance.id}, ${b.record.instance.attempt}, ${b.record.worker})`), sql`, `);
      const startedAt = sql.join([sql`CASE ${instances.id}`, ...chunk.map((b) => sql`WHEN ${b.record.instance.id} THEN ${b.record.startedAt}`), sql`END`], sql` `);
      const rows = await tx
        .update(instances)
        .set({ state: 'succeeded', progress: 1, startedAt, finishedAt: now, leaseOwner: null, leaseExpiresAt: null, errorKind: null, error: null })
        // `id IN (…)` lets SQLite use the primary key; the row-value test alone scans the table.
        .where(
          and(
            inArray(instances.id, chunk.map((b) => b.record.instance.id)),
            eq(instances.state, 'running'),
            sql`(${instances.id}, ${instances.attempt}, ${instances.leaseOwner}) IN (VALUES ${keys})`,
          ),
        )
        .returning({ id: instances.id });
      const ids = new Set(rows.map((r) => r.id));
      winners.push(...chunk.filter((b) => ids.has(b.record.instance.id)));
    }
    if (!winners.length) return { events: [], won: [] };
    for (let i = 0; i < winners.length; i += 100) {
      const chunk = winners.slice(i, i + 100);
      await tx.insert(attempts).values(
        chunk.map(({ record: a }) => ({
          instanceId: a.instance.id, attempt: a.instance.attempt, worker: a.worker, outcome: 'succeeded' as const, log: a.log, startedAt: a.startedAt, finishedAt: now,
        })),
      );
      const outs = chunk.flatMap(({ record: a, outputs }) => outputs.map((o) => ({ ...o, runId: a.instance.runId, taskId: a.taskId, instanceIdx: a.instance.idx, createdAt: now })));
      if (outs.length) {
        await tx
          .insert(assets)
          .values(outs)
          .onConflictDoUpdate({
            target: [assets.runId, assets.taskId, assets.instanceIdx, assets.name],
            set: { size: sql`excluded.size`, sha256: sql`excluded.sha256`, location: sql`excluded.location`, id: sql`excluded.id` },
          });
      }
    }
    // One event per task run per group, listing the instances: a fan-out of 100,000 writes
    // hundreds of event rows, not 100,000.
    const ev: NewEvent[] = [];
    const perTaskRun = new Map<string, { n: number; runId: string; taskId: string; idxs: number[] }>();
    for (const { record: a } of winners) {
      const t = perTaskRun.get(a.instance.taskRunId) ?? { n: 0, runId: a.instance.runId, taskId: a.taskId, idxs: [] };
      t.n++;
      t.idxs.push(a.instance.idx);
      perTaskRun.set(a.instance.taskRunId, t);
    }
    for (const [taskRunId, t] of perTaskRun) {
      ev.push({ runId: t.runId, taskId: t.taskId, type: 'instances-succeeded', data: { count: t.n, idxs: t.idxs } });
      // One statement counts and, when this group completes the task, finishes it; SET sees the old row.
      const completes = sql`${taskRuns.state} = 'running' AND ${taskRuns.succeededCount} + ${t.n} >= ${taskRuns.instanceCount}`;
      const [row] = await tx
        .update(taskRuns)
        .set({
          succeededCount: sql`${taskRuns.succeededCount} + ${t.n}`,
          state: sql`CASE WHEN ${completes} THEN 'succeeded' ELSE ${taskRuns.state} END`,
          finishedAt: sql`CASE WHEN ${completes} THEN ${now} ELSE ${taskRuns.finishedAt} END`,
        })
        .where(eq(taskRuns.id, taskRunId))
        .returning({ state: taskRuns.state, succeeded: taskRuns.succeededCount, count: taskRuns.instanceCount });
      // It finished now only if the count crossed the total in this very update.
      if (row?.state === 'succeeded' && row.count !== null && row.succeeded - t.n < row.count) ev.push({ runId: t.runId, taskId: t.taskId, type: 'task-succeeded' });
    }
    const events: EventRow[] = [];
    for (let i = 0; i < ev.length; i += 200) events.push(...(await insertEvents(tx, ev.slice(i, i + 200))));
    return { events, won: winners };
  });
}

/**
 * Record a failed attempt. With `retryAt`, the instance goes back to pending until then; without,
 * it fails for good, and so does its task run (its other pending instances are cancelled).
 */
export async function failInstance(
  db: Db,
  a: AttemptRecord,
  failure: Failure,
  retryAt: number | null,
): Promise<{ events: EventRow[]; taskFailed: boolean } | null> {
  return db
    .transaction(async (tx) => {
      const now = Date.now();
      const won = await tx
        .update(instances)
        .set(
          retryAt !== null
            ? { state: 'pending', availableAt: retryAt, leaseOwner: null, leaseExpiresAt: null, errorKind: failure.kind, error: failure.message }
            : { state: 'failed', startedAt: a.startedAt, finishedAt: now, leaseOwner: null, leaseExpiresAt: null, errorKind: failure.kind, error: failure.message },
        )
        .where(stillLeased(a))
        .returning({ id: instances.id });
      if (!won.length) {
        tx.rollback();
        return null;
      }
      await tx.insert(attempts).values({
        instanceId: a.instance.id, attempt: a.instance.attempt, worker: a.worker, outcome: 'failed', errorKind: failure.kind, error: failure.message,
        log: a.log, startedAt: a.startedAt, finishedAt: now,
      });
      const base = { runId: a.instance.runId, taskId: a.taskId };
      const ev: NewEvent[] = [
        { ...base, type: retryAt !== null ? 'instance-retrying' : 'instance-failed', data: { idx: a.instance.idx, attempt: a.instance.attempt, kind: failure.kind, error: failure.message, retryAt } },
      ];
      let taskFailed = false;
      if (retryAt === null) {
        const message = `instance ${a.instance.idx} failed after ${a.instance.attempt} attempt(s): ${failure.kind}: ${failure.message}`;
        const failed = await tx
          .update(taskRuns)
          .set({ state: 'failed', error: message, finishedAt: now })
          .where(and(eq(taskRuns.id, a.instance.taskRunId), eq(taskRuns.state, 'running')))
          .returning({ id: taskRuns.id });
        if (failed.length) {
          taskFailed = true;
          await tx
            .update(instances)
            .set({ state: 'cancelled', finishedAt: now })
            .where(and(eq(instances.taskRunId, a.instance.taskRunId), eq(instances.state, 'pending')));
          ev.push({ ...base, type: 'task-failed', data: { error: message } });
        }
      }
      return { events: await insertEvents(tx, ev), taskFailed };
    })
    .catch((e) => {
      if (e instanceof TransactionRollbackError) return null;
      throw e;
    });
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
  which: { expired: true } | { owner: string; ids?: string[] } | { allExceptOwnersLike: string },
  reason = 'the worker stopped before reporting',
): Promise<ReleasedAttempt[]> {
  return db.transaction(async (tx) => {
    const now = Date.now();
    const running = eq(instances.state, 'running');
    const cond =
      'expired' in which
        ? and(running, lte(instances.leaseExpiresAt, now))
        : 'owner' in which
          ? and(running, eq(instances.leaseOwner, which.owner), which.ids ? inArray(instances.id, which.ids) : undefined)
          : and(running, sql`coalesce(${instances.leaseOwner}, '') NOT LIKE ${which.allExceptOwnersLike}`);
    const lost = await tx
      .select({ id: instances.id, runId: instances.runId, taskId: taskRuns.taskId, idx: instances.idx, attempt: instances.attempt, owner: instances.leaseOwner, startedAt: instances.startedAt })
      .from(instances)
      .innerJoin(taskRuns, eq(taskRuns.id, instances.taskRunId))
      .where(cond);
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
