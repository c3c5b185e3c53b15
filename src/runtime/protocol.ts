/** Messages between the scheduler side and the worker threads that run instances. */
import type { Failure } from './failures.js';
import type { Contract } from './component.js';

export interface Slice {
  input: number;
  offset: number;
  length: number;
}

export interface Partition {
  index: number;
  count: number;
  slices: Slice[];
}

/** An input as an instance sees it: its bytes in hand (a small inline asset), or at `path` on this machine. */
export interface JobInput {
  name: string;
  size: number;
  mediaType: string;
  path: string;
  bytes?: Uint8Array;
}

export interface Limits {
  /** Bytes all outputs of one instance may add up to. */
  outputBytes: number;
  /** Bytes of log kept per attempt; the rest is dropped with a note. */
  logBytes: number;
  /** Linear-memory cap of the instance (already compiled into its modules; used to name an out-of-memory). */
  memoryBytes: number;
  /** Most partitions a `plan` may return; checked before the host reads them out of the guest. */
  planPartitions: number;
}

export interface InstanceJob {
  jobId: number;
  /** Names the compiled core modules (component digest and memory cap) in the worker's cache. */
  modulesKey: string;
  moduleUrl: string;
  contract: Contract;
  call: 'run' | 'plan';
  partition: Partition;
  inputs: JobInput[];
  params: { name: string; value: string }[];
  env: [string, string][];
  args: string[];
  /** Outputs are written to `<outputDir>/<outputStem><name>`, their final place; the stem is unique per attempt. */
  outputDir: string;
  outputStem: string;
  /** Host directory mounted at /scratch, private to this attempt; absent unless the flow grants it. */
  scratchDir?: string;
  /** Hosts (host or host:port) outgoing HTTP may reach; empty or absent: no network at all. */
  allowedHosts?: string[];
  limits: Limits;
  /**
   * Run only right after the job before it in the same worker, and only if that one succeeded: its
   * inputs are that job's outputs (named `<taskId>/<idx>/<output>`, in name order), one partition
   * over each in full. `inputs` and `partition.slices` are filled in by the worker.
   */
  fromPrevious?: { taskId: string; idx: number };
}

/** An output of an attempt: written at `path`, or, when small, only in hand (`bytes`, no file). */
export interface OutputFile {
  name: string;
  size: number;
  sha256: string;
  path: string;
  bytes?: Uint8Array;
}

/** `ms`, set by the pool for a job a worker ran: how long it ran (its queueing time excluded). */
export type InstanceResult =
  | { ok: true; outputs: OutputFile[]; log: string; plan?: Partition[]; ms?: number }
  | { ok: false; failure: Failure; log: string; ms?: number };

export type ToWorker =
  /** Sent once: the shared cells where the worker reports progress through its jobs. */
  | { type: 'init'; cells: Int32Array; epoch: number }
  /** Compiled modules (by key) and bindings to have ready before instances need them. */
  | { type: 'load'; modules: Record<string, Record<string, WebAssembly.Module>>; moduleUrl: string }
  /** Jobs to run one after the other, with any module sets the worker does not hold yet. */
  | { type: 'run'; jobs: InstanceJob[]; modules: Record<string, Record<string, WebAssembly.Module>> }
  /** A job given earlier that was cancelled before it started. */
  | { type: 'skip'; jobId: number };

/** Indices into the worker's shared cells (Int32). */
export const CELL = { started: 0, finished: 1, startedAt: 2 } as const;

export type FromWorker =
  | { type: 'progress'; jobId: number; fraction: number }
  /** `ms`: how long the job ran, which tells the pool how many of its kind to queue in one worker. */
  | { type: 'done'; jobId: number; result: InstanceResult; ms: number };
