/**
 * A fixed set of worker threads that run instances. A timed-out instance is stopped by terminating
 * its worker (the only way to stop a wasm loop), and the worker is replaced; the process and the
 * other instances carry on.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Failure } from './failures.js';
import { MemoryCapError } from './memory-cap.js';
import type { PreparedComponent } from './component.js';
import type { FromWorker, InstanceJob, InstanceResult, ToWorker } from './protocol.js';

export type JobSpec = Omit<InstanceJob, 'jobId' | 'modulesKey' | 'moduleUrl' | 'contract'>;

interface Pending {
  job: InstanceJob;
  modules: Record<string, WebAssembly.Module>;
  timeoutMs?: number;
  onProgress?: (fraction: number) => void;
  resolve: (r: InstanceResult) => void;
}

interface Slot {
  worker: Worker;
  /** Keys of the module sets this worker already holds. */
  modules: Set<string>;
  current?: Pending;
  timer?: NodeJS.Timeout;
}

const WORKER_URL = new URL('./worker.js', import.meta.url);

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextJob = 1;
  private closed = false;

  constructor(readonly size: number = availableParallelism()) {
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  async run(
    component: PreparedComponent,
    spec: JobSpec,
    opts: { timeoutMs?: number; onProgress?: (f: number) => void; signal?: AbortSignal } = {},
  ): Promise<InstanceResult> {
    if (this.closed) return fail({ kind: 'internal', message: 'worker pool is closed', retryable: true });
    if (opts.signal?.aborted) return fail(cancelled);
    let compiled;
    try {
      compiled = await component.compile(spec.limits.memoryBytes);
    } catch (e) {
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
      opts.signal?.addEventListener('abort', () => this.cancel(p), { once: true });
      this.queue.push(p);
      this.dispatch();
    });
  }

  /** Stop one job: drop it if it waits, or stop its worker (the only way to stop wasm) if it runs. */
  private cancel(p: Pending): void {
    const i = this.queue.indexOf(p);
    if (i >= 0) {
      this.queue.splice(i, 1);
      p.resolve(fail(cancelled));
      return;
    }
    const slot = this.slots.find((s) => s.current === p);
    if (slot) this.replace(slot, cancelled);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.resolve(fail({ kind: 'lost', message: 'worker pool closed', retryable: true }));
    await Promise.all(
      this.slots.map(async (s) => {
        if (s.current) this.finish(s, fail({ kind: 'lost', message: 'worker pool closed', retryable: true }));
        await s.worker.terminate();
      }),
    );
  }

  private spawn(): Slot {
    // JS heap limits keep a runaway host-side allocation inside the worker; wasm memory is capped separately.
    const worker = new Worker(WORKER_URL, { resourceLimits: { maxOldGenerationSizeMb: 512 }, stdout: false, stderr: false });
    const slot: Slot = { worker, modules: new Set() };
    worker.on('message', (msg: FromWorker) => {
      if (!slot.current || msg.jobId !== slot.current.job.jobId) return;
      if (msg.type === 'progress') slot.current.onProgress?.(msg.fraction);
      else this.finish(slot, msg.result);
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
    return slot;
  }

  private replace(slot: Slot, failure: Failure): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    if (slot.current) this.finish(slot, fail(failure));
    this.slots.splice(i, 1);
    void slot.worker.terminate();
    if (!this.closed) {
      this.slots.push(this.spawn());
      this.dispatch();
    }
  }

  private finish(slot: Slot, result: InstanceResult): void {
    const p = slot.current;
    if (!p) return;
    clearTimeout(slot.timer);
    slot.current = undefined;
    slot.timer = undefined;
    slot.worker.unref();
    p.resolve(result);
    this.dispatch();
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.current) continue;
      const p = this.queue.shift();
      if (!p) return;
      slot.current = p;
      const msg: ToWorker = { type: 'run', job: p.job };
      if (!slot.modules.has(p.job.modulesKey)) {
        msg.coreModules = p.modules;
        slot.modules.add(p.job.modulesKey);
      }
      if (p.timeoutMs !== undefined) {
        const ms = p.timeoutMs;
        slot.timer = setTimeout(() => this.replace(slot, { kind: 'timed-out', message: `timed out after ${ms} ms`, retryable: true }), ms);
      }
      // A busy worker keeps the process alive; an idle one must not.
      slot.worker.ref();
      slot.worker.postMessage(msg);
    }
  }
}

const cancelled: Failure = { kind: 'cancelled', message: 'the run was cancelled', retryable: false };

function fail(failure: Failure): InstanceResult {
  return { ok: false, failure, log: '' };
}
