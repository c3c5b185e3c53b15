/**
 * A worker in its own process, on any machine that reaches the server over HTTP: it leases attempts
 * with a long poll, fetches components by digest and inputs by asset id into a local cache, runs
 * attempts in the same sandboxed worker-thread pool as `tutti serve`, streams outputs back and keeps
 * its leases alive. The server decides everything else (retries, which result counts).
 */
import { z } from '@hono/zod-openapi';
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { ComponentCache, sha256, type PreparedComponent } from '../component.js';
import { WorkerPool, type JobSpec } from '../pool.js';
import { InputCache } from './input-cache.js';
import { clampMs, LEASE_LOST, LEASE_SECRET_HEADER, RemoteJobSchema, type RemoteJob } from './protocol.js';

export interface RemoteWorkerOptions {
  /** Base URL of a Tutti server, e.g. http://10.0.0.5:8080 */
  server: string;
  token?: string;
  /** Attempts run at once (worker threads). */
  concurrency: number;
  /** Components, inputs and attempt directories. */
  cacheDir: string;
  /** Bytes of inputs kept between attempts (inputs in use are never evicted). */
  inputCacheBytes: number;
  log: (msg: string) => void;
}

interface Held {
  job: RemoteJob;
  abort: AbortController;
  progress?: number;
  sentProgress?: number;
}

/** The server answered a report with 409: the attempt is someone else's now. */
class LeaseLostError extends Error {}

const LONG_POLL_MS = 25_000;

export class RemoteWorker {
  readonly id = `r-${hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 40)}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private readonly pool: WorkerPool;
  private readonly components: ComponentCache;
  private readonly prepared = new Map<string, Promise<PreparedComponent>>();
  private readonly inputs: InputCache;
  private readonly held = new Map<string, Held>();
  private readonly base: string;
  private leaseMs = 30_000;
  private stopping = false;
  private polling?: AbortController;
  private slotFree?: () => void;
  private heartbeat?: NodeJS.Timeout;
  /** Attempts finished here, by outcome (for the log line at exit and for tests). */
  readonly counts = { succeeded: 0, failed: 0, lost: 0 };

  constructor(private readonly o: RemoteWorkerOptions) {
    this.base = `${o.server.replace(/\/+$/, '')}/api/v1`;
    this.pool = new WorkerPool(o.concurrency);
    this.components = new ComponentCache(path.join(o.cacheDir, 'components'));
    this.inputs = new InputCache(path.join(o.cacheDir, 'inputs'), o.inputCacheBytes, (id) => this.fetch(`/assets/${id}/content`));
  }

  /** Lease and run attempts until `stop()`; resolves once every attempt has been reported or handed back. */
  async run(): Promise<void> {
    await mkdir(path.join(this.o.cacheDir, 'attempts'), { recursive: true });
    this.armHeartbeat();
    let failures = 0;
    while (!this.stopping) {
      if (this.held.size >= this.o.concurrency) {
        await new Promise<void>((r) => (this.slotFree = r));
        continue;
      }
      this.polling = new AbortController();
      try {
        const res = await this.json('/workers/lease', { worker: this.id, max: this.o.concurrency - this.held.size, waitMs: LONG_POLL_MS }, this.polling.signal);
        const { leaseMs, jobs, unreadable } = parseLease(res);
        failures = 0;
        if (leaseMs !== undefined && leaseMs !== this.leaseMs) {
          this.leaseMs = leaseMs;
          this.armHeartbeat();
        }
        for (const job of jobs) this.start(job);
        if (unreadable.length) {
          this.o.log(`cannot read ${unreadable.length} leased attempt(s), handing back those it can name: ${unreadable.map((u) => u.problem).join('; ')}`);
          const leases = unreadable.flatMap((u) => (u.lease ? [u.lease] : []));
          if (leases.length) await this.json('/workers/release', { worker: this.id, leases }).catch(() => {});
        }
      } catch (e) {
        if (this.stopping) break;
        failures++;
        const wait = Math.min(10_000, 250 * 2 ** Math.min(failures, 6));
        this.o.log(`cannot lease from ${this.o.server}: ${(e as Error).message}; trying again in ${wait} ms`);
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  /**
   * Stop leasing; let running attempts finish for up to `graceMs`, then stop the rest and hand them
   * back to the server so that another worker runs them now rather than when their lease expires.
   */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    this.polling?.abort();
    this.slotFree?.();
    const deadline = Date.now() + graceMs;
    while (this.held.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const unfinished = [...this.held.values()];
    for (const h of unfinished) h.abort.abort('shutdown');
    if (unfinished.length) {
      await this.json('/workers/release', { worker: this.id, leases: unfinished.map((h) => lease(h.job)) }).catch((e) =>
        this.o.log(`could not hand ${unfinished.length} attempt(s) back (their leases will expire instead): ${(e as Error).message}`),
      );
    }
    while (this.held.size) await new Promise((r) => setTimeout(r, 20));
    clearInterval(this.heartbeat);
    await this.pool.close();
  }

  private start(job: RemoteJob): void {
    const key = `${job.instanceId}:${job.attempt}`;
    const h: Held = { job, abort: new AbortController() };
    this.held.set(key, h);
    void this.execute(h)
      .catch((e) => this.o.log(`attempt ${job.taskId}[${job.idx}] #${job.attempt}: ${(e as Error).message}`))
      .finally(() => {
        this.held.delete(key);
        this.slotFree?.();
        this.slotFree = undefined;
      });
  }

  private async execute(h: Held): Promise<void> {
    const { job } = h;
    const started = performance.now();
    const dir = await mkdtemp(path.join(this.o.cacheDir, 'attempts', `${job.instanceId}.${job.attempt}-`));
    const release = this.inputs.hold(job.inputs.map((i) => i.sha256));
    try {
      let component: PreparedComponent;
      let paths: string[];
      try {
        // The server may be restarting: keep trying for as long as the lease could still be ours.
        const until = Date.now() + this.leaseMs * 2;
        component = await retrying(() => this.component(job.component), until, h.abort.signal);
        paths = await retrying(() => Promise.all(job.inputs.map((i) => this.inputs.get(i.assetId, i.sha256, i.size))), until, h.abort.signal);
      } catch (e) {
        if (h.abort.signal.aborted) return;
        // Not the task's failure: hand the attempt back (or let its lease expire) so that it runs elsewhere.
        this.counts.lost++;
        this.o.log(`attempt ${job.taskId}[${job.idx}] #${job.attempt} handed back: cannot fetch what it needs: ${(e as Error).message}`);
        await this.json('/workers/release', { worker: this.id, leases: [lease(job)] }).catch(() => {});
        return;
      }
      const spec: JobSpec = {
        call: 'run',
        partition: job.partition,
        inputs: job.inputs.map((i, k) => ({ name: i.name, size: i.size, mediaType: i.mediaType, path: paths[k]! })),
        params: job.params,
        env: job.env,
        args: job.args,
        outputDir: dir,
        outputStem: '',
        scratchDir: job.scratch ? `${dir}.scratch` : undefined,
        allowedHosts: job.allowedHosts,
        limits: job.limits,
      };
      const result = await this.pool.run(component, spec, { timeoutMs: job.timeoutMs, signal: h.abort.signal, onProgress: (f) => (h.progress = f) });
      // Lost (the server says so) or stopped at shutdown (handed back): there is nothing to report.
      if (h.abort.signal.aborted) return;
      const ms = result.ms ?? performance.now() - started;
      if (!result.ok) return await this.report(h, 'fail', { failure: result.failure, log: result.log, ms });
      for (const out of result.outputs) {
        const url = `/workers/attempts/${job.instanceId}/${job.attempt}/outputs/${encodeURIComponent(out.name)}?worker=${this.id}`;
        const body = out.bytes ?? (Readable.toWeb(createReadStream(out.path)) as ReadableStream);
        const headers = { 'content-type': 'application/octet-stream', 'x-tutti-sha256': out.sha256, [LEASE_SECRET_HEADER]: job.leaseSecret };
        await this.send(url, () => ({ method: 'PUT', body, headers, duplex: 'half' }), h);
      }
      await this.report(h, 'complete', { outputs: result.outputs.map(({ name, size, sha256 }) => ({ name, size, sha256 })), log: result.log, ms });
    } catch (e) {
      if (!(e instanceof LeaseLostError)) throw e;
      this.counts.lost++;
      this.o.log(`attempt ${job.taskId}[${job.idx}] #${job.attempt} dropped: ${e.message}`);
    } finally {
      release();
      await rm(dir, { recursive: true, force: true });
    }
  }

  private async report(h: Held, outcome: 'complete' | 'fail', body: Record<string, unknown>): Promise<void> {
    const json = JSON.stringify({ worker: this.id, attempt: h.job.attempt, leaseSecret: h.job.leaseSecret, ...body });
    await this.send(`/workers/attempts/${h.job.instanceId}/${outcome}`, () => ({ method: 'POST', body: json, headers: { 'content-type': 'application/json' } }), h);
    this.counts[outcome === 'complete' ? 'succeeded' : 'failed']++;
  }

  /**
   * A request about a held attempt, tried again while the server is unreachable (it may be
   * restarting) for as long as the lease could still be valid; a 409 means the lease is gone.
   */
  private async send(url: string, request: () => RequestInit & { duplex?: 'half' }, h: Held): Promise<void> {
    const giveUp = Date.now() + this.leaseMs * 2;
    for (let i = 0; ; i++) {
      const init = request(); // a fresh body each time: a stream cannot be sent twice
      let res: Response;
      try {
        res = await this.fetch(url, init);
      } catch (e) {
        if (Date.now() > giveUp || h.abort.signal.aborted) throw e;
        await new Promise((r) => setTimeout(r, Math.min(5000, 200 * 2 ** i)));
        continue;
      }
      if (res.ok) return;
      const problem = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
      if (res.status === 409 && problem.error?.code === LEASE_LOST) throw new LeaseLostError(problem.error.message ?? 'lease lost');
      if (res.status >= 500 && Date.now() < giveUp) {
        await new Promise((r) => setTimeout(r, Math.min(5000, 200 * 2 ** i)));
        continue;
      }
      throw new Error(`${init.method} ${url}: HTTP ${res.status}: ${problem.error?.message ?? res.statusText}`);
    }
  }

  private armHeartbeat(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => void this.beat(), Math.max(250, Math.floor(this.leaseMs / 3)));
  }

  private async beat(): Promise<void> {
    if (!this.held.size) return;
    const leases = [...this.held.values()].map((h) => ({
      ...lease(h.job),
      ...(h.progress !== undefined && h.progress !== h.sentProgress ? { progress: (h.sentProgress = h.progress) } : {}),
    }));
    try {
      const { lost } = (await this.json('/workers/heartbeat', { worker: this.id, leases })) as { lost: { instanceId: string; attempt: number }[] };
      for (const l of lost) {
        const h = this.held.get(`${l.instanceId}:${l.attempt}`);
        if (!h) continue;
        this.counts.lost++;
        this.o.log(`attempt ${h.job.taskId}[${h.job.idx}] #${h.job.attempt} lost its lease: stopping it`);
        h.abort.abort('lost');
      }
    } catch (e) {
      this.o.log(`heartbeat failed (leases expire ${Math.round(this.leaseMs / 1000)} s after the last one that got through): ${(e as Error).message}`);
    }
  }

  /** A component by digest: from the local cache, else downloaded and checked against its digest. */
  private component(digest: string): Promise<PreparedComponent> {
    let p = this.prepared.get(digest);
    if (!p) {
      p = (async () => {
        const file = path.join(this.o.cacheDir, 'wasm', `${digest}.wasm`);
        let bytes: Uint8Array | undefined = await readFile(file).catch(() => undefined);
        if (!bytes || sha256(bytes) !== digest) {
          const res = await this.fetch(`/components/${digest}/wasm`);
          if (!res.ok) throw new Error(`component ${digest}: HTTP ${res.status}`);
          bytes = new Uint8Array(await res.arrayBuffer());
          if (sha256(bytes) !== digest) throw new Error(`component ${digest}: the bytes received do not match the digest`);
          await mkdir(path.dirname(file), { recursive: true });
          await writeAtomic(file, bytes);
        }
        return this.components.prepare(bytes);
      })();
      this.prepared.set(digest, p);
      p.catch(() => this.prepared.delete(digest));
    }
    return p;
  }

  private fetch(url: string, init: RequestInit & { duplex?: 'half' } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.o.token) headers.set('authorization', `Bearer ${this.o.token}`);
    return fetch(`${this.base}${url}`, { ...init, headers });
  }

  private async json(url: string, body: unknown, signal?: AbortSignal): Promise<unknown> {
    const res = await this.fetch(url, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' }, signal });
    const data = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
    if (!res.ok) throw new Error(`HTTP ${res.status}: ${data.error?.message ?? res.statusText}`);
    return data;
  }
}

/** How a worker names an attempt it holds to the server: with the lease's secret, or the server will not listen. */
const lease = (job: RemoteJob) => ({ instanceId: job.instanceId, attempt: job.attempt, leaseSecret: job.leaseSecret });

const Leased = z.object({ instanceId: z.string(), attempt: z.number().int().min(1), leaseSecret: z.string() });

/**
 * A lease answer, read job by job: one job this worker cannot read (a newer server, a value out of
 * range) is handed back instead of making the whole answer, and so every attempt in it, unreadable
 * until the leases expire. Durations are clamped to what a timer can hold: past 2^31-1 ms, Node
 * fires a timer at once, so an attempt would time out as it started and a heartbeat would spin.
 */
export function parseLease(res: unknown): { leaseMs?: number; jobs: RemoteJob[]; unreadable: { lease?: z.infer<typeof Leased>; problem: string }[] } {
  const body = z.object({ leaseMs: z.number().positive().optional(), jobs: z.array(z.unknown()) }).parse(res);
  const jobs: RemoteJob[] = [];
  const unreadable: { lease?: z.infer<typeof Leased>; problem: string }[] = [];
  for (const raw of body.jobs) {
    const job = RemoteJobSchema.safeParse(raw);
    if (job.success) {
      jobs.push({ ...job.data, timeoutMs: clampMs(job.data.timeoutMs) });
      continue;
    }
    const held = Leased.safeParse(raw);
    const problem = z.prettifyError(job.error).replaceAll('\n', ' ');
    // Without its name and secret, an attempt cannot be handed back: its lease expires instead.
    unreadable.push(held.success ? { lease: held.data, problem: `${held.data.instanceId} #${held.data.attempt}: ${problem}` } : { problem });
  }
  return { leaseMs: body.leaseMs === undefined ? undefined : clampMs(body.leaseMs), jobs, unreadable };
}

/** `fn` again with a growing pause while it fails, until `until` (ms since epoch) or `signal`. */
async function retrying<T>(fn: () => Promise<T>, until: number, signal: AbortSignal): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > until || signal.aborted) throw e;
      await new Promise((r) => setTimeout(r, Math.min(5000, 200 * 2 ** i)));
    }
  }
}

async function writeAtomic(file: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${file}.tmp-${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, bytes);
  await rename(tmp, file);
}
