/**
 * What an instance of a task is given besides its inputs, and where its outputs go: shared by the
 * Node engine (engine.ts) and the Workers one (edge/engine.ts), so a task sees the same on both.
 */
import type { Partition } from '../runtime/protocol.js';
import type { RunRow } from '../store/runs.js';
import type { TaskSpec } from './spec.js';

/** Where a run's outputs live in the asset store: one directory per run, not per task (a chain of 40 tasks makes one directory, not 40). */
export function runDir(runId: string): string {
  return `runs/${runId}`;
}

/**
 * Where an attempt's outputs go in its run directory: `<task>.<idx>-<name>` for a first attempt (the
 * usual case), `<task>.<idx>.<attempt>-<name>` for later ones. Every attempt writes its own files,
 * straight into place: nothing is renamed at commit, and an attempt that loses its lease cannot
 * touch the files of the one that won. Task ids have no "." and indices are digits, so no two
 * attempts' prefixes overlap.
 */
export function outputStem(taskId: string, idx: number, attempt: number): string {
  return attempt <= 1 ? `${taskId}.${idx}-` : `${taskId}.${idx}.${attempt}-`;
}

/** Delay before attempt `attempt + 1`. */
export function backoff(retry: TaskSpec['retry'], attempt: number): number {
  const { delay, backoff: kind, maxDelay } = retry;
  return Math.min(maxDelay, kind === 'fixed' ? delay : delay * 2 ** (attempt - 1));
}

/** Run parameters a task may see: values of the non-asset flow inputs it lists. */
function stringParams(params: Record<string, unknown>, task: TaskSpec): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of task.inputs) if (name in params) out[name] = String(params[name]);
  return out;
}

/** The parameters, environment and arguments of one call of a task's component. */
export function taskEnvironment(run: RunRow, task: TaskSpec, partition: Partition, secrets: Map<string, string>) {
  const params = { ...stringParams(run.params, task), ...Object.fromEntries(Object.entries(task.params).map(([k, v]) => [k, String(v)])) };
  return {
    params,
    env: [
      ...Object.entries(task.env),
      ...Object.entries(task.secrets).map(([env, name]) => [env, secrets.get(name)!] as [string, string]),
      ['TUTTI_RUN_ID', run.id],
      ['TUTTI_TASK', task.id],
      ...(run.logicalTime != null ? [['TUTTI_LOGICAL_TIME', new Date(run.logicalTime).toISOString()] as [string, string]] : []),
      ['TUTTI_PARTITION_INDEX', String(partition.index)],
      ['TUTTI_PARTITION_COUNT', String(partition.count)],
      ...Object.entries(params).map(([k, v]) => [`TUTTI_PARAM_${k.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`, v] as [string, string]),
    ] as [string, string][],
    args: [task.id, ...Object.entries(params).map(([k, v]) => `--${k}=${v}`)],
  };
}

/** Secret values never reach the store: a task that prints one gets a placeholder in its log. */
export function redact(text: string, task: TaskSpec, secrets: Map<string, string>): string {
  let out = text;
  for (const name of Object.values(task.secrets)) {
    const value = secrets.get(name);
    if (value) out = out.split(value).join(`[secret ${name}]`);
  }
  return out;
}
