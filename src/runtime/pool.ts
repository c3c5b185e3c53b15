/**
 * A fixed set of worker threads that run instances. A timed-out instance is stopped by terminating
 * its worker (the only way to stop a wasm loop), and the worker is replaced; the process and the
 * other instances carry on.
 *
 * Short instances are handed to a worker a few at a time: a worker then goes from one to the next
 * without waiting for this thread, which may be busy committing outcomes. Each worker says through
 * shared memory which job it started and finished, and when, so every instance still gets its own
 * full timeout, measured from its own start.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Failure } from './failures.js';
import { timerDelay } from './limits.js';
import { MemoryCapError } from './memory-cap.js';
import type { CompiledModules, PreparedComponent } from './component.js';
import { CELL, type FromWorker, type InstanceJob, type InstanceResult, type ToWorker } from './protocol.js';

export type JobSpec = Omit<InstanceJob, 'jobId' | 'modulesKey' | 'moduleUrl' | 'contract'>;

interface Pending {
  job: InstanceJob;
  /** A job to run right after this one in the same worker, on its outputs (`fromPrevious`). */
  then?: Pending;
  modules: Record<string, WebAssembly.Module>;
  timeoutMs?: number;
  onProgress?: (fraction: number) => void;
  resolve: (r: InstanceResult) => void;
  /** When it became the first job of its worker (Date.now()). */
  headSince?: number;
}

interface Slot {
  worker: Worker;
  /** Keys of the module sets this worker already holds. */
  modules: Set<string>;
  /** Jobs handed to this worker, in the order it runs them; the first is running or about to. */
  jobs: Pending[];
  /** Written by the worker: CELL.started / CELL.finished job ids, CELL.startedAt (ms since `epoch`). */
  cells: Int32Array;
  timer?: NodeJS.Timeout;
}

const WORKER_URL = new URL('./worker.js', import.meta.url);
/**
 * Most expected work queued behind a running instance in one worker. Instances shorter than the
 * main thread's usual pauses gain from queueing; longer ones would only unbalance the workers.
 */
const MAX_BACKLOG_MS = 8;
const MAX_QUEUED = 8;

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  /** Recent run time per module set, to tell short instances from long ones. */
  private readonly runMs = new Map<string, number>();
  private readonly epoch = Date.now();
  private nextJob = 1;
  private closed = false;
  /** The job each follower (`then`) became, until it is answered: see drop. */
  private readonly followers = new WeakMap<Then, Pending>();

  constructor(readonly size: number = availableParallelism()) {
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  async run(
    component: PreparedComponent,
    spec: JobSpec,
    opts: { timeoutMs?: number; onProgress?: (f: number) => void; signal?: AbortSignal; then?: Then } = {},
  ): Promise<InstanceResult> {
    const chain: Then[] = [];
    for (let t = opts.then; t; t = t.then) chain.push(t);
    // Whatever happens to this job, the jobs that follow it get an answer.
    const alone = (r: InstanceResult) => {
      for (const t of chain) t.resolve(fail(cancelled));
      return r;
    };
    if (this.closed) return alone(fail({ kind: 'internal', message: 'worker pool is closed', retryable: true }));
    if (opts.signal?.aborted) return alone(fail(cancelled));
    let compiled;
    let followers: (CompiledModules | undefined)[];
    try {
      compiled = await component.compile(spec.limits.memoryBytes);
      followers = await Promise.all(chain.map((t) => t.component.compile(t.spec.limits.memoryBytes).catch(() => undefined)));
    } catch (e) {
      alone(fail(cancelled));
      if (e instanceof MemoryCapError) return fail({ kind: 'out-of-memory', message: e.message, retryable: false });
      throw e;
    }
    const job: InstanceJob = {
      ...spec,
      jobId: this.nextJob++,
      modulesKey: compiled.key,
      moduleUrl: component.moduleUrl,
      contract: component.info.contract,
    };
    return new Promise((resolve) => {
      const p: Pending = { job, modules: compiled.modules, resolve, timeoutMs: opts.timeoutMs, onProgress: opts.onProgress };
      // Each follower is numbered right after its predecessor: the worker checks that the job before it is that one.
      let last = p;
      for (const [i, t] of chain.entries()) {
        const c = followers[i];
        if (!c) {
          for (const rest of chain.slice(i)) rest.resolve(fail(cancelled));
          break;
        }
        const job: InstanceJob = { ...t.spec, jobId: this.nextJob++, modulesKey: c.key, moduleUrl: t.component.moduleUrl, contract: t.component.info.contract };
        const resolve = (r: InstanceResult) => {
          this.followers.delete(t);
          t.resolve(r);
        };
        last = last.then = { job, modules: c.modules, resolve, timeoutMs: t.timeoutMs };
        this.followers.set(t, last);
      }
      opts.signal?.addEventListener('abort', () => this.cancel(p), { once: true });
      this.queue.push(p);
      this.dispatch();
    });
  }

  /**
   * Stop a follower that is no longer wanted (its run ended) and those after it, as `cancel` does.
   * A no-op once it has been answered.
   */
  drop(then: Then): void {
    const p = this.followers.get(then);
    if (p) this.cancel(p);
  }

  /**
   * Stop one job: drop it if it waits here, tell its worker to skip it if it waits there, or stop
   * the worker (the only way to stop wasm) if it runs. The jobs that follow it are cancelled too.
   */
  private cancel(p: Pending): void {
    const i = this.queue.indexOf(p);
    if (i >= 0) {
      this.queue.splice(i, 1);
      for (let q: Pending | undefined = p; q; q = q.then) q.resolve(fail(cancelled));
      return;
    }
    // A follower still waiting here behind its first job: cut the chain there.
    for (const head of this.queue) {
      for (let q: Pending = head; q.then; q = q.then) {
        if (q.then !== p) continue;
        q.then = undefined;
        for (let r: Pending | undefined = p; r; r = r.then) r.resolve(fail(cancelled));
        return;
      }
    }
    const slot = this.slots.find((s) => s.jobs.includes(p));
    if (!slot) return;
    if (slot.jobs[0] === p) {
      this.replace(slot, cancelled);
      return;
    }
    // Skipped, it leaves the job that follows it nothing to run on: the worker cancels that one.
    slot.jobs.splice(slot.jobs.indexOf(p), 1);
    this.post(slot, { type: 'skip', jobId: p.job.jobId });
    p.resolve(fail(cancelled));
  }

  /**
   * Give every worker a component's compiled modules and bindings before its instances arrive, so
   * the first instance in each worker does not pay for them. Best effort: errors surface on `run`.
   */
  async preload(component: PreparedComponent, memoryBytes: number): Promise<void> {
    let compiled: CompiledModules;
    try {
      compiled = await component.compile(memoryBytes);
    } catch {
      return;
    }
    for (const slot of this.slots) {
      if (slot.modules.has(compiled.key)) continue;
      slot.modules.add(compiled.key);
      this.post(slot, { type: 'load', modules: { [compiled.key]: compiled.modules }, moduleUrl: component.moduleUrl });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) for (let q: Pending | undefined = p; q; q = q.then) q.resolve(fail({ kind: 'lost', message: 'worker pool closed', retryable: true }));
    await Promise.all(
      this.slots.map(async (s) => {
        clearTimeout(s.timer);
        for (const p of s.jobs.splice(0)) p.resolve(fail({ kind: 'lost', message: 'worker pool closed', retryable: true }));
        await s.worker.terminate();
      }),
    );
  }

  private spawn(): Slot {
    // JS heap limits keep a runaway host-side allocation inside the worker; wasm memory is capped separately.
    const worker = new Worker(WORKER_URL, { resourceLimits: { maxOldGenerationSizeMb: 512 }, stdout: false, stderr: false });
    const slot: Slot = { worker, modules: new Set(), jobs: [], cells: new Int32Array(new SharedArrayBuffer(4 * 3)) };
    worker.on('message', (msg: FromWorker) => {
      const head = slot.jobs[0];
      if (!head || msg.jobId !== head.job.jobId) return;
      if (msg.type === 'progress') {
        head.onProgress?.(msg.fraction);
        return;
      }
      const key = head.job.modulesKey;
      const prev = this.runMs.get(key);
      this.runMs.set(key, prev === undefined ? msg.ms : prev * 0.8 + msg.ms * 0.2);
      slot.jobs.shift();
      this.arm(slot);
      head.resolve({ ...msg.result, ms: msg.ms });
      this.dispatch();
    });
    worker.on('error', (err) => {
      const oom = (err as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
      this.replace(slot, {
        kind: oom ? 'out-of-memory' : 'internal',
        message: oom ? 'out of memory: the instance exhausted the worker heap' : `worker crashed: ${err.message}`,
        retryable: !oom,
      });
    });
    worker.on('exit', () => {
      if (!this.closed && this.slots.includes(slot)) this.replace(slot, { kind: 'internal', message: 'worker exited', retryable: true });
    });
    worker.unref();
    this.post(slot, { type: 'init', cells: slot.cells, epoch: this.epoch });
    return slot;
  }

  private post(slot: Slot, msg: ToWorker): void {
    slot.worker.postMessage(msg);
  }

  /**
   * Stop a worker: the job it was running gets `failure`, jobs it never started go back to the
   * queue, and a job it finished without its result reaching us is reported lost (retryable).
   */
  private replace(slot: Slot, failure: Failure): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    clearTimeout(slot.timer);
    this.slots.splice(i, 1);
    void slot.worker.terminate();
    const started = Atomics.load(slot.cells, CELL.started);
    const finished = Atomics.load(slot.cells, CELL.finished);
    const requeue: Pending[] = [];
    for (const [k, p] of slot.jobs.splice(0).entries()) {
      const id = p.job.jobId;
      if (id <= finished) p.resolve(fail({ kind: 'lost', message: 'the worker stopped before reporting', retryable: true }));
      // With nothing running, the head was about to start: blame it, or a job that kills its worker would go round forever.
      else if (id === started || k === 0) p.resolve(fail(failure));
      // It could only run right after the job before it, in this worker.
      else if (p.job.fromPrevious) p.resolve(fail(cancelled));
      else {
        // Its follower, here too, was just cancelled: run again, it goes alone.
        p.then = undefined;
        requeue.push(p);
      }
    }
    if (this.closed) {
      for (const p of requeue) p.resolve(fail({ kind: 'lost', message: 'worker pool closed', retryable: true }));
      return;
    }
    this.queue.unshift(...requeue);
    this.slots.push(this.spawn());
    this.dispatch();
  }

  /**
   * Time the job at the head of a worker from the moment the worker started it, or, until it says
   * it has, from the moment the job became the head: a worker that never gets to it still times out.
   */
  private arm(slot: Slot): void {
    clearTimeout(slot.timer);
    slot.timer = undefined;
    const head = slot.jobs[0];
    if (!head) {
      slot.worker.unref();
      return;
    }
    if (head.timeoutMs === undefined) return;
    const ms = head.timeoutMs;
    head.headSince ??= Date.now();
    const startedAt = () => (Atomics.load(slot.cells, CELL.started) === head.job.jobId ? this.epoch + Atomics.load(slot.cells, CELL.startedAt) : head.headSince!);
    slot.timer = setTimeout(
      () => {
        if (slot.jobs[0] !== head) return;
        // Finished, and its result is on the way: the next head is timed when it arrives.
        if (Atomics.load(slot.cells, CELL.finished) >= head.job.jobId) return;
        if (Date.now() >= startedAt() + ms) this.replace(slot, { kind: 'timed-out', message: `timed out after ${ms} ms`, retryable: true });
        else this.arm(slot);
      },
      timerDelay(startedAt() + ms - Date.now()),
    );
  }

  private dispatch(): void {
    if (!this.queue.length) return;
    // Idle workers first, then short backlogs.
    for (const slot of [...this.slots].sort((a, b) => a.jobs.length - b.jobs.length)) {
      const batch: Pending[] = [];
      let backlog = slot.jobs.reduce((ms, p) => ms + this.expectedMs(p), 0);
      while (this.queue.length && slot.jobs.length + batch.length < MAX_QUEUED) {
        const next = this.queue[0]!;
        const busy = slot.jobs.length + batch.length > 0;
        if (busy && backlog + this.expectedMs(next) > MAX_BACKLOG_MS) break;
        backlog += this.expectedMs(next);
        const p = this.queue.shift()!;
        for (let q: Pending | undefined = p; q; q = q.then) batch.push(q);
      }
      if (!batch.length) continue;
      const modules: Record<string, Record<string, WebAssembly.Module>> = {};
      for (const p of batch) {
        if (slot.modules.has(p.job.modulesKey)) continue;
        modules[p.job.modulesKey] = p.modules;
        slot.modules.add(p.job.modulesKey);
      }
      const wasIdle = slot.jobs.length === 0;
      slot.jobs.push(...batch);
      // A busy worker keeps the process alive; an idle one must not.
      slot.worker.ref();
      this.post(slot, { type: 'run', jobs: batch.map((p) => p.job), modules });
      if (wasIdle) this.arm(slot);
      if (!this.queue.length) return;
    }
  }

  private expectedMs(p: Pending): number {
    return this.runMs.get(p.job.modulesKey) ?? Infinity;
  }
}

/**
 * A job to run right after another in the same worker, on its outputs, without a trip through
 * this thread in between (see InstanceJob.fromPrevious). Its result goes to `resolve`; it is
 * cancelled if the first one fails or is stopped.
 */
export interface Then {
  component: PreparedComponent;
  spec: JobSpec & { fromPrevious: NonNullable<InstanceJob['fromPrevious']> };
  timeoutMs?: number;
  resolve: (r: InstanceResult) => void;
  /** The job after this one, on its outputs. */
  then?: Then;
}

const cancelled: Failure = { kind: 'cancelled', message: 'the run was cancelled', retryable: false };

function fail(failure: Failure): InstanceResult {
  return { ok: false, failure, log: '' };
}
