/**
 * The decisions that move a run, shared by the Node engine and the Workers engine: what a pending
 * task run does once the tasks it needs have moved, and how a run ends. Pure: each engine reads
 * the task runs' states, asks, and writes what it was told in its own way.
 */
import type { TaskRunState } from '../store/schema.js';
import type { FlowSpec, TaskSpec } from './spec.js';

interface TaskRunView {
  taskId: string;
  state: TaskRunState;
  error: string | null;
}

const TERMINAL = new Set<TaskRunState>(['succeeded', 'failed', 'skipped', 'cancelled']);
const DOOMED = new Set<TaskRunState>(['failed', 'skipped', 'cancelled']);

export function isTerminal(state: TaskRunState): boolean {
  return TERMINAL.has(state);
}

/** For a pending task run: plan it, skip it (with the reason), or wait for what it needs. */
export function nextStep(task: TaskSpec, states: Map<string, TaskRunView>): { plan: true } | { skip: string } | undefined {
  const deps = task.needs.map((n) => states.get(n)!);
  const blocked = deps.find((d) => DOOMED.has(d.state));
  if (blocked) return { skip: `upstream task "${blocked.taskId}" ${blocked.state}` };
  return deps.every((d) => d.state === 'succeeded') ? { plan: true } : undefined;
}

/** How the run ends once every task run has ended (undefined while one has not). */
export function runOutcome(spec: FlowSpec, states: Map<string, TaskRunView>): { state: 'succeeded' | 'failed'; error: string | null } | undefined {
  const all = [...states.values()];
  if (!all.every((t) => TERMINAL.has(t.state))) return undefined;
  const failed = spec.tasks.map((t) => states.get(t.id)!).find((t) => t.state === 'failed');
  const skipped = all.some((t) => t.state === 'skipped');
  return { state: failed || skipped ? 'failed' : 'succeeded', error: failed ? `task "${failed.taskId}" failed: ${failed.error}` : null };
}
