/**
 * What `tutti deploy cloudflare` bakes into a Worker: the components its flows use, compiled ahead
 * of time (Workers refuse to compile wasm from bytes at run time), and the tasks that run them.
 * The build (edge/build/) writes this shape as a generated module; the Worker (edge/worker.ts) reads it.
 */
import type { ComponentInfo } from '../runtime/component.js';
import type { FlowSpec } from '../scheduler/spec.js';

/** One component at one memory cap: the cap is written into its core modules before they are compiled. */
export interface EdgeComponent {
  /** `<digest>:<memoryBytes>`, the name tasks use for it. */
  key: string;
  info: ComponentInfo;
  /** Specifier of its jco bindings, relative to the bundle root, for a run-time `import()`. */
  moduleUrl: string;
  memoryBytes: number;
  /** The core modules by the file name the bindings ask for, imported as CompiledWasm. */
  modules: Record<string, WebAssembly.Module>;
}

/** A task of a deployed flow, with what an instance of it needs besides its inputs. */
export interface EdgeTask {
  flow: string;
  task: string;
  component: string;
  env: Record<string, string>;
  params: Record<string, string>;
  /** ENV_NAME -> secret name; on Workers a secret is a Worker secret (`wrangler secret put NAME`). */
  secrets: Record<string, string>;
  scratch: boolean;
  outputBytes: number;
  logBytes: number;
  planPartitions: number;
}

export interface EdgeBundle {
  components: Record<string, EdgeComponent>;
  /** By `<flow>/<task>`. */
  tasks: Record<string, EdgeTask>;
  /** The deployed flows by id, as the Node server would store them: registered on the Worker's first use. */
  flows: Record<string, { source: string; spec: FlowSpec }>;
}

export const taskKey = (flow: string, task: string): string => `${flow}/${task}`;
