/**
 * The run state machine. Every decision is read from and written to the store, so any process can
 * pick a run up where another left it: tasks become ready when what they need has succeeded,
 * instances are claimed atomically, outcomes are committed once, runs finish when every task has.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import type { AssetStore } from '../assets/store.js';
import { newId } from '../ids.js';
import { DEFAULT_LIMITS } from '../runtime/limits.js';
import type { PreparedComponent } from '../runtime/component.js';
import type { JobSpec, WorkerPool } from '../runtime/pool.js';
import type { Partition } from '../runtime/protocol.js';
import type { Failure } from '../runtime/failures.js';
import type { Database } from '../store/db.js';
import type { EventRow } from '../store/events.js';
import { getFlowRevision } from '../store/flows.js';
import { readSecrets } from '../store/secrets.js';
import { claimInstances, completeInstances, failInstance, releaseLeases, setProgress, type AttemptRecord, type InstanceRow, type Success } from '../store/instances.js';
import { cancelRun } from '../store/run-control.js';
import {
  activeRunIds, assetsByIds, failTaskRunPlanning, finishRun, getRun, getTaskRun, oldestRunningRun, planTaskRun, queuedRunIds, runInputAssets,
  skipTaskRun, startRun, taskOutputAssets, taskRunStates, type AssetRow, type NewAsset, type RunRow,
} from '../store/runs.js';
import type { ComponentRegistry } from './components.js';
import { splitByManifest } from './split.js';
import { capPartitions, singlePartition, validatePartitions, type Plan } from './plan.js';
import type { FlowSpec, TaskSpec } from './spec.js';

export interface EngineOptions {
  db: Database;
  assets: AssetStore;
  registry: ComponentRegistry;
  pool: WorkerPool;
  /** Bounds for tasks that set none (DEFAULT_LIMITS otherwise). */
  defaults?: Partial<typeof DEFAULT_LIMITS>;
}

const TERMINAL_TASK = new Set(['succeeded', 'failed', 'skipped', 'cancelled']);
const RUN_ENDED = new Set(['run-succeeded', 'run-failed', 'run-cancelled']);
const SAFETY_POLL_MS = 2000;
/** Group commit bounds: most outcomes per transaction, and longest wait for more to join. */
const MAX_GROUP = 512;
const GROUP_WAIT_MS = 10;

export class Engine {
  /** This process's identity on leases and attempts. */
  readonly owner = `w-${process.pid}-${randomBytes(3).toString('hex')}`;
  private readonly listeners = new Set<(e: EventRow) => void>();
  private readonly dirty = new Set<string>();
  private readonly specs = new Map<string, Promise<FlowSpec>>();
  /** Instances claimed and not yet recorded (for stop), and those of them not yet back from a worker. */
  private inflight = 0;
  private inPool = 0;
  private readonly contexts = new Map<string, Promise<TaskContext>>();
  private readonly pending: { success: Success; produced: string[]; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private flushing?: Promise<void>;
  private ticking = false;
  private again = false;
  /**
   * Whether a claim may find something. Cleared when a claim comes back short; set by anything that
   * can make instances runnable: planning here, a retry coming due, a notify, the safety poll (for
   * instances other processes planned). Saves an empty claim statement on every tick.
   */
  private claimable = true;
  private running = false;
  private timer?: NodeJS.Timeout;
  private readonly idle = new Set<() => void>();
  /** Components (digest:memory cap) already handed to the workers. */
  private readonly warmed = new Set<string>();
  /** Running instances by run, to stop them when their run is cancelled. */
  private readonly aborts = new Map<string, Set<AbortController>>();

  private readonly defaults: typeof DEFAULT_LIMITS;

  constructor(private readonly o: EngineOptions) {
    this.defaults = { ...DEFAULT_LIMITS, ...o.defaults };
  }

  async start(): Promise<void> {
    // An embedded file has one writer, this process: anything marked running belongs to a dead predecessor.
    await releaseLeases(this.o.db.db, { all: this.o.db.embedded });
    for (const id of await activeRunIds(this.o.db.db)) this.dirty.add(id);
    this.running = true;
    // Referenced on purpose: a started engine keeps the process alive (a retry may be waiting on a timer).
    this.timer = setInterval(() => {
      this.claimable = true;
      this.wake();
    }, SAFETY_POLL_MS);
    this.wake();
  }

  /** Stop claiming; resolve when running instances have been recorded. */
  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.timer);
    while (this.inflight > 0 || this.ticking) await new Promise<void>((r) => this.idle.add(r));
  }

  onEvent(fn: (e: EventRow) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** A run was created or changed by someone else: look at it now. */
  notify(runId: string): void {
    this.dirty.add(runId);
    this.claimable = true;
    this.wake();
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
        for (const runId of runs) await this.advance(runId);
        if (this.running) await this.claim();
      } while (this.again);
    } catch (e) {
      console.error('tutti: scheduler tick failed, retrying:', e);
      setTimeout(() => this.wake(), 500).unref();
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

  private publish(events: EventRow[]): void {
    for (const e of events) {
      for (const fn of this.listeners) fn(e);
      if (e.type === 'task-succeeded' || e.type === 'task-failed' || e.type === 'task-skipped') {
        this.dirty.add(e.runId);
        this.contexts.delete(`${e.runId}.${e.taskId}`);
      }
      if (e.type === 'run-cancelled') for (const c of this.aborts.get(e.runId) ?? []) c.abort();
      if (RUN_ENDED.has(e.type)) void this.wakeQueued(e.runId);
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
      const run = await getRun(this.o.db.db, runId);
      if (!run) return;
      for (const id of await queuedRunIds(this.o.db.db, run.flowId, 16)) this.dirty.add(id);
      this.wake();
    } catch (e) {
      console.error('tutti: cannot look at queued runs:', e);
    }
  }

  private spec(flowId: string, revision: number): Promise<FlowSpec> {
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

  /** Move one run forward: start it, plan ready tasks, skip doomed ones, finish it when all are done. */
  private async advance(runId: string): Promise<void> {
    const db = this.o.db.db;
    const run = await getRun(db, runId);
    if (!run || !['queued', 'running'].includes(run.state)) return;
    const spec = await this.spec(run.flowId, run.revision);
    if (run.state === 'queued' && !(await this.startQueued(run, spec))) return;
    this.warm(spec);
    const trs = new Map((await taskRunStates(db, runId)).map((t) => [t.taskId, t]));
    for (const task of spec.tasks) {
      const tr = trs.get(task.id);
      if (!tr || tr.state !== 'pending') continue;
      const deps = task.needs.map((n) => trs.get(n)!);
      const blocked = deps.find((d) => ['failed', 'skipped', 'cancelled'].includes(d.state));
      if (blocked) {
        this.publish(await skipTaskRun(db, runId, tr.id, task.id, `upstream task "${blocked.taskId}" ${blocked.state}`));
        tr.state = 'skipped';
      } else if (deps.every((d) => d.state === 'succeeded')) {
        const planned = await this.plan(run, task, tr.id);
        if (planned) tr.state = planned;
        else trs.set(task.id, (await getTaskRun(db, tr.id)) ?? tr);
      }
    }
    const all = [...trs.values()];
    if (all.every((t) => TERMINAL_TASK.has(t.state))) {
      const failed = spec.tasks.map((t) => trs.get(t.id)!).find((t) => t.state === 'failed');
      const skipped = all.some((t) => t.state === 'skipped');
      this.publish(await finishRun(db, runId, failed || skipped ? 'failed' : 'succeeded', failed ? `task "${failed.taskId}" failed: ${failed.error}` : null));
    }
  }

  /**
   * Compile every component a running flow uses and hand it to the workers now, while upstream
   * tasks run, so a downstream task does not start by compiling (a JS component takes ~150 ms)
   * and no worker's first instance waits for modules and bindings.
   */
  private warm(spec: FlowSpec): void {
    for (const task of spec.tasks) {
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
    if (events.length) this.claimable = true;
    this.publish(events);
  }

  /** Plan a ready task run; returns its new state when this call planned it (undefined: look it up). */
  private async plan(run: RunRow, task: TaskSpec, taskRunId: string): Promise<'running' | 'succeeded' | 'failed' | undefined> {
    const db = this.o.db.db;
    const given = task.inputs.length ? await runInputAssets(db, run.id) : [];
    const upstream = task.needs.length ? await taskOutputAssets(db, run.id, task.needs) : [];
    const inputs = [...task.inputs.flatMap((n) => given.filter((a) => a.name === n)), ...upstream];
    const component = await this.o.registry.get(task.digest);
    let plan: Plan = singlePartition(inputs);
    if (!component.info.hasPlan && component.info.manifest) {
      plan = splitByManifest(inputs.map((a) => ({ size: a.size, path: this.o.assets.localPath(a.location) })), component.info.manifest);
    } else if (component.info.hasPlan) {
      const result = await this.o.pool.run(component, this.jobSpec(run, task, inputs, 'plan', { index: 0, count: 0, slices: [] }, new Map(), 'plan.a0', '.plan-'), {
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
      if (problem) {
        const events = await failTaskRunPlanning(db, run.id, taskRunId, task.id, `plan failed: ${problem}`);
        this.publish(events);
        return events.length ? 'failed' : undefined;
      }
    }
    plan = capPartitions(plan, task.maxInstances);
    await this.o.assets.prepareDir(taskDir(run.id, task.id));
    const events = await planTaskRun(db, { runId: run.id, taskRunId, taskId: task.id, inputs: inputs.map((a) => a.id), ...plan, concurrency: task.concurrency });
    this.claimable = true;
    if (!events.length) return undefined;
    // Its instances need exactly what planning just read: no second look at the store for them.
    if (!this.contexts.has(taskRunId)) {
      const ctx = readSecrets(db, Object.values(task.secrets)).then((secrets) => ({ run, task, inputs, secrets, component }));
      this.contexts.set(taskRunId, ctx);
      ctx.catch(() => this.contexts.delete(taskRunId));
    }
    this.publish(events);
    return plan.partitions.length ? 'running' : 'succeeded';
  }

  /**
   * What a worker needs to run one call of a task's component. `attemptName` is unique per attempt;
   * outputs are written at `<task dir>/<outputStem><name>`.
   */
  private jobSpec(
    run: RunRow, task: TaskSpec, inputs: AssetRow[], call: 'run' | 'plan', partition: Partition, secrets: Map<string, string>, attemptName: string, outputStem: string,
  ): JobSpec {
    const params = { ...stringParams(run.params, task), ...Object.fromEntries(Object.entries(task.params).map(([k, v]) => [k, String(v)])) };
    return {
      call,
      partition,
      inputs: inputs.map((a) => ({
        name: a.taskId ? `${a.taskId}/${a.instanceIdx}/${a.name}` : a.name,
        size: a.size,
        mediaType: a.mediaType,
        path: this.o.assets.localPath(a.location),
      })),
      params: Object.entries(params).map(([name, value]) => ({ name, value })),
      env: [
        ...Object.entries(task.env),
        ...Object.entries(task.secrets).map(([env, name]) => [env, secrets.get(name)!] as [string, string]),
        ['TUTTI_RUN_ID', run.id],
        ['TUTTI_TASK', task.id],
        ...(run.logicalTime != null ? [['TUTTI_LOGICAL_TIME', new Date(run.logicalTime).toISOString()] as [string, string]] : []),
        ['TUTTI_PARTITION_INDEX', String(partition.index)],
        ['TUTTI_PARTITION_COUNT', String(partition.count)],
        ...Object.entries(params).map(([k, v]) => [`TUTTI_PARAM_${k.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`, v] as [string, string]),
      ],
      args: [task.id, ...Object.entries(params).map(([k, v]) => `--${k}=${v}`)],
      outputDir: this.o.assets.localPath(taskDir(run.id, task.id)),
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
    if (this.inPool >= this.o.pool.size * 8 || !this.claimable) return;
    const want = Math.min(512, this.o.pool.size * 32) - this.inPool;
    const leaseMs = this.defaults.timeoutMs + 60_000;
    // Cleared before the claim, so instances planned while it runs set it again and are not missed.
    this.claimable = false;
    let claimed: InstanceRow[];
    try {
      claimed = await claimInstances(this.o.db.db, this.owner, want, leaseMs);
    } catch (e) {
      this.claimable = true; // the retried tick must claim again
      throw e;
    }
    // A full batch may have left more behind.
    if (claimed.length === want) this.claimable = true;
    for (const inst of claimed) {
      this.inflight++;
      this.inPool++;
      void this.execute(inst).finally(() => {
        this.inflight--;
        this.settle();
        this.wake();
      });
    }
  }

  /** What every instance of a task run shares, loaded once (inputs never change once planned). */
  private context(taskRunId: string): Promise<TaskContext> {
    let p = this.contexts.get(taskRunId);
    if (!p) {
      p = (async () => {
        const db = this.o.db.db;
        const tr = (await getTaskRun(db, taskRunId))!;
        const run = (await getRun(db, tr.runId))!;
        const task = (await this.spec(run.flowId, run.revision)).tasks.find((t) => t.id === tr.taskId)!;
        const secrets = await readSecrets(db, Object.values(task.secrets));
        const inputs = await assetsByIds(db, tr.inputs ?? []);
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
    } finally {
      leavePool();
    }
  }

  private async runInstance(inst: InstanceRow, leavePool: () => void): Promise<void> {
    const db = this.o.db.db;
    const startedAt = Date.now();
    const ctx = await this.context(inst.taskRunId);
    const { run, task, secrets } = ctx;
    const record: AttemptRecord = { instance: inst, taskId: task.id, worker: this.owner, startedAt, log: '' };
    try {
      const missing = Object.values(task.secrets).filter((n) => !secrets.has(n));
      if (missing.length) {
        leavePool();
        await this.recordFailure(record, task, {
          kind: 'missing-secret',
          message: `secret${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')} not set (tutti secret set NAME)`,
          retryable: false,
        });
        return;
      }
      const partition = inst.partition as Partition;
      const stem = outputStem(inst.idx, inst.attempt);
      const spec = this.jobSpec(run, task, ctx.inputs, 'run', partition, secrets, `${inst.idx}-.a${inst.attempt}`, stem);
      spec.env.push(['TUTTI_ATTEMPT', String(inst.attempt)]);
      let result;
      const abort = new AbortController();
      const aborts = this.aborts.get(inst.runId) ?? new Set();
      this.aborts.set(inst.runId, aborts.add(abort));
      try {
        result = await this.o.pool.run(ctx.component, spec, {
          timeoutMs: task.timeout ?? this.defaults.timeoutMs,
          onProgress: (f) => void setProgress(db, inst.id, inst.attempt, f).catch(() => {}),
          signal: abort.signal,
        });
      } finally {
        aborts.delete(abort);
        if (!aborts.size) this.aborts.delete(inst.runId);
        leavePool();
        // A task run at its concurrency cap has room again.
        if (task.concurrency !== undefined) this.claimable = true;
        // A worker is free: top up the queue while this outcome is being committed.
        this.wake();
      }
      // Claimed in batches, an instance may wait in a worker's queue: its attempt starts when it ran.
      if (result.ms !== undefined) record.startedAt = Math.max(record.startedAt, Date.now() - Math.ceil(result.ms));
      record.log = redact(result.log, task, secrets);
      if (result.ok) {
        const outputs: NewAsset[] = result.outputs.map((o) => ({
          id: newId('a'),
          name: o.name,
          location: `${taskDir(run.id, task.id)}/${stem}${o.name}`,
          size: o.size,
          sha256: o.sha256,
          mediaType: 'application/octet-stream',
        }));
        await this.commit({ record, outputs }, result.outputs.map((o) => o.path));
      } else {
        await this.recordFailure(record, task, { ...result.failure, message: redact(result.failure.message, task, secrets) });
      }
    } catch (e) {
      await this.recordFailure(record, task, { kind: 'internal', message: (e as Error).message ?? String(e), retryable: true });
    }
  }

  /**
   * Successes are committed in groups: whatever finished while the previous group was being
   * written goes into the next transaction. Resolves once this one is durable (or lost its lease).
   */
  private commit(success: Success, produced: string[]): Promise<void> {
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
        const { events, won } = await completeInstances(this.o.db.db, group.map((g) => g.success));
        const counted = new Set(won);
        // A result that lost its lease is dropped, and so are its files (no other attempt writes to them).
        for (const g of group) if (!counted.has(g.success)) for (const f of g.produced) await rm(f, { force: true });
        this.publish(events);
        for (const g of group) g.resolve();
      } catch (e) {
        for (const g of group) g.reject(e);
      }
    }
    this.flushing = undefined;
  }

  private async recordFailure(record: Parameters<typeof failInstance>[1], task: TaskSpec, failure: Failure): Promise<void> {
    const attempt = record.instance.attempt;
    const retry = failure.retryable && attempt < task.retry.attempts ? Date.now() + backoff(task, attempt) : null;
    const done = await failInstance(this.o.db.db, record, failure, retry);
    if (done) this.publish(done.events);
    if (retry !== null) {
      setTimeout(() => {
        this.claimable = true;
        this.wake();
      }, retry - Date.now() + 5).unref();
    }
  }
}

interface TaskContext {
  run: RunRow;
  task: TaskSpec;
  inputs: AssetRow[];
  secrets: Map<string, string>;
  component: PreparedComponent;
}

/**
 * Where an attempt's outputs go in its task directory: `<idx>-<name>` for a first attempt (the usual
 * case), `<idx>.<attempt>-<name>` for later ones. Every attempt writes its own files, straight
 * into place: nothing is renamed at commit, and an attempt that loses its lease cannot touch the
 * files of the one that won. Indices are digits, so the `<idx>-` and `<idx>.` prefixes never collide.
 */
function outputStem(idx: number, attempt: number): string {
  return attempt <= 1 ? `${idx}-` : `${idx}.${attempt}-`;
}

/** Where a task run's outputs live in the asset store. */
function taskDir(runId: string, taskId: string): string {
  return `runs/${runId}/${taskId}`;
}

/** Delay before attempt `attempt + 1`. */
export function backoff(task: TaskSpec, attempt: number): number {
  const { delay, backoff: kind, maxDelay } = task.retry;
  return Math.min(maxDelay, kind === 'fixed' ? delay : delay * 2 ** (attempt - 1));
}

/** Secret values never reach the store: a task that prints one gets a placeholder in its log. */
function redact(text: string, task: TaskSpec, secrets: Map<string, string>): string {
  let out = text;
  for (const name of Object.values(task.secrets)) {
    const value = secrets.get(name);
    if (value) out = out.split(value).join(`[secret ${name}]`);
  }
  return out;
}

/** Run parameters a task may see: values of the non-asset flow inputs it lists. */
function stringParams(params: Record<string, unknown>, task: TaskSpec): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of task.inputs) if (name in params) out[name] = String(params[name]);
  return out;
}
