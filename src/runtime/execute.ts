/**
 * Run one call (`run` or `plan`) of one fresh component instance. Used inside worker threads;
 * everything the guest can reach is built here, per instance, and nothing is shared between two.
 */
import { publicMessage } from './hostless.js';
import { rmSync } from 'node:fs';
import { ExitSignal, InstanceAbort, type Failure } from './failures.js';
import type { InstanceJob, InstanceResult, Partition } from './protocol.js';
import { lateImports, preparable, type Prepared, type Slot } from './prepared-instance.js';
import { CappedLog, InputReader, Outputs } from './sinks.js';
import { wasiImports } from './wasi/imports.js';
import { emptySource } from './wasi/streams.js';

type InstantiateCore = (module: WebAssembly.Module, imports: Record<string, Record<string, unknown>>) => Promise<WebAssembly.Instance>;
type Instantiate = (
  getCoreModule: (name: string) => WebAssembly.Module,
  imports: Record<string, object>,
  instantiateCore: InstantiateCore,
) => Promise<Record<string, unknown>>;

const bindings = new Map<string, Promise<Instantiate>>();

export function loadBindings(url: string): Promise<Instantiate> {
  let p = bindings.get(url);
  if (!p) {
    p = import(url).then((m: { instantiate: Instantiate }) => m.instantiate);
    bindings.set(url, p);
  }
  return p;
}

/** Each core module by name, as jco's bindings ask for them. */
function coreModule(coreModules: Record<string, WebAssembly.Module>) {
  return (name: string) => {
    const m = coreModules[name];
    if (!m) throw new Error(`core module ${name} missing from the compiled component`);
    return m;
  };
}

/**
 * Synchronous instantiation (a worker thread may block, and it saves a round trip per module),
 * keeping the instance's memories to tell an out-of-memory from another trap afterwards.
 */
function instantiateCore(memories: WebAssembly.Memory[], job: InstanceJob): InstantiateCore {
  return async (module, imps) => {
    const inst = new WebAssembly.Instance(module, imps);
    for (const v of Object.values(inst.exports)) if (v instanceof WebAssembly.Memory) memories.push(v);
    return job.call === 'plan' ? guardPlan(inst, job.limits.planPartitions) : inst;
  };
}

let ready: Prepared | undefined;
/** Components whose instantiation calls the host: never prepared ahead. */
const unpreparable = new Set<string>();

/**
 * Make an instance for the next job like `job` (same component), while the worker has nothing to
 * do (see prepared-instance.ts). Replaces one made earlier for another component.
 */
export async function prepareNext(job: InstanceJob, coreModules: Record<string, WebAssembly.Module>): Promise<void> {
  if (!preparable(job) || unpreparable.has(job.modulesKey) || ready?.key === job.modulesKey) return;
  ready = undefined;
  const slot: Slot = {};
  const memories: WebAssembly.Memory[] = [];
  try {
    const instantiate = await loadBindings(job.moduleUrl);
    const instance = await instantiate(coreModule(coreModules), lateImports(slot), instantiateCore(memories, job));
    ready = { key: job.modulesKey, slot, instance, memories };
  } catch {
    unpreparable.add(job.modulesKey);
  }
}

interface TaskExports {
  run(partition: unknown, inputs: unknown, params: unknown): void;
  plan?(inputs: unknown, params: unknown): unknown;
}

const LEVELS = new Set(['debug', 'info', 'warn', 'error']);

export async function execute(
  job: InstanceJob,
  coreModules: Record<string, WebAssembly.Module>,
  onProgress: (fraction: number) => void,
): Promise<InstanceResult> {
  const log = new CappedLog(job.limits.logBytes);
  const reader = new InputReader(job.inputs);
  const outputs = new Outputs(job.outputDir, job.outputStem, job.limits.outputBytes);
  const memories: WebAssembly.Memory[] = [];
  const disposers: (() => void)[] = [];
  // Made for this job while the worker was idle, or made now; either way never used before.
  const pre = ready?.key === job.modulesKey && preparable(job) ? ready : undefined;
  ready = undefined;
  try {
    const imports = wasiImports({
      args: job.args,
      env: job.env,
      stdin: job.contract === 'command' && job.call === 'run' ? reader.stream(job.partition.slices) : emptySource,
      stdout: job.contract === 'command' ? outputs.sink('stdout') : log.sink(),
      stderr: log.sink(),
      scratch: job.scratchDir ? { dir: job.scratchDir, cap: job.limits.outputBytes } : undefined,
      allowedHosts: job.allowedHosts,
      onDispose: (fn) => disposers.push(fn),
    });
    let lastProgress = 0;
    imports['tutti:task/host'] = {
      read: (input: number, offset: bigint, length: bigint) => reader.read(input, Number(offset), Number(length)),
      write: (name: string, bytes: Uint8Array) => outputs.write(name, bytes),
      log: (level: string, message: string) => log.append(`[${LEVELS.has(level) ? level : 'info'}] ${message}\n`),
      progress: (fraction: number) => {
        const now = Date.now();
        if (now - lastProgress >= 100 || fraction >= 1) {
          lastProgress = now;
          onProgress(Math.max(0, Math.min(1, fraction)));
        }
      },
    };
    let instance: Record<string, unknown>;
    if (pre) {
      pre.slot.imports = imports;
      memories.push(...pre.memories);
      instance = pre.instance;
    } else {
      const instantiate = await loadBindings(job.moduleUrl);
      instance = await instantiate(coreModule(coreModules), imports, instantiateCore(memories, job));
    }
    let plan: Partition[] | undefined;
    try {
      if (job.contract === 'command') {
        (instance.run as { run(): void }).run();
      } else {
        const task = instance as unknown as TaskExports;
        const assetInfos = job.inputs.map((i) => ({ name: i.name, size: BigInt(i.size), mediaType: i.mediaType }));
        if (job.call === 'plan') {
          plan = fromWitPartitions(task.plan!(assetInfos, job.params));
        } else {
          const partition = {
            index: job.partition.index,
            count: job.partition.count,
            slices: job.partition.slices.map((s) => ({ input: s.input, offset: BigInt(s.offset), length: BigInt(s.length) })),
          };
          task.run(partition, assetInfos, job.params);
        }
      }
    } catch (e) {
      if (!(e instanceof ExitSignal && e.code === 0)) throw e;
    }
    if (job.call === 'plan') outputs.discard(); // a plan's writes are not outputs of anything
    const files = outputs.close(job.contract === 'command' && job.call === 'run' ? ['stdout'] : []);
    return { ok: true, outputs: files, log: log.text(), plan };
  } catch (e) {
    outputs.discard();
    return { ok: false, failure: outOfMemory(classifyError(e, job), memories, job.limits.memoryBytes), log: log.text() };
  } finally {
    reader.close();
    for (const fn of disposers) fn();
    if (job.scratchDir) rmSync(job.scratchDir, { recursive: true, force: true });
  }
}

/**
 * Check the length of the list a core `plan` export returns before jco reads it out of guest
 * memory: a plan of ten million partitions must fail fast, not fill the host heap first.
 * Canonical ABI: `plan` returns a pointer to result<list<partition>, string>, discriminant at +0,
 * list pointer at +4 and length at +8.
 */
function guardPlan(inst: WebAssembly.Instance, cap: number): WebAssembly.Instance {
  const plan = inst.exports.plan;
  const memory = Object.values(inst.exports).find((v): v is WebAssembly.Memory => v instanceof WebAssembly.Memory);
  if (typeof plan !== 'function' || !memory) return inst;
  const guarded = (...args: unknown[]) => {
    const ret = (plan as (...a: unknown[]) => number)(...args);
    const view = new DataView(memory.buffer);
    if (view.getUint8(ret) === 0) {
      const len = view.getUint32(ret + 8, true);
      if (len > cap) {
        throw new InstanceAbort({ kind: 'invalid-plan', message: `plan returned ${len} partitions; the limit is ${cap}`, retryable: false });
      }
    }
    return ret;
  };
  return { exports: { ...inst.exports, plan: guarded } } as unknown as WebAssembly.Instance;
}

function fromWitPartitions(value: unknown): Partition[] {
  return (value as { index: number; count: number; slices: { input: number; offset: bigint; length: bigint }[] }[]).map((p) => ({
    index: p.index,
    count: p.count,
    slices: p.slices.map((s) => ({ input: s.input, offset: Number(s.offset), length: Number(s.length) })),
  }));
}

const MiB = 2 ** 20;

/**
 * A guest that hits its cap sees memory.grow fail, and usually traps or exits soon after (abort on a
 * NULL malloc). When it failed that way with its memory at the cap, call it what it is.
 */
function outOfMemory(failure: Failure, memories: WebAssembly.Memory[], cap: number): Failure {
  if (!['trapped', 'exited', 'internal'].includes(failure.kind)) return failure;
  const used = Math.max(0, ...memories.map((m) => m.buffer.byteLength));
  if (used < cap - Math.max(cap / 8, 2 * MiB)) return failure;
  return {
    kind: 'out-of-memory',
    message: `out of memory: the instance reached its memory cap of ${Math.round(cap / MiB)} MiB (${failure.message})`,
    retryable: false,
  };
}

/** Map whatever came out of the guest to a failure kind with a message a user can act on. */
export function classifyError(e: unknown, job: InstanceJob): Failure {
  if (e instanceof InstanceAbort) return e.failure;
  const payload = (e as { payload?: unknown } | null)?.payload;
  if (e && typeof e === 'object' && 'payload' in e) {
    if (job.contract === 'command') return { kind: 'exited', code: 1, message: 'exited with a failure status', retryable: true };
    const p = payload as { tag?: string; val?: unknown } | string | undefined;
    if (job.call === 'plan') return { kind: 'invalid-plan', message: `plan failed: ${String(typeof p === 'string' ? p : p?.val ?? p)}`, retryable: false };
    if (p && typeof p === 'object' && (p.tag === 'retryable' || p.tag === 'permanent')) {
      return { kind: 'task-error', message: String(p.val), retryable: p.tag === 'retryable' };
    }
    return { kind: 'task-error', message: String(p), retryable: false };
  }
  if (e instanceof WebAssembly.RuntimeError) return { kind: 'trapped', message: `wasm trap: ${e.message.replace(/^(wasm trap: )+/, '')}`, retryable: true };
  if (e instanceof RangeError && /memory|allocat/i.test(e.message)) {
    return { kind: 'out-of-memory', message: `out of memory: ${e.message} (cap ${Math.round(job.limits.memoryBytes / MiB)} MiB)`, retryable: false };
  }
  if (e instanceof RangeError && /call stack/i.test(e.message)) {
    return { kind: 'trapped', message: `wasm trap: stack overflow`, retryable: true };
  }
  return { kind: 'internal', message: `instance failed: ${publicMessage(e)}`, retryable: true };
}
