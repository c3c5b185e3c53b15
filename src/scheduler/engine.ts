/**
 * The run state machine. Every decision is read from and written to the store, so any process can
 * pick a run up where another left it: tasks become ready when what they need has succeeded,
 * instances are claimed atomically, outcomes are committed once, runs finish when every task has.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { datasync, type AssetStore } from '../assets/store.js';
import { newId } from '../ids.js';
import { DEFAULT_LIMITS, timerDelay } from '../runtime/limits.js';
import type { PreparedComponent } from '../runtime/component.js';
import type { JobSpec, Then, WorkerPool } from '../runtime/pool.js';
import type { InstanceResult, Partition } from '../runtime/protocol.js';
import type { Failure } from '../runtime/failures.js';
import { leaseSecretHash, leaseSecretMatches, newLeaseSecret } from '../runtime/remote/lease-secret.js';
import type { CompleteRequest, FailRequest, RemoteJob } from '../runtime/remote/protocol.js';
import { attemptKey, digestOf, RemoteUploads } from '../runtime/remote/uploads.js';
import { OUTPUT_NAME } from '../runtime/sinks.js';
import type { Database } from '../store/db.js';
import type { EventRow } from '../store/events.js';
import { getFlowRevision } from '../store/flows.js';
import { readSecrets } from '../store/secrets.js';
import {
  claimInstances, completeInstances, completeStep, failedAttempts, failInstance, getInstance, leasesHeld, releaseLeases, renewLeases, setProgress,
  type AttemptRecord, type InstanceRow, type ReleasedAttempt, type Success,
} from '../store/instances.js';
import { cancelRun } from '../store/run-control.js';
import { run as runStep, runAll, type Step } from '../store/batch.js';
import {
  activeRunIds, assetsByIds, claimedByPlan, createRunStep, failPlanningStep, finishRunStep, getRun, getTaskRun, oldestRunningRun, planStep, queuedRunIds, runEventsAfter,
  runInputAssets, skipStep, stalledRunIds, startRun, startRunStep, taskOutputAssets, taskRunStates, taskRunStatesAt, type LoadedAsset, type NewAsset, type NewRun,
  type PlanWrite, type RunRow,
} from '../store/runs.js';
import type { ComponentRegistry } from './components.js';
import { inputsInHand } from './inputs.js';
import { publicMessage } from '../runtime/hostless.js';
import { splitByManifest } from './split.js';
import { nextStep, runOutcome } from './steps.js';
import { backoff, outputStem, redact, runDir, taskEnvironment } from './jobs.js';
import { capPartitions, singlePartition, validatePartitions, type Plan } from './plan.js';
import { graphOf, type FlowGraph } from './graph.js';
import { RunView } from './progress.js';
import type { FlowSpec, TaskSpec } from './spec.js';

export interface EngineOptions {
  db: Database;
  assets: AssetStore;
  registry: ComponentRegistry;
  pool: WorkerPool;
  /** Bounds for tasks that set none (DEFAULT_LIMITS otherwise). */
  defaults?: Partial<typeof DEFAULT_LIMITS>;
  /**
   * How long a lease lasts without a heartbeat: after a server or worker dies, its attempts are
   * offered again this long after its last heartbeat. Default 30 s.
   */
  leaseMs?: number;
  /** Run instances on this process's workers (false: plan and coordinate only, remote workers run them). */
  runInstances?: boolean;
  /**
   * How often to look for work nobody told this process about: runs and instances other servers
   * planned on a shared database, expired leases. Default 2 s; never more than a third of the lease.
   */
  pollMs?: number;
}

/** A result for an attempt that is no longer this worker's: refused, not committed. */
export class LeaseLost extends Error {
  constructor(what: string) {
    // One message for every cause, so that it tells a caller without the secret nothing about the attempt.
    super(`${what}: not held with this lease secret (the lease expired or was given to another worker, or the secret is missing or wrong); the request is refused`);
    this.name = 'LeaseLost';
  }
}

/** An attempt that cannot even be prepared (its flow revision or component is unreadable) is tried a few times, then fails its task. */
const PREPARE_RETRY: TaskSpec['retry'] = { attempts: 3, backoff: 'exponential', delay: 1000, maxDelay: 60_000 };

/** Stops a running attempt so that it can be handed back, not failed. */
const SHUTDOWN = Symbol('shutdown');
/** Stops an attempt whose plan did not hold (see Engine.void). */
const VOID = Symbol('void');

const RUN_ENDED = new Set(['run-succeeded', 'run-failed', 'run-cancelled']);
const SAFETY_POLL_MS = 2000;
const RECENT_EVENTS = 4096;
/** Most stalled runs one safety poll looks at (a shared database may hold many active runs). */
const STALLED_BATCH = 200;
/** Waits before retrying what could not be committed (doubled on each failure, up to the most). */
const TICK_RETRY_MS = 500;
const COMMIT_RETRY_MS = 100;
const MAX_RETRY_MS = 5000;
/** Group commit bounds: most outcomes per batch, and longest wait for more to join. */
const MAX_GROUP = 512;
const GROUP_WAIT_MS = 10;
/**
 * Most links of a chain run ahead in one worker (see aheadOf): bounds how long a chain keeps its
 * worker to itself. Each hop back to this thread between two such stretches cost a short chain
 * 2-9 ms on a busy 2-core machine (two thread wake-ups); 40 covers most chains in one.
 */
export const AHEAD = 40;
/**
 * Most tasks planned in one commit. Planning and an embedded database's commits run on this
 * thread: the 10,000 plans of a wide flow's first step in one commit held it (and /healthz) for
 * seconds. 200 plans take some 30-40 ms.
 */
export const PLAN_BATCH = 200;
/** Most runs whose progress is kept between task ends (see RunView); more are read again when needed. */
const MAX_VIEWS = 256;

export class Engine {
  /** This process's identity on leases and attempts. */
  readonly owner = `w-${process.pid}-${randomBytes(3).toString('hex')}`;
  private readonly listeners = new Set<(e: EventRow) => void>();
  private readonly dirty = new Set<string>();
  private readonly specs = new Map<string, Promise<FlowSpec>>();
  /** The newest events published here, in id order, for live streams (see recentEvents). */
  private readonly recent: EventRow[] = [];
  /** The flow of each active run seen here, to find what waits for it to end without reading it. */
  private readonly flowOf = new Map<string, string>();
  /**
   * Flows that may have queued runs (seen here), the only ones whose run ends must look for runs
   * to start. Queued runs written by another server on a shared database are found by the safety poll.
   */
  private readonly queuing = new Map<string, number>();
  private queuedSeen = 0;
  /** Instances claimed and not yet recorded (for stop), and those of them not yet back from a worker. */
  private inflight = 0;
  private inPool = 0;
  private readonly contexts = new Map<string, Promise<TaskContext>>();
  /** Task runs whose plan is being committed while the instances it leased here already run. */
  private readonly planning = new Set<string>();
  /**
   * The inputs of runs submitted here whose creation is not committed yet: their first tasks run
   * meanwhile, and a task planned after one of them ends cannot read the inputs from the store.
   */
  private readonly submitted = new Map<string, LoadedAsset[]>();
  /**
   * Successes of the groups being committed, by run. Their statements may not have run yet (held
   * behind a sync): a later group reads their task runs as still running, and takes them as done.
   */
  private readonly recording = new Map<string, Set<Success>>();
  private readonly pending: { success: Success; produced: string[]; resolve: (won: boolean) => void; reject: (e: unknown) => void }[] = [];
  private flushing?: Promise<void>;
  private ticking = false;
  private again = false;
  private tickFailures = 0;
  /**
   * Whether a claim may find something. Cleared when a claim comes back short; set by anything that
   * can make instances runnable: planning here, a retry coming due, a notify, the safety poll (for
   * instances other processes planned). Saves an empty claim statement on every tick.
   */
  private claimable = true;
  private running = false;
  private timer?: NodeJS.Timeout;
  private maintaining = false;
  private lastRenew = 0;
  /** Remote workers waiting in a long poll for something to become claimable. */
  private readonly waiters = new Set<() => void>();
  readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly idle = new Set<() => void>();
  /** Components (digest:memory cap) already handed to the workers. */
  private readonly warmed = new Set<string>();
  /**
   * First attempts already running in a worker right behind the instance they follow in a chain
   * (see aheadOf), by run and task run: its dispatch takes the result instead of starting it
   * again. Kept until then, or until the run ends.
   */
  private readonly ahead = new Map<string, Map<string, Ahead>>();
  /** Links run ahead whose result a dispatch took, and those it did not (dropped unplanned, other inputs, stopped). */
  readonly linksAhead = { taken: 0, notTaken: 0 };
  /** The task each task (of a flow revision) can be run ahead of, if any: see successor. */
  private readonly successors = new Map<string, Promise<TaskSpec | undefined>>();
  /** Where the tasks of active runs stand, between task ends (see unblocked). */
  private readonly views = new Map<string, RunView>();
  /** Running instances (and links run ahead being waited for) by run, to stop them when their run is cancelled. */
  private readonly aborts = new Map<string, Set<Stoppable>>();
  /** Outputs remote attempts uploaded, with the digests this server computed (see RemoteUploads). */
  private readonly remoteUploads = new RemoteUploads();
  /** Instances started ahead of a plan that did not hold (see void). */
  private readonly voided = new WeakSet<InstanceRow>();

  private readonly defaults: typeof DEFAULT_LIMITS;

  constructor(private readonly o: EngineOptions) {
    this.defaults = { ...DEFAULT_LIMITS, ...o.defaults };
    this.leaseMs = o.leaseMs ?? 30_000;
    this.pollMs = Math.min(o.pollMs ?? SAFETY_POLL_MS, Math.floor(this.leaseMs / 3));
  }

  async start(): Promise<void> {
    // An embedded file has one writer, this process: whatever its workers held belongs to a dead
    // predecessor. Remote workers' leases (`r-…`) may still be alive; they expire if they are not.
    await this.released(await releaseLeases(this.o.db.db, this.o.db.embedded ? { allExceptOwnersLike: 'r-%' } : { expired: true }));
    for (const id of await activeRunIds(this.o.db.db)) this.dirty.add(id);
    this.running = true;
    // Referenced on purpose: a started engine keeps the process alive (a retry may be waiting on a timer).
    this.timer = setInterval(() => void this.maintain(), this.pollMs);
    this.wake();
  }

  /**
   * Stop claiming and let running instances finish for up to `graceMs`; then stop the rest and hand
   * their leases back, so another worker runs them at once instead of after the lease expires.
   */
  async stop(graceMs = Infinity): Promise<{ released: number }> {
    this.running = false;
    clearInterval(this.timer);
    this.wakeWaiters();
    const idle = () => new Promise<void>((r) => this.idle.add(r));
    if (Number.isFinite(graceMs)) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((r) => (timer = setTimeout(r, graceMs)));
      while ((this.inflight > 0 || this.ticking) && !(await Promise.race([idle().then(() => false), late.then(() => true)])));
      clearTimeout(timer);
      for (const set of this.aborts.values()) for (const c of set) c.abort(SHUTDOWN);
    }
    while (this.inflight > 0 || this.ticking) await idle();
    const released = await releaseLeases(this.o.db.db, { owner: this.owner }, 'the server shut down before the instance finished');
    await this.released(released);
    return { released: released.length };
  }

  /**
   * The safety poll: keep this process's leases alive, offer again the attempts of dead servers and
   * workers, and pick up runs a dead server left between two steps.
   */
  private async maintain(): Promise<void> {
    if (this.maintaining) return;
    this.maintaining = true;
    try {
      const db = this.o.db.db;
      const now = Date.now();
      if (this.inflight > 0 && now - this.lastRenew >= this.leaseMs / 3 - 50) {
        this.lastRenew = now;
        await renewLeases(db, this.owner, now + this.leaseMs);
      }
      await this.released(await releaseLeases(db, { expired: true }, 'its lease expired: the worker or server holding it stopped or was cut off'));
      if (!this.o.db.embedded) for (const id of await stalledRunIds(db, STALLED_BATCH)) this.dirty.add(id);
    } catch (e) {
      console.error('tutti: lease upkeep failed, retrying:', e);
    } finally {
      this.maintaining = false;
    }
    this.markClaimable();
    this.wake();
  }

  /** Attempts handed back: drop the files they wrote, and look at their runs again. */
  private async released(lost: ReleasedAttempt[]): Promise<void> {
    for (const l of lost) {
      await this.o.assets.removeMatching(runDir(l.runId), outputStem(l.taskId, l.idx, l.attempt)).catch(() => 0);
      this.remoteUploads.forget(attemptKey(l.id, l.attempt));
      this.dirty.add(l.runId);
    }
    if (lost.length) this.markClaimable();
  }

  private markClaimable(): void {
    this.claimable = true;
    this.wakeWaiters();
  }

  private wakeWaiters(): void {
    for (const w of this.waiters) w();
    this.waiters.clear();
  }

  onEvent(fn: (e: EventRow) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** A run was created or changed by someone else: look at it now. */
  notify(runId: string): void {
    this.dirty.add(runId);
    this.markClaimable();
    this.wake();
  }

  /**
   * Record a new run. When nothing can hold it back (no run limit, no backfill), it is started and
   * its first tasks planned in the same commit, their instances leased to idle workers here.
   * Returns its creation events (none when its dedupe key was taken) and, when it was started
   * here, the run as committed.
   */
  async submit(newRun: NewRun, spec: FlowSpec): Promise<{ events: EventRow[]; started?: RunRow }> {
    const db = this.o.db.db;
    if (!this.running || spec.concurrency || newRun.backfillId || newRun.skipAbove !== undefined) {
      this.queuing.set(newRun.flowId, ++this.queuedSeen);
      const created = await runStep(db, createRunStep(newRun));
      this.report(created);
      return { events: created };
    }
    const now = Date.now();
    const run: RunRow = {
      id: newRun.id, flowId: newRun.flowId, revision: newRun.revision, state: 'running', params: newRun.params, trigger: newRun.trigger,
      logicalTime: newRun.logicalTime ?? null, dedupeKey: newRun.dedupeKey ?? null, backfillId: null, error: null, createdAt: now, startedAt: now, finishedAt: null, stepToken: null,
    };
    const inputs: LoadedAsset[] = newRun.inputs
      .map(({ order, ...a }) => ({ ...a, runId: run.id, taskId: null, instanceIdx: order ?? null, createdAt: now, inline: a.content !== undefined }))
      .sort((a, b) => (a.name === b.name ? (a.instanceIdx ?? 0) - (b.instanceIdx ?? 0) : a.name < b.name ? -1 : 1));
    this.flowOf.set(run.id, run.flowId);
    const first: Planned[] = [];
    let all = true;
    for (const task of graphOf(spec).roots) {
      // A component that plans for itself is called in a sandbox: the usual pass does that, after
      // the commit, as it plans what is past the first batch.
      if (first.length === PLAN_BATCH || (await this.o.registry.get(task.digest)).info.hasPlan) all = false;
      else first.push(await this.plan(run, task, `${run.id}.${task.id}`, { inputs }));
    }
    this.warm(spec);
    this.submitted.set(run.id, inputs);
    const [created, ...planned] = await commitSteps(db, [createRunStep(newRun, undefined, now), ...first.map((p) => p.step)], [undefined, ...first]).finally(() =>
      this.submitted.delete(run.id),
    );
    planned.forEach((events, i) => first[i]!.after(events));
    this.publish([...created!, ...planned.flat()]);
    if (!all || !created!.length || planned.some((e) => !e.length)) this.notify(run.id);
    return { events: created!, started: created!.length ? run : undefined };
  }

  /** Resolve with the run once it has finished. */
  waitForRun(runId: string): Promise<RunRow> {
    return new Promise((resolve, reject) => {
      const check = async () => {
        const run = await getRun(this.o.db.db, runId);
        if (!run) return reject(new Error(`no run ${runId}`));
        if (['succeeded', 'failed', 'cancelled', 'skipped'].includes(run.state)) {
          off();
          resolve(run);
        }
      };
      const off = this.onEvent((e) => {
        if (e.runId === runId && e.type.startsWith('run-')) check().catch(reject);
      });
      check().catch(reject);
    });
  }

  wake(): void {
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    setImmediate(() => void this.tick());
  }

  private async tick(): Promise<void> {
    try {
      do {
        this.again = false;
        const runs = [...this.dirty];
        this.dirty.clear();
        // A run whose step could not be committed (a full disk) is looked at again on the retry:
        // forgotten, it would wait for a restart (on an embedded file nothing else looks at it).
        const failed: string[] = [];
        let error: unknown;
        for (const runId of runs) {
          try {
            await this.advance(runId);
          } catch (e) {
            failed.push(runId);
            error ??= e;
          }
        }
        for (const id of failed) this.dirty.add(id);
        if (this.running) await this.claim();
        if (failed.length) throw error;
      } while (this.again);
      this.tickFailures = 0;
    } catch (e) {
      const wait = Math.min(TICK_RETRY_MS * 2 ** this.tickFailures++, MAX_RETRY_MS);
      console.error(`tutti: scheduler tick failed, retrying in ${wait} ms:`, e);
      setTimeout(() => this.wake(), wait).unref();
    } finally {
      this.ticking = false;
      this.settle();
    }
  }

  private settle(): void {
    if (this.inflight === 0 && !this.ticking) {
      for (const r of this.idle) r();
      this.idle.clear();
    }
  }

  /**
   * Events after `afterId` (of one run, or of all) from those published here, when they are known
   * to be all of them: the ids that follow `afterId` are all here, with no gap (an event this
   * process did not write, or has not published yet, makes a gap). Undefined: read the store.
   */
  recentEvents(afterId: number, runId?: string, limit = 500): EventRow[] | undefined {
    const r = this.recent;
    let i = r.length;
    while (i > 0 && r[i - 1]!.id > afterId) i--;
    if (i === r.length) return [];
    if (r[i]!.id !== afterId + 1 || r.length - i > limit) return undefined;
    for (let j = i + 1; j < r.length; j++) if (r[j]!.id !== r[j - 1]!.id + 1) return undefined;
    const tail = r.slice(i);
    return runId ? tail.filter((e) => e.runId === runId) : tail;
  }

  /** Tell listeners; look again at runs whose tasks ended, except `quiet` ones (already moved on in the same commit). */
  private publish(events: EventRow[], quiet?: Set<string>): void {
    for (const e of [...events].sort((a, b) => a.id - b.id)) {
      let at = this.recent.length;
      while (at > 0 && this.recent[at - 1]!.id > e.id) at--;
      if (this.recent[at - 1]?.id !== e.id) this.recent.splice(at, 0, e);
    }
    // Trimmed in halves, not one event at a time: a busy server publishes thousands per second.
    if (this.recent.length > 2 * RECENT_EVENTS) this.recent.splice(0, this.recent.length - RECENT_EVENTS);
    for (const e of events) {
      for (const fn of this.listeners) fn(e);
      if (e.type === 'task-succeeded' || e.type === 'task-failed' || e.type === 'task-skipped') {
        if (!quiet?.has(e.runId)) this.dirty.add(e.runId);
        this.contexts.delete(`${e.runId}.${e.taskId}`);
      }
      if (e.type === 'run-cancelled') for (const c of this.aborts.get(e.runId) ?? []) c.abort();
      // Links run ahead that no dispatch took (their plan never came, or came with other inputs):
      // those still queued or running are stopped (a cancelled run's chain does not run on).
      if (RUN_ENDED.has(e.type)) {
        for (const a of this.ahead.get(e.runId)?.values() ?? []) {
          this.o.pool.drop(a.then);
          this.linksAhead.notTaken++;
        }
        this.ahead.delete(e.runId);
      }
      if (RUN_ENDED.has(e.type)) void this.wakeQueued(e.runId);
      if (RUN_ENDED.has(e.type) || e.type === 'run-retried') this.views.delete(e.runId);
      if (e.type === 'run-retried') {
        this.dirty.add(e.runId);
        for (const key of this.contexts.keys()) if (key.startsWith(`${e.runId}.`)) this.contexts.delete(key);
      }
    }
    if (events.length) this.wake();
  }

  /** A run of a flow ended: the oldest queued runs of that flow may start now. */
  private async wakeQueued(runId: string): Promise<void> {
    try {
      const flowId = this.flowOf.get(runId) ?? (await getRun(this.o.db.db, runId))?.flowId;
      this.flowOf.delete(runId);
      const seen = flowId && this.queuing.get(flowId);
      if (!seen) return;
      const queued = await queuedRunIds(this.o.db.db, flowId, 16);
      // Forgotten only if no queued run of the flow was seen while the read ran.
      if (!queued.length && this.queuing.get(flowId) === seen) this.queuing.delete(flowId);
      for (const id of queued) this.dirty.add(id);
      this.wake();
    } catch (e) {
      console.error('tutti: cannot look at queued runs:', e);
    }
  }

  /** A flow revision's spec; revisions never change, so each is read once. */
  flowSpec(flowId: string, revision: number): Promise<FlowSpec> {
    const key = `${flowId}@${revision}`;
    let p = this.specs.get(key);
    if (!p) {
      p = getFlowRevision(this.o.db.db, flowId, revision).then((r) => {
        if (!r) throw new Error(`flow ${key} not found`);
        return r.spec as FlowSpec;
      });
      this.specs.set(key, p);
      p.catch(() => this.specs.delete(key));
    }
    return p;
  }

  /**
   * Move one run forward: start it, plan ready tasks (leasing their first instances to this
   * process's workers), skip doomed ones, finish it when all are done. All of it is one batch, so
   * one commit. It decides from what is committed: what this batch changes (a task planned with no
   * instance, a skip) is looked at on the next pass, which its events trigger.
   */
  private async advance(runId: string): Promise<void> {
    const db = this.o.db.db;
    const run = await getRun(this.o.db.eager, runId);
    if (!run || !['queued', 'running'].includes(run.state)) {
      // Ended elsewhere (another server, on a shared database): its end never reaches wakeQueued here.
      this.flowOf.delete(runId);
      this.views.delete(runId);
      return;
    }
    const spec = await this.flowSpec(run.flowId, run.revision);
    this.flowOf.set(run.id, run.flowId);
    const steps: Planned[] = [];
    const only = (step: Step<EventRow[]>): Planned => ({ step, after: () => {} });
    if (run.state === 'queued') {
      this.queuing.set(run.flowId, ++this.queuedSeen);
      // Runs waiting for a run limit start on their own first, so that they do not plan for nothing.
      if (spec.concurrency || run.backfillId) {
        if (!(await this.startQueued(run, spec))) return;
      } else {
        steps.push(only(startRunStep(run.id)));
      }
    }
    this.warm(spec);
    const trs = new Map((await taskRunStates(this.o.db.eager, runId)).map((t) => [t.taskId, t]));
    const ready: [TaskSpec, string][] = [];
    for (const task of spec.tasks) {
      const tr = trs.get(task.id);
      if (!tr || tr.state !== 'pending') continue;
      const step = nextStep(task, trs);
      if (step && 'skip' in step) steps.push(only(skipStep(runId, tr.id, task.id, step.skip)));
      else if (step) ready.push([task, tr.id]);
    }
    const outcome = run.state === 'running' && !steps.length && !ready.length ? runOutcome(spec, trs) : undefined;
    if (outcome) steps.push(only(finishRunStep(runId, outcome.state, outcome.error)));
    // A batch of plans per commit; other work runs between two (see PLAN_BATCH).
    for (let at = 0; at === 0 || at < ready.length; at += PLAN_BATCH) {
      // Workers that ran dry meanwhile are fed from what is planned already, not after the last batch.
      if (at && this.running) await this.claim();
      for (const [task, id] of ready.slice(at, at + PLAN_BATCH)) steps.push(await this.plan(run, task, id));
      if (!steps.length) return;
      const batch = steps.splice(0);
      const results = await commitSteps(db, batch.map((p) => p.step), batch);
      results.forEach((events, i) => batch[i]!.after(events));
      this.publish(results.flat());
    }
  }

  /**
   * Compile every component a running flow uses and hand it to the workers now, while upstream
   * tasks run, so a downstream task does not start by compiling (a JS component takes ~150 ms)
   * and no worker's first instance waits for modules and bindings.
   */
  private warm(spec: FlowSpec): void {
    for (const task of graphOf(spec).components) {
      const key = `${task.digest}:${task.memory ?? this.defaults.memoryBytes}`;
      if (this.warmed.has(key)) continue;
      this.warmed.add(key);
      void this.o.registry
        .get(task.digest)
        .then((c) => this.o.pool.preload(c, task.memory ?? this.defaults.memoryBytes))
        .catch(() => this.warmed.delete(key));
    }
  }

  /**
   * Start a queued run if its flow's run limit allows (oldest first). At the limit it stays queued
   * and is looked at again when a run of its flow ends; with `cancel-oldest` it makes room instead.
   */
  private async startQueued(run: RunRow, spec: FlowSpec): Promise<boolean> {
    const db = this.o.db.db;
    const limit = spec.concurrency;
    let started = await startRun(db, run.id, { flowMax: limit?.max });
    if (!started.length && limit?.policy === 'cancel-oldest' && !run.backfillId) {
      const oldest = await oldestRunningRun(db, run.flowId);
      if (oldest) this.publish(await cancelRun(db, oldest, `cancelled to make room for run ${run.id} (flow concurrency max ${limit.max}, policy cancel-oldest)`));
      started = await startRun(db, run.id, { flowMax: limit.max });
    }
    this.publish(started);
    return started.length > 0;
  }

  /** Events written outside the engine (API calls, triggers): tell listeners and look at their runs. */
  report(events: EventRow[]): void {
    for (const e of events) this.dirty.add(e.runId);
    if (events.length) this.markClaimable();
    this.publish(events);
  }

  /**
   * Plan a ready task run: the step that records it, and what to do once it is committed (when its
   * events came back, it won): remember what its instances share, and run those it leased here.
   */
  private async plan(run: RunRow, task: TaskSpec, taskRunId: string, known: Known = {}): Promise<Planned> {
    const eager = this.o.db.eager;
    const given = task.inputs.length ? (known.inputs ?? this.submitted.get(run.id) ?? (await runInputAssets(eager, run.id))) : [];
    // Assets committed in the same batch as this plan are not in the store yet: the caller has them.
    const unknown = [...new Set(task.needs.filter((n) => !known.outputs?.has(n)))];
    // By task, not filtered per need: a fan-in over N tasks would cost N².
    const read = new Map<string, LoadedAsset[]>();
    for (const a of unknown.length ? await taskOutputAssets(eager, run.id, unknown) : []) {
      const list = read.get(a.taskId!);
      if (list) list.push(a);
      else read.set(a.taskId!, [a]);
    }
    const upstream = task.needs.flatMap((n) => known.outputs?.get(n) ?? read.get(n) ?? []);
    const inputs = await inputsInHand(eager, this.o.assets, [...task.inputs.flatMap((n) => given.filter((a) => a.name === n)), ...upstream]);
    const component = await this.o.registry.get(task.digest);
    let plan: Plan = singlePartition(inputs);
    if (!component.info.hasPlan && component.info.manifest) {
      plan = splitByManifest(inputs.map((a) => ({ size: a.size, path: this.o.assets.localPath(a.location), bytes: a.content })), component.info.manifest);
    } else if (component.info.hasPlan) {
      const result = await this.o.pool.run(component, this.jobSpec(run, task, inputs, 'plan', { index: 0, count: 0, slices: [] }, new Map(), 'plan.a0', `${task.id}.plan-`), {
        timeoutMs: task.timeout ?? this.defaults.timeoutMs,
      });
      let problem = result.ok ? undefined : `${result.failure.kind}: ${result.failure.message}`;
      if (result.ok) {
        try {
          validatePartitions(result.plan ?? [], inputs);
          plan = { partitions: result.plan ?? [], policy: 'plan export' };
        } catch (e) {
          problem = `invalid-plan: ${(e as Error).message}`;
        }
      }
      if (problem) return { step: failPlanningStep(run.id, taskRunId, task.id, `plan failed: ${problem}`), after: () => {} };
    }
    plan = capPartitions(plan, task.maxInstances);
    const secrets = await readSecrets(eager, Object.values(task.secrets));
    // Lease what this process's idle workers can start now: no claim statement, no wait for one.
    // Only that much: the rest stays pending for whichever worker, here or remote, is free first.
    const room = this.running && this.o.runInstances !== false ? this.o.pool.size - this.inPool : 0;
    const count = Math.max(0, Math.min(plan.partitions.length, task.concurrency ?? Infinity, room));
    const write: PlanWrite = {
      runId: run.id, taskRunId, taskId: task.id, inputs: inputs.map((a) => a.id), ...plan, concurrency: task.concurrency, needs: task.needs,
      claim: count ? { owner: this.owner, leaseMs: this.leaseMs, count } : undefined,
    };
    const now = Date.now();
    // Its instances need exactly what planning just read: no second look at the store for them.
    const context = Promise.resolve({ run, task, inputs, secrets, component });
    let leased: InstanceRow[] = [];
    return {
      step: planStep(write),
      // The leased instances start while the plan is being committed. Their outcomes are committed
      // after it (batches commit in the order they are queued) and count only if it held.
      early: () => {
        if (!count) return;
        this.contexts.set(taskRunId, context);
        this.planning.add(taskRunId);
        this.dispatch((leased = claimedByPlan(write, now)));
      },
      after: (events) => {
        this.planning.delete(taskRunId);
        if (!events.length) {
          // Lost (planned elsewhere, run cancelled, commit failed): the instances started early are void.
          if (count) this.contexts.delete(taskRunId);
          this.void(leased);
          return;
        }
        this.contexts.set(taskRunId, context);
        if (count < plan.partitions.length) this.markClaimable();
      },
    };
  }

  /**
   * What a worker needs to run one call of a task's component. `attemptName` is unique per attempt;
   * outputs are written at `<run dir>/<outputStem><name>`.
   */
  private jobSpec(
    run: RunRow, task: TaskSpec, inputs: LoadedAsset[], call: 'run' | 'plan', partition: Partition, secrets: Map<string, string>, attemptName: string, outputStem: string,
  ): JobSpec {
    const { params, env, args } = taskEnvironment(run, task, partition, secrets);
    return {
      call,
      partition,
      inputs: inputs.map((a) => ({
        name: a.taskId ? `${a.taskId}/${a.instanceIdx}/${a.name}` : a.name,
        size: a.size,
        mediaType: a.mediaType,
        path: this.o.assets.localPath(a.location),
        bytes: a.content,
      })),
      params: Object.entries(params).map(([name, value]) => ({ name, value })),
      env,
      args,
      outputDir: this.o.assets.localPath(runDir(run.id)),
      outputStem,
      scratchDir: task.scratch ? this.o.assets.scratchDir(`${run.id}.${task.id}.${attemptName}`) : undefined,
      allowedHosts: task.network?.allow,
      limits: {
        outputBytes: task.outputLimit ?? this.defaults.outputBytes,
        logBytes: task.logLimit ?? this.defaults.logBytes,
        memoryBytes: task.memory ?? this.defaults.memoryBytes,
        planPartitions: task.planLimit ?? this.defaults.planPartitions,
      },
    };
  }

  /**
   * Claim in batches: once fewer instances are in hand than workers, take enough for several
   * rounds. A claim is one statement whatever its size, so big batches make it cheap per instance.
   */
  private async claim(): Promise<void> {
    // Top up well before the workers run dry: a claim may wait behind a group commit.
    if (this.o.runInstances === false || this.inPool >= this.o.pool.size * 8 || !this.claimable) return;
    const want = Math.min(512, this.o.pool.size * 32) - this.inPool;
    const leaseMs = this.leaseMs;
    // Cleared before the claim, so instances planned while it runs set it again and are not missed.
    this.claimable = false;
    let claimed: InstanceRow[];
    try {
      claimed = await claimInstances(this.o.db.db, this.owner, want, leaseMs);
    } catch (e) {
      this.markClaimable(); // the retried tick must claim again
      throw e;
    }
    // A full batch may have left more behind.
    if (claimed.length === want) this.markClaimable();
    this.dispatch(claimed);
  }

  /** Run instances leased to this process on its workers. */
  private dispatch(leased: InstanceRow[]): void {
    if (leased.length && this.inflight === 0) this.lastRenew = Date.now();
    for (const inst of leased) {
      this.inflight++;
      this.inPool++;
      void this.execute(inst).finally(() => {
        this.inflight--;
        this.settle();
        this.wake();
      });
    }
  }

  /**
   * Lease up to `max` attempts to a remote worker, waiting up to `waitMs` for some to become
   * runnable: a long poll, so an idle worker costs a request per `waitMs`, not a stream of them.
   */
  async leaseRemote(worker: string, max: number, waitMs: number, signal?: AbortSignal): Promise<RemoteJob[]> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      if (!this.running || signal?.aborted) return [];
      // One secret per answer: its jobs all go to the one caller that asked, in one response.
      const secret = newLeaseSecret();
      const claimed = await claimInstances(this.o.db.db, worker, max, this.leaseMs, leaseSecretHash(secret));
      if (claimed.length === max) this.markClaimable();
      const jobs: RemoteJob[] = [];
      for (const inst of claimed) {
        const job = await this.remoteJob(inst, worker, secret);
        if (job) jobs.push(job);
      }
      if (jobs.length) return jobs;
      const left = deadline - Date.now();
      if (left <= 0) return [];
      // Woken when something becomes claimable here; work planned by another server shows up at the next safety poll.
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiters.delete(done);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(left, this.pollMs));
        this.waiters.add(done);
        signal?.addEventListener('abort', done, { once: true });
      });
    }
  }

  /** What a remote worker needs to run one attempt; undefined when the attempt failed already. */
  private async remoteJob(inst: InstanceRow, worker: string, leaseSecret: string): Promise<RemoteJob | undefined> {
    const record: AttemptRecord = { instance: inst, taskId: '?', worker, startedAt: Date.now(), log: '' };
    let ctx: TaskContext;
    try {
      ctx = await this.context(inst.taskRunId);
    } catch (e) {
      await this.recordFailure(record, PREPARE_RETRY, { kind: 'internal', message: `cannot prepare the attempt: ${publicMessage(e)}`, retryable: true });
      return undefined;
    }
    const { run, task, secrets } = ctx;
    record.taskId = task.id;
    const missing = Object.values(task.secrets).filter((n) => !secrets.has(n));
    if (missing.length) {
      await this.recordFailure(record, task.retry, missingSecrets(missing));
      return undefined;
    }
    const partition = inst.partition as Partition;
    const spec = this.jobSpec(run, task, ctx.inputs, 'run', partition, secrets, `${inst.idx}-.a${inst.attempt}`, outputStem(task.id, inst.idx, inst.attempt));
    spec.env.push(['TUTTI_ATTEMPT', String(inst.attempt)]);
    return {
      instanceId: inst.id,
      attempt: inst.attempt,
      leaseSecret,
      runId: run.id,
      taskId: task.id,
      idx: inst.idx,
      component: task.digest,
      timeoutMs: task.timeout ?? this.defaults.timeoutMs,
      partition,
      inputs: ctx.inputs.map((a, i) => ({ assetId: a.id, name: spec.inputs[i]!.name, size: a.size, sha256: a.sha256, mediaType: a.mediaType })),
      params: spec.params,
      env: spec.env,
      args: spec.args,
      scratch: task.scratch === true,
      allowedHosts: spec.allowedHosts,
      limits: spec.limits,
    };
  }

  /**
   * A remote worker's heartbeat: renew what it still holds with the secrets it presents (and record
   * progress); returns the rest as lost. A lease presented without its secret is neither renewed
   * nor told apart from one that does not exist.
   */
  async heartbeatRemote(worker: string, leases: { instanceId: string; attempt: number; leaseSecret?: string; progress?: number }[]): Promise<{ instanceId: string; attempt: number }[]> {
    const db = this.o.db.db;
    const proven = await leasesHeld(db, worker, leases.map((l) => ({ id: l.instanceId, attempt: l.attempt, secret: l.leaseSecret })));
    const held = await renewLeases(db, worker, Date.now() + this.leaseMs, proven);
    const ok = new Set(held.map((h) => `${h.id}:${h.attempt}`));
    for (const l of leases) if (l.progress !== undefined && ok.has(`${l.instanceId}:${l.attempt}`)) await setProgress(db, l.instanceId, l.attempt, l.progress);
    return leases.filter((l) => !ok.has(`${l.instanceId}:${l.attempt}`)).map(({ instanceId, attempt }) => ({ instanceId, attempt }));
  }

  /** A remote worker gives attempts back unfinished (it is shutting down): offer them again now. */
  async releaseRemote(worker: string, leases: { instanceId: string; attempt: number; leaseSecret?: string }[]): Promise<number> {
    const proven = await leasesHeld(this.o.db.db, worker, leases.map((l) => ({ id: l.instanceId, attempt: l.attempt, secret: l.leaseSecret })));
    if (!proven.length) return 0;
    const released = await releaseLeases(this.o.db.db, { owner: worker, held: proven }, 'the worker shut down before the instance finished');
    await this.released(released);
    this.wake();
    return released.length;
  }

  /**
   * The instance and task of an attempt `worker` holds with `secret`; throws LeaseLost otherwise,
   * the same whatever is wrong (no such instance, another attempt or holder, a wrong secret).
   */
  private async heldAttempt(worker: string, instanceId: string, attempt: number, secret: string | undefined): Promise<{ inst: InstanceRow; ctx: TaskContext }> {
    const inst = await getInstance(this.o.db.db, instanceId);
    const proven = leaseSecretMatches(inst?.leaseSecret, secret);
    if (!inst || !proven || inst.state !== 'running' || inst.attempt !== attempt || inst.leaseOwner !== worker) {
      // Over whoever asks (e.g. its run was cancelled): nothing it uploaded can count any more.
      if (inst && (inst.state !== 'running' || inst.attempt !== attempt)) this.remoteUploads.forget(attemptKey(instanceId, attempt));
      throw new LeaseLost(`instance ${instanceId} attempt ${attempt}`);
    }
    return { inst, ctx: await this.context(inst.taskRunId) };
  }

  /**
   * Store one output of a remote attempt where it will live, computing its size and digest on the
   * way (and checking the digest the worker sent, if any: a transfer error is caught here). Only
   * the holder of the lease may upload; the output counts once the attempt is reported complete.
   */
  async uploadRemoteOutput(lease: { worker: string; instanceId: string; attempt: number; secret?: string }, name: string, body: ReadableStream<Uint8Array>, sha256?: string) {
    if (!OUTPUT_NAME.test(name)) throw new RemoteReportError(`invalid output name "${name}": use 1-64 characters of a-z, 0-9, "_", "-" or "."`);
    const key = attemptKey(lease.instanceId, lease.attempt);
    return this.remoteUploads.exclusive(key, async () => {
      const { inst, ctx } = await this.heldAttempt(lease.worker, lease.instanceId, lease.attempt, lease.secret);
      const location = `${runDir(inst.runId)}/${outputStem(ctx.task.id, inst.idx, lease.attempt)}${name}`;
      // Whatever was there is being replaced: until this upload ends, no digest is known for it.
      this.remoteUploads.removed(key, name);
      const stored = await this.o.assets.writeStream(location, body);
      if (sha256 && stored.sha256 !== sha256) {
        await rm(this.o.assets.localPath(location), { force: true });
        throw new RemoteReportError(`output "${name}" arrived with sha256 ${stored.sha256}, not the ${sha256} the worker computed: send it again`);
      }
      this.remoteUploads.stored(key, name, stored);
      return stored;
    });
  }

  /**
   * A remote attempt succeeded: commit its uploaded outputs (once, and only while it holds its
   * lease). Each reported output must be the size and sha256 this server computed when it stored
   * it; what is recorded is what the server computed.
   */
  async completeRemote(worker: string, instanceId: string, report: CompleteRequest): Promise<void> {
    const key = attemptKey(instanceId, report.attempt);
    await this.remoteUploads.exclusive(key, async () => {
      const { inst, ctx } = await this.heldAttempt(worker, instanceId, report.attempt, report.leaseSecret);
      const dir = runDir(inst.runId);
      const stem = outputStem(ctx.task.id, inst.idx, inst.attempt);
      const outputs: NewAsset[] = [];
      const names = new Set<string>();
      for (const o of report.outputs) {
        if (!OUTPUT_NAME.test(o.name)) throw new RemoteReportError(`invalid output name "${o.name}"`);
        if (names.has(o.name)) throw new RemoteReportError(`output "${o.name}" is reported twice`);
        names.add(o.name);
        const location = `${dir}/${stem}${o.name}`;
        // Not known here when this server was restarted since the upload, or another one took it.
        const stored = this.remoteUploads.get(key, o.name) ?? (await digestOf(this.o.assets.localPath(location)));
        if (!stored) throw new RemoteReportError(`output "${o.name}" was not uploaded: upload it before reporting the attempt complete`);
        if (stored.size !== o.size || stored.sha256 !== o.sha256) {
          throw new RemoteReportError(
            `output "${o.name}" was stored as ${stored.size} bytes with sha256 ${stored.sha256}, not the ${o.size} bytes with sha256 ${o.sha256} reported: upload it again`,
          );
        }
        outputs.push({ id: newId('a'), name: o.name, location, size: stored.size, sha256: stored.sha256, mediaType: 'application/octet-stream' });
      }
      const record: AttemptRecord = { instance: inst, taskId: ctx.task.id, worker, startedAt: Date.now() - Math.ceil(report.ms), log: redact(report.log, ctx.task, ctx.secrets) };
      const won = await this.commit({ record, outputs }, outputs.map((o) => this.o.assets.localPath(o.location)));
      this.remoteUploads.forget(key);
      if (!won) throw new LeaseLost(`instance ${instanceId} attempt ${report.attempt}`);
    });
  }

  /** A remote attempt failed: the task's retry policy decides what happens next, as for a local one. */
  async failRemote(worker: string, instanceId: string, report: FailRequest): Promise<void> {
    const { inst, ctx } = await this.heldAttempt(worker, instanceId, report.attempt, report.leaseSecret);
    const record: AttemptRecord = { instance: inst, taskId: ctx.task.id, worker, startedAt: Date.now() - Math.ceil(report.ms), log: redact(report.log, ctx.task, ctx.secrets) };
    const failure: Failure = { ...report.failure, message: redact(report.failure.message, ctx.task, ctx.secrets) };
    const recorded = await this.recordFailure(record, ctx.task.retry, failure);
    this.remoteUploads.forget(attemptKey(instanceId, report.attempt));
    if (!recorded) throw new LeaseLost(`instance ${instanceId} attempt ${report.attempt}`);
  }

  /** What every instance of a task run shares, loaded once (inputs never change once planned). */
  private context(taskRunId: string): Promise<TaskContext> {
    let p = this.contexts.get(taskRunId);
    if (!p) {
      p = (async () => {
        const db = this.o.db.eager;
        const tr = (await getTaskRun(db, taskRunId))!;
        const run = (await getRun(db, tr.runId))!;
        const task = graphOf(await this.flowSpec(run.flowId, run.revision)).byId.get(tr.taskId)!;
        const secrets = await readSecrets(db, Object.values(task.secrets));
        const inputs = await inputsInHand(db, this.o.assets, await assetsByIds(db, tr.inputs ?? []));
        return { run, task, inputs, secrets, component: await this.o.registry.get(task.digest) };
      })();
      this.contexts.set(taskRunId, p);
      p.catch(() => this.contexts.delete(taskRunId));
    }
    return p;
  }

  private async execute(inst: InstanceRow): Promise<void> {
    let inPool = true;
    const leavePool = () => {
      if (inPool) this.inPool--;
      inPool = false;
    };
    try {
      await this.runInstance(inst, leavePool);
    } catch (e) {
      if (!(e instanceof Unrecorded)) throw e;
    } finally {
      leavePool();
    }
  }

  private async runInstance(inst: InstanceRow, leavePool: () => void): Promise<void> {
    const db = this.o.db.db;
    const startedAt = Date.now();
    let ctx: TaskContext;
    try {
      ctx = await this.context(inst.taskRunId);
    } catch (e) {
      // A store that cannot be read now (a libSQL server gone for a moment) fails the attempt, to
      // be retried: thrown from here it would be an unhandled rejection, which ends the process.
      leavePool();
      await this.failHere({ instance: inst, taskId: '?', worker: this.owner, startedAt, log: '' }, PREPARE_RETRY, { kind: 'internal', message: `cannot prepare the attempt: ${publicMessage(e)}`, retryable: true });
      return;
    }
    const { run, task, secrets } = ctx;
    const record: AttemptRecord = { instance: inst, taskId: task.id, worker: this.owner, startedAt, log: '' };
    let follower: Ahead | undefined;
    try {
      const missing = Object.values(task.secrets).filter((n) => !secrets.has(n));
      if (missing.length) {
        leavePool();
        await this.failHere(record, task.retry, missingSecrets(missing));
        return;
      }
      const stem = outputStem(task.id, inst.idx, inst.attempt);
      let result: InstanceResult;
      try {
        // Taken only if it ran on exactly the outputs this attempt was planned with. Otherwise it
        // is let finish first: it writes where this attempt is about to.
        const links = this.ahead.get(inst.runId);
        const ahead = inst.attempt === 1 ? links?.get(inst.taskRunId) : undefined;
        links?.delete(inst.taskRunId);
        const waited = ahead && (await this.awaitAhead(inst, ahead));
        if (waited?.stopped) {
          // Its run was cancelled (its instances are, in the store: there is nothing to record), the
          // server is stopping (the attempt is handed back), or its plan did not hold (see void).
          this.linksAhead.notTaken++;
          return;
        }
        // Run ahead and stopped otherwise (its worker replaced, say): run again as usual.
        const taken = waited && ahead!.inputs === ctx.inputs.map((a) => a.id).sort().join() ? waited.result : undefined;
        const usable = taken && (taken.ok || taken.failure.kind !== 'cancelled');
        if (ahead) this.linksAhead[usable ? 'taken' : 'notTaken']++;
        if (usable) {
          result = taken;
          follower = ahead!.next;
        } else {
          const spec = this.jobSpec(run, task, ctx.inputs, 'run', inst.partition as Partition, secrets, `${inst.idx}-.a${inst.attempt}`, stem);
          spec.env.push(['TUTTI_ATTEMPT', String(inst.attempt)]);
          follower = await this.aheadOf(ctx, inst).catch(() => undefined); // only a shortcut
          const abort = new AbortController();
          const release = this.stoppable(inst.runId, { instance: inst, abort: (reason) => abort.abort(reason) });
          if (this.voided.has(inst)) abort.abort(VOID);
          try {
            result = await this.o.pool.run(ctx.component, spec, {
              timeoutMs: task.timeout ?? this.defaults.timeoutMs,
              onProgress: (f) => void setProgress(db, inst.id, inst.attempt, f).catch(() => {}),
              signal: abort.signal,
              then: follower?.then,
            });
          } finally {
            release();
          }
          // Stopped to be handed back at shutdown: neither a success nor a failure of the task.
          if (abort.signal.reason === SHUTDOWN) return;
        }
      } finally {
        leavePool();
        // A worker is free: top up the queue while this outcome is being committed.
        this.wake();
      }
      // Its plan did not hold: the outcome is no one's (see void).
      if (this.voided.has(inst)) return;
      // Claimed in batches, an instance may wait in a worker's queue: its attempt starts when it ran.
      if (result.ms !== undefined) record.startedAt = Math.max(record.startedAt, Date.now() - Math.ceil(result.ms));
      record.log = redact(result.log, task, secrets);
      if (result.ok) {
        const outputs: NewAsset[] = result.outputs.map((o) => ({
          id: newId('a'),
          name: o.name,
          location: `${runDir(run.id)}/${stem}${o.name}`,
          size: o.size,
          sha256: o.sha256,
          mediaType: 'application/octet-stream',
          content: o.bytes,
        }));
        if (follower) follower.inputs = outputs.map((o) => o.id).sort().join();
        await this.commit({ record, outputs }, result.outputs.filter((o) => !o.bytes).map((o) => o.path));
      } else {
        await this.failHere(record, task.retry, { ...result.failure, message: redact(result.failure.message, task, secrets) });
      }
    } catch (e) {
      if (e instanceof Unrecorded) throw e;
      await this.failHere(record, task.retry, { kind: 'internal', message: publicMessage(e), retryable: true });
    } finally {
      // A capped task run has room again once this attempt is no longer `running` in the store:
      // claiming before that commit would find none and wait for the next poll.
      if (task.concurrency !== undefined) {
        this.markClaimable();
        this.wake();
      }
    }
  }

  /** Wait for a link run ahead as `inst`; cancelling its run, stopping the server, or `inst` turning void stops it in its worker. */
  private async awaitAhead(inst: InstanceRow, ahead: Ahead): Promise<{ result: InstanceResult; stopped: boolean }> {
    let stopped = false;
    const stop = () => {
      stopped = true;
      this.o.pool.drop(ahead.then);
    };
    const release = this.stoppable(inst.runId, { instance: inst, abort: stop });
    if (this.voided.has(inst)) stop();
    try {
      const result = await ahead.result;
      return { result, stopped };
    } finally {
      release();
    }
  }

  /** Register what stops a piece of a run's work when the run is cancelled or the server stops; returns its release. */
  private stoppable(runId: string, s: Stoppable): () => void {
    const set = this.aborts.get(runId) ?? new Set();
    this.aborts.set(runId, set.add(s));
    return () => {
      set.delete(s);
      if (!set.size) this.aborts.delete(runId);
    };
  }

  /**
   * In a chain, the task that only waits for this instance can start in the same worker the moment
   * this one ends, on its outputs, instead of after a round trip through this thread (result,
   * commit, plan, dispatch: most of a short step). It is run ahead as the first attempt it will be
   * once planned; its plan is committed as usual, in the same commit as this outcome, and its
   * dispatch then takes the result. Only tasks that are pure functions of those outputs qualify
   * (nothing granted, no secrets, no plan of their own), so running one that ends up unplanned
   * (the run was cancelled) has no effect: its result is simply dropped.
   */
  private async aheadOf(ctx: TaskContext, inst: InstanceRow): Promise<Ahead | undefined> {
    const { run } = ctx;
    if ((inst.partition as Partition).count !== 1) return undefined;
    let first: Ahead | undefined;
    let last: Ahead | undefined;
    let after = { task: ctx.task, idx: inst.idx };
    // Several links down a chain: each runs on the outputs of the one before, in that worker.
    for (let i = 0; i < AHEAD; i++) {
      const next = await this.successor(run, after.task);
      if (!next) break;
      const component = await this.o.registry.get(next.digest);
      const spec = this.jobSpec(run, next, [], 'run', { index: 0, count: 1, slices: [] }, new Map(), '0-.a1', outputStem(next.id, 0, 1));
      spec.env.push(['TUTTI_ATTEMPT', '1']);
      let resolve!: (r: InstanceResult) => void;
      const result = new Promise<InstanceResult>((r) => (resolve = r));
      const ahead: Ahead = {
        taskRunId: `${run.id}.${next.id}`,
        result,
        then: { component, spec: { ...spec, fromPrevious: { taskId: after.task.id, idx: after.idx } }, timeoutMs: next.timeout ?? this.defaults.timeoutMs, resolve },
      };
      if (last) {
        last.next = ahead;
        last.then.then = ahead.then;
      }
      first ??= ahead;
      last = ahead;
      after = { task: next, idx: 0 };
    }
    if (!first) return undefined;
    const links = this.ahead.get(run.id) ?? new Map<string, Ahead>();
    for (let a: Ahead | undefined = first; a; a = a.next) links.set(a.taskRunId, a);
    this.ahead.set(run.id, links);
    return first;
  }

  /** The one task that needs `task` and nothing else, if it can be run ahead of its plan (see aheadOf). */
  private successor(run: RunRow, task: TaskSpec): Promise<TaskSpec | undefined> {
    const key = `${run.flowId}@${run.revision}:${task.id}`;
    let p = this.successors.get(key);
    if (!p) {
      p = (async () => {
        const spec = await this.flowSpec(run.flowId, run.revision);
        const next = graphOf(spec).dependents(task.id).filter((t) => t.needs.length === 1);
        const t = next.length === 1 ? next[0]! : undefined;
        if (!t || t.inputs.length || Object.keys(t.secrets).length || t.scratch || t.network?.allow?.length) return undefined;
        const info = (await this.o.registry.get(t.digest)).info;
        return info.hasPlan || info.manifest ? undefined : t;
      })().catch(() => {
        // Only a shortcut: looked up again next time.
        this.successors.delete(key);
        return undefined;
      });
      this.successors.set(key, p);
    }
    return p;
  }

  /**
   * Successes are committed in groups: whatever finished while the previous group was being
   * written goes into the next batch. Resolves once this one is durable (true) or lost its lease.
   */
  private async commit(success: Success, produced: string[]): Promise<boolean> {
    // No row may be durable before the bytes it names: the files are synced in parallel with the
    // commit, and on an embedded file the commit's sync waits for them (on a server, this does).
    if (produced.length) {
      // A file gone already belonged to an attempt whose lease was handed back (`released` removed
      // it): its commit writes nothing, and must not fail the database's next sync.
      const synced = Promise.all(
        produced.map((f) =>
          datasync(f).catch((e: NodeJS.ErrnoException) => {
            if (e.code !== 'ENOENT') throw e;
          }),
        ),
      );
      if (this.o.db.syncFirst) this.o.db.syncFirst(synced);
      else await synced;
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ success, produced, resolve, reject });
      if (!this.flushing) this.flushing = this.flush();
    });
  }

  private async flush(): Promise<void> {
    while (this.pending.length) {
      // While workers are still busy, give their instances a moment to join this group: a commit
      // costs an fsync whatever its size. With nothing else running, commit at once.
      const since = performance.now();
      while (this.inPool > 0 && this.pending.length < MAX_GROUP && performance.now() - since < GROUP_WAIT_MS) {
        await new Promise((r) => setTimeout(r, 1));
      }
      const group = this.pending.splice(0);
      try {
        const successes = group.map((g) => g.success);
        const { steps, settled } = await this.unblocked(successes);
        // Queued now, so batches commit in the order of their groups; the next group does not
        // wait for this one to be durable: its reads may run during this one's sync.
        for (const s of successes) {
          const runId = s.record.instance.runId;
          this.recording.set(runId, (this.recording.get(runId) ?? new Set()).add(s));
        }
        void this.record(group, steps, settled).finally(() => {
          for (const s of successes) {
            const set = this.recording.get(s.record.instance.runId);
            if (set?.delete(s) && !set.size) this.recording.delete(s.record.instance.runId);
          }
        });
      } catch (e) {
        for (const g of group) g.reject(e);
      }
    }
    this.flushing = undefined;
  }

  /** Commit a group's outcomes with the steps they unblock; then tell listeners and the callers. */
  private async record(group: Engine['pending'], next: Planned[], settled: Map<string, Planned[]>): Promise<void> {
    const db = this.o.db.db;
    let successes = group.map((g) => g.success);
    try {
      const [done, ...more] = await commitSteps<unknown>(db, [completeStep(successes), ...next.map((n) => n.step)], [undefined, ...next]).catch((e) => {
        // The steps planned with the outcomes are dropped (what they started is void: see plan), the
        // outcomes are not: a remote worker reports its own again, and those of attempts run here
        // are committed alone until they are (a full disk may take a while to get room again).
        console.error('tutti: cannot commit outcomes, committing them alone until they are:', e);
        next = [];
        settled = new Map();
        for (const g of group) if (g.success.record.worker !== this.owner) g.reject(e);
        return this.untilCommitted(async () => {
          successes = successes.filter((s) => s.record.worker === this.owner && !this.voided.has(s.record.instance));
          return successes.length ? runAll<unknown>(db, [completeStep(successes)]) : [{ events: [], won: [] }];
        });
      });
      const { events, won } = done as Awaited<ReturnType<typeof completeInstances>>;
      const counted = new Set(won);
      const tried = new Set(successes);
      // A result that lost its lease is dropped, and so are its files (no other attempt writes to them).
      // Its run's view took it as done: read again.
      for (const g of group) if (!counted.has(g.success)) this.views.delete(g.success.record.instance.runId);
      for (const g of group) if (tried.has(g.success) && !counted.has(g.success)) for (const f of g.produced) await rm(f, { force: true });
      const held = new Set(next.filter((_, i) => (more[i] as EventRow[]).length > 0));
      const quiet = new Set([...settled].filter(([, steps]) => steps.every((p) => held.has(p))).map(([runId]) => runId));
      this.publish(events, quiet);
      more.forEach((e, i) => next[i]!.after(e as EventRow[]));
      this.publish(more.flat() as EventRow[]);
      for (const g of group) g.resolve(counted.has(g.success));
    } catch (e) {
      for (const g of group) this.views.delete(g.success.record.instance.runId);
      for (const g of group) g.reject(e);
    }
  }

  /**
   * What the successes of a group unblock, to be written in the same commit. The success of an
   * instance that is its task run's only one ends that task run: the tasks waiting for it can be
   * planned (or the run finished) in the commit that records it rather than in another one after
   * it. Each such step holds only if what it assumed is true when it runs (its needs succeeded,
   * every task run succeeded); when a success does not count after all, they write nothing, and
   * the run is advanced as usual.
   */
  private async unblocked(group: Success[]): Promise<{ steps: Planned[]; settled: Map<string, Planned[]> }> {
    // The steps of each run, and the runs that need a look after this commit even if they all
    // hold: a success of theirs that was not looked at, or something left to the usual pass.
    const byRun = new Map<string, Planned[]>();
    const unsettled = new Set<string>();
    const synced = new Set<string>();
    let planned = 0;
    try {
      for (const success of group) {
        const { record } = success;
        const inst = record.instance;
        const ctx = this.contexts.get(inst.taskRunId);
        if ((inst.partition as Partition).count !== 1 || !ctx) {
          unsettled.add(inst.runId);
          continue;
        }
        const { run, task } = await ctx;
        const graph = graphOf(await this.flowSpec(run.flowId, run.revision));
        const out = byRun.get(run.id) ?? [];
        byRun.set(run.id, out);
        const known = { outputs: new Map([[task.id, producedAssets(run.id, success)]]) };
        const waiting = graph.dependents(task.id);
        let view = this.views.get(run.id);
        // The tasks waiting for this one and nothing else (a chain) are ready now whatever else the
        // run holds: planned without looking at the rest of the run. Their plans hold only if this
        // task run has succeeded when they commit; if not, the run gets another look.
        if (waiting.length && waiting.every((t) => t.needs.length === 1) && !(await this.plansItself(waiting))) {
          view?.end(task.id, 'succeeded');
          for (const t of waiting) {
            if (planned === PLAN_BATCH) {
              unsettled.add(run.id);
              break;
            }
            view?.planned.add(t.id);
            out.push(this.forgetOnLoss(run.id, await this.plan(run, t, `${run.id}.${t.id}`, known)));
            planned++;
          }
          continue;
        }
        // The flow's only sink: every other task leads to it, so the run has most likely succeeded.
        // Finished without looking at the rest; the step holds only if every task run has succeeded.
        if (!waiting.length && graph.sinks === 1) {
          view?.end(task.id, 'succeeded');
          out.push({ step: finishRunStep(run.id, 'succeeded', null, true), after: () => {} });
          continue;
        }
        // One of several instances may or may not end its task run, and so unblock what waits for
        // it and this one: with one of them being committed, the run gets another look.
        if (!synced.has(run.id) && [...(this.recording.get(run.id) ?? [])].some((e) => (e.record.instance.partition as Partition).count !== 1)) unsettled.add(run.id);
        view = await this.runView(run, graph, group, synced);
        view.end(task.id, 'succeeded');
        // Successes committed in earlier groups, or in this one, whose outputs are not in the store yet.
        let pending: Map<string, Success> | undefined;
        for (const t of waiting) {
          if (!view.ready(t.id)) continue;
          // A task whose component plans for itself is planned by the usual pass: that is a sandbox call.
          if (planned === PLAN_BATCH || (await this.plansItself([t]))) {
            unsettled.add(run.id);
            continue;
          }
          pending ??= new Map([...(this.recording.get(run.id) ?? []), ...group].filter((e) => e.record.instance.runId === run.id).map((e) => [e.record.taskId, e]));
          for (const n of t.needs) {
            const e = pending.get(n);
            if (e && !known.outputs.has(n)) known.outputs.set(n, producedAssets(run.id, e));
          }
          view.planned.add(t.id);
          out.push(this.forgetOnLoss(run.id, await this.plan(run, t, `${run.id}.${t.id}`, known)));
          planned++;
        }
        if (!waiting.length && view.open === 0 && !view.finishing) {
          // A task failed or was skipped: how the run ends is the usual pass's to say.
          if (view.unhappy) unsettled.add(run.id);
          else {
            view.finishing = true;
            out.push(this.forgetOnLoss(run.id, { step: finishRunStep(run.id, 'succeeded', null, true), after: () => {} }));
          }
        }
      }
    } catch (e) {
      // Only a shortcut: the usual pass does the same work after the commit.
      console.error('tutti: cannot plan ahead of a commit:', e);
      for (const runId of byRun.keys()) this.views.delete(runId);
      return { steps: [...byRun.values()].flat(), settled: new Map() };
    }
    return { steps: [...byRun.values()].flat(), settled: new Map([...byRun].filter(([runId]) => !unsettled.has(runId))) };
  }

  /**
   * A run's view, brought up to date from its events once per group, or read whole. The successes
   * being committed (earlier groups', whose commit may wait behind a sync, and this group's) are
   * taken as done, as the steps planned on them take them: without this, two ends committed back
   * to back could each miss the other. If one did not hold, what assumed it writes nothing either.
   */
  private async runView(run: RunRow, graph: FlowGraph, group: Success[], synced: Set<string>): Promise<RunView> {
    const eager = this.o.db.eager;
    let view = this.views.get(run.id);
    if (view && !synced.has(run.id) && !view.apply(await runEventsAfter(eager, run.id, view.lastEventId))) view = undefined;
    if (!view) {
      const { states, lastEventId } = await taskRunStatesAt(eager, run.id);
      view = new RunView(graph, states, lastEventId);
      for (const e of [...(this.recording.get(run.id) ?? []), ...group]) {
        if (e.record.instance.runId === run.id && (e.record.instance.partition as Partition).count === 1) view.end(e.record.taskId, 'succeeded');
      }
      this.views.delete(run.id);
      this.views.set(run.id, view);
      if (this.views.size > MAX_VIEWS) this.views.delete(this.views.keys().next().value!);
    }
    synced.add(run.id);
    return view;
  }

  /** A step taken from a run's view: if it does not hold, the view was wrong somewhere, and is read again. */
  private forgetOnLoss(runId: string, p: Planned): Planned {
    return {
      ...p,
      after: (events) => {
        if (!events.length) this.views.delete(runId);
        p.after(events);
      },
    };
  }

  /** Whether one of these tasks' components has a `plan` export (planning it is a sandbox call). */
  private async plansItself(tasks: readonly TaskSpec[]): Promise<boolean> {
    for (const t of tasks) if ((await this.o.registry.get(t.digest)).info.hasPlan) return true;
    return false;
  }

  /**
   * Commit an outcome, trying again until it is committed: a commit may fail for a while (a full
   * disk, a database out of reach), and an outcome lost with it would leave its instance running,
   * leased here (its lease renewed with the others), and its run waiting for it until a restart.
   * Given up once the engine stops: the stop hands the attempt back.
   */
  private async untilCommitted<T>(write: () => Promise<T>): Promise<T> {
    for (let failures = 0; ; failures++) {
      try {
        return await write();
      } catch (e) {
        if (e instanceof Unrecorded) throw e;
        if (!this.running) throw new Unrecorded('the server stopped', { cause: e });
        const wait = Math.min(COMMIT_RETRY_MS * 2 ** failures, MAX_RETRY_MS);
        console.error(`tutti: cannot commit the outcome of an attempt, retrying in ${wait} ms: ${(e as Error).message ?? e}`);
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  /** recordFailure for an attempt run here, until it is committed (a remote worker reports it again itself). */
  private failHere(record: AttemptRecord, policy: TaskSpec['retry'], failure: Failure): Promise<boolean> {
    return this.untilCommitted(() => {
      if (this.voided.has(record.instance)) throw new Unrecorded('its plan did not hold');
      return this.recordFailure(record, policy, failure);
    });
  }

  /**
   * Instances started ahead of a plan that did not hold (its commit failed, its guard did not) are
   * leased to no one: they are stopped, and their outcome is never committed. The next plan of
   * their task run leases this process the same instance and attempt, which theirs would pass for.
   */
  private void(leased: InstanceRow[]): void {
    for (const inst of leased) {
      this.voided.add(inst);
      for (const s of this.aborts.get(inst.runId) ?? []) if (s.instance === inst) s.abort(VOID);
    }
  }

  /** Returns false when the attempt had lost its lease (nothing recorded). */
  private async recordFailure(record: Parameters<typeof failInstance>[1], policy: TaskSpec['retry'], failure: Failure): Promise<boolean> {
    // Attempts lost with a dead worker or server do not use up the task's retries.
    const failed = (await failedAttempts(this.o.db.db, record.instance.id)) + 1;
    const retry = failure.retryable && failed < policy.attempts ? Date.now() + backoff(policy, failed) : null;
    const done = await failInstance(this.o.db.db, record, failure, retry);
    if (done) this.publish(done.events);
    if (done && retry !== null) {
      setTimeout(() => {
        this.markClaimable();
        this.wake();
      }, timerDelay(retry - Date.now() + 5)).unref();
    }
    return done !== null;
  }
}

/** A remote worker's report or upload that cannot be right whoever sends it. */
export class RemoteReportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RemoteReportError';
  }
}

function missingSecrets(missing: string[]): Failure {
  return { kind: 'missing-secret', message: `secret${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')} not set (tutti secret set NAME)`, retryable: false };
}

/** A step of a run and what to do once it is committed, given the events it wrote (none: it did not hold). */
interface Planned {
  step: Step<EventRow[]>;
  /** Called just before the step is handed to the store: work that may overlap its commit. */
  early?: () => void;
  after: (events: EventRow[]) => void;
}

/**
 * Commit steps in one batch, starting their early work first: an embedded database commits on
 * this thread, so work started after it was handed the batch would only start once it is durable.
 * Anything that early work reports is committed after this batch, which is queued before this returns.
 */
function commitSteps<T>(db: Database['db'], steps: Step<T>[], planned: (Planned | undefined)[]): Promise<T[]> {
  for (const p of planned) p?.early?.();
  // A batch that failed wrote nothing: its steps are lost, as when their guards did not hold (the
  // plans it carried are forgotten, not left marked as being committed).
  return runAll(db, steps).catch((e: unknown) => {
    for (const p of planned) p?.after([]);
    throw e;
  });
}

/** The outputs of a success that ends its task run, as the store will hold them once it is committed. */
function producedAssets(runId: string, { record, outputs }: Success): LoadedAsset[] {
  const now = Date.now();
  return outputs
    .map((o) => ({
      id: o.id, runId, taskId: record.taskId, instanceIdx: record.instance.idx, name: o.name, size: o.size, sha256: o.sha256, mediaType: o.mediaType,
      location: o.location, createdAt: now, inline: o.content !== undefined, content: o.content,
    }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Assets a plan would otherwise read from the store: a new run's inputs, outputs committed with the plan. */
interface Known {
  inputs?: LoadedAsset[];
  outputs?: Map<string, LoadedAsset[]>;
}

/** What cancelling a run, or stopping the server (reason SHUTDOWN), calls to stop a piece of its work. */
interface Stoppable {
  abort(reason?: unknown): void;
  /** The attempt it runs, if it is one (see Engine.void). */
  instance?: InstanceRow;
}

/** An outcome that is not to be committed: its attempt is handed back at shutdown, or void. */
class Unrecorded extends Error {
  constructor(why: string, options?: ErrorOptions) {
    super(`outcome not recorded: ${why}`, options);
    this.name = 'Unrecorded';
  }
}

/** A first attempt run ahead of its plan, right behind the instance whose outputs it reads (see Engine.aheadOf). */
interface Ahead {
  taskRunId: string;
  then: Then;
  result: Promise<InstanceResult>;
  /** The asset ids of the outputs it ran on (sorted, joined), once the instance before it has ended well. */
  inputs?: string;
  /** The next link of the chain, run ahead right after this one. */
  next?: Ahead;
}

interface TaskContext {
  run: RunRow;
  task: TaskSpec;
  /** With the bytes of the inline ones in hand (or written out: see inputsInHand). */
  inputs: LoadedAsset[];
  secrets: Map<string, string>;
  component: PreparedComponent;
}
