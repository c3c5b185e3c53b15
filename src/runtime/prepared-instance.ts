/**
 * One fresh instance made ahead of its job, while a worker is idle: instantiation (a small C
 * command spends ~40% of its start in `new WebAssembly.Instance`) then leaves the path from a task
 * being handed over to its result.
 *
 * The instance is made with imports bound late: every function forwards to the imports of the job
 * that will use it, filled in when that job starts; classes, which are the same for every job, are
 * bound as they are. Nothing of the guest runs before its job (instantiating runs no guest code;
 * a component whose instantiation calls the host is simply never prepared), and the instance
 * serves exactly one job: it is as fresh as one made for the job.
 *
 * Only jobs with nothing granted beyond the default sandbox are served this way: no /scratch, no
 * network (those imports hold per-job directories and sockets).
 */
import type { InstanceJob } from './protocol.js';
import { wasiImports } from './wasi/imports.js';
import { emptySource } from './wasi/streams.js';

type Imports = Record<string, object>;

export interface Slot {
  /** The imports of the job the instance serves; undefined until it starts. */
  imports?: Imports;
}

export interface Prepared {
  key: string;
  slot: Slot;
  instance: Record<string, unknown>;
  memories: WebAssembly.Memory[];
}

/** Functions of `tutti:task/host`, which execute builds per job. */
const TASK_HOST = ['read', 'write', 'log', 'progress'];

/** Whether a job may run in a prepared instance. */
export function preparable(job: InstanceJob): boolean {
  return job.call === 'run' && !job.scratchDir && !job.allowedHosts?.length;
}

/** Per interface of the default imports: its names, and the values that are the same for every job. */
let layout: Map<string, { names: string[]; shared: Map<string, unknown> }> | undefined;

/**
 * What in the default imports is the same for every job (classes, module-level functions): found
 * by building them twice and keeping what is identical. Everything else is per job. An interface
 * with no names is a denied one, which answers any name.
 */
function importLayout() {
  if (layout) return layout;
  const build = () => wasiImports({ args: [], env: [], stdin: emptySource, stdout: { write() {} }, stderr: { write() {} } }) as Record<string, Record<string, unknown>>;
  const a = build();
  const b = build();
  layout = new Map();
  for (const [iface, fns] of Object.entries(a)) {
    const names = Object.keys(fns);
    layout.set(iface, { names, shared: new Map(names.filter((n) => b[iface]![n] === fns[n]).map((n) => [n, fns[n]])) });
  }
  return layout;
}

/** Imports whose per-job functions call into `slot.imports` when called, not when bound. */
export function lateImports(slot: Slot): Imports {
  const forward = (iface: string, name: string) => (...args: unknown[]) => {
    const fns = slot.imports?.[iface] as Record<string, (...a: unknown[]) => unknown> | undefined;
    if (!fns) throw new Error(`${iface}#${name} called before the instance was given its job`);
    return fns[name]!(...args);
  };
  const out: Imports = {};
  for (const [iface, { names, shared }] of importLayout()) {
    out[iface] = names.length
      ? Object.fromEntries(names.map((name) => [name, shared.has(name) ? shared.get(name) : forward(iface, name)]))
      : new Proxy({}, { get: (_t, name) => (typeof name === 'string' && name !== 'then' ? forward(iface, name) : undefined) });
  }
  out['tutti:task/host'] = Object.fromEntries(TASK_HOST.map((name) => [name, forward('tutti:task/host', name)]));
  return out;
}
