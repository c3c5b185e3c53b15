/**
 * One instance of a precompiled component inside a Worker invocation.
 *
 * The sandbox is the Node runtime's own, unchanged: `execute()` (runtime/execute.ts) with its WASI
 * host (runtime/wasi/), which is synchronous and in-memory by design and so runs on workerd under
 * `nodejs_compat`. What differs is around it:
 * - core modules come compiled from the bundle (CompiledWasm), never from bytes;
 * - inputs, outputs and /scratch live under workerd's `/tmp`, an in-memory directory private to
 *   the request, which is what the runtime's file-based sinks need: no host file is involved;
 * - the jco bindings are loaded by `import()` of a module of the bundle (wrangler uploads them as
 *   additional modules: `find_additional_modules` in wrangler.toml).
 *
 * Known gaps on workerd: a guest that sleeps (wasi:io/poll on a clock) fails, since the host blocks
 * with Atomics.wait, which workerd forbids; outgoing HTTP is refused at build time.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execute } from '../../runtime/execute.js';
import type { Failure } from '../../runtime/failures.js';
import type { Partition } from '../../runtime/protocol.js';
import type { EdgeComponent } from '../bundle.js';

export interface EdgeInput {
  name: string;
  mediaType: string;
  bytes: Uint8Array;
}

export interface EdgeJob {
  call: 'run' | 'plan';
  /** Default: one partition over all inputs, in order. */
  partition?: Partition;
  inputs: EdgeInput[];
  params: Record<string, string>;
  env: [string, string][];
  args: string[];
  scratch: boolean;
  outputBytes: number;
  logBytes: number;
  planPartitions: number;
}

export interface EdgeOutput {
  name: string;
  size: number;
  sha256: string;
  bytes: Uint8Array;
}

export type EdgeResult =
  | { ok: true; outputs: EdgeOutput[]; log: string; plan?: Partition[] }
  | { ok: false; failure: Failure; log: string };

let jobs = 0;

/** The runtime reports a guest that sleeps as an internal, retryable error; on workerd it is neither. */
function explain(failure: Failure): Failure {
  if (failure.kind !== 'internal' || !failure.message.includes('Atomics.wait')) return failure;
  return {
    kind: 'internal',
    message: 'the task waited on a clock (sleep, or wasi:io/poll with a timeout), which tasks cannot do on Workers yet: a Worker cannot block',
    retryable: false,
  };
}

export async function runOnEdge(component: EdgeComponent, job: EdgeJob): Promise<EdgeResult> {
  const jobId = ++jobs;
  const dir = `/tmp/tutti-${jobId}`;
  mkdirSync(`${dir}/in`, { recursive: true });
  try {
    const inputs = job.inputs.map((input, i) => {
      const file = `${dir}/in/${i}`;
      writeFileSync(file, input.bytes);
      return { name: input.name, size: input.bytes.length, mediaType: input.mediaType, path: file };
    });
    const partition = job.partition ?? {
      index: 0,
      count: 1,
      slices: inputs.map((input, i) => ({ input: i, offset: 0, length: input.size })),
    };
    const result = await execute(
      {
        jobId,
        modulesKey: component.key,
        moduleUrl: component.moduleUrl,
        contract: component.info.contract,
        call: job.call,
        partition,
        inputs,
        params: Object.entries(job.params).map(([name, value]) => ({ name, value })),
        env: job.env,
        args: job.args,
        outputDir: `${dir}/out`,
        outputStem: '',
        scratchDir: job.scratch ? `${dir}/scratch` : undefined,
        limits: { outputBytes: job.outputBytes, logBytes: job.logBytes, memoryBytes: component.memoryBytes, planPartitions: job.planPartitions },
      },
      component.modules,
      () => {},
    );
    if (!result.ok) return { ok: false, failure: explain(result.failure), log: result.log };
    const outputs = result.outputs.map((o) => ({ name: o.name, size: o.size, sha256: o.sha256, bytes: o.bytes ?? readFileSync(o.path) }));
    return { ok: true, outputs, log: result.log, plan: result.plan };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
