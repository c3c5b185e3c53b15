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

/** An input as an instance sees it; `path` is where the bytes are on this machine. */
export interface JobInput {
  name: string;
  size: number;
  mediaType: string;
  path: string;
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
  /** Outputs are written to `<outputDir>/<outputStem><name>.tmp`, and renamed into place on commit. */
  outputDir: string;
  outputStem: string;
  /** Host directory mounted at /scratch, private to this attempt; absent unless the flow grants it. */
  scratchDir?: string;
  /** Hosts (host or host:port) outgoing HTTP may reach; empty or absent: no network at all. */
  allowedHosts?: string[];
  limits: Limits;
}

export interface OutputFile {
  name: string;
  size: number;
  sha256: string;
  path: string;
}

export type InstanceResult =
  | { ok: true; outputs: OutputFile[]; log: string; plan?: Partition[] }
  | { ok: false; failure: Failure; log: string };

export type ToWorker = { type: 'run'; job: InstanceJob; coreModules?: Record<string, WebAssembly.Module> };

export type FromWorker =
  | { type: 'progress'; jobId: number; fraction: number }
  | { type: 'done'; jobId: number; result: InstanceResult };
