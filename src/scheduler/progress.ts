/**
 * Where a run's tasks stand, kept by the engine between task ends: read from the store once, then
 * brought up to date from the run's events and from the successes being committed. Deciding what a
 * task's end unblocks took a read of every task run of the run and a pass over every task, on every
 * task end: a run of N tasks cost N² (10,000 tasks: 154 s). With counters of the needs each task
 * still waits for, a task's end costs its number of dependents.
 *
 * Only a shortcut (see Engine.unblocked): every step it suggests is guarded in the store, and a
 * view that may be wrong is dropped and read again.
 */
import type { TaskRunState } from '../store/schema.js';
import type { FlowGraph } from './graph.js';

export interface TaskState {
  taskId: string;
  state: TaskRunState;
}

const ENDED: Record<string, TaskRunState | undefined> = {
  'task-succeeded': 'succeeded',
  'task-failed': 'failed',
  'task-skipped': 'skipped',
  'task-cancelled': 'cancelled',
};

export class RunView {
  /** Tasks whose task run has ended (in the store, or in a commit on its way). */
  private readonly ended = new Map<string, TaskRunState>();
  /** For each task not ended: how many of its needs have not succeeded. */
  private readonly left = new Map<string, number>();
  /** Tasks planned from this view: each is planned once. */
  readonly planned = new Set<string>();
  /** Task runs not ended, and those ended otherwise than succeeded. */
  open = 0;
  unhappy = 0;
  /** Whether the step finishing the run was taken already. */
  finishing = false;

  constructor(
    private readonly graph: FlowGraph,
    states: TaskState[],
    /** The run's newest event when `states` were read: later ones are applied by `apply`. */
    public lastEventId: number,
  ) {
    const known = new Map(states.map((s) => [s.taskId, s.state]));
    for (const [id, task] of graph.byId) {
      const state = known.get(id) ?? 'pending';
      if (state !== 'pending' && state !== 'running') {
        this.ended.set(id, state);
        if (state !== 'succeeded') this.unhappy++;
        continue;
      }
      this.open++;
      let waiting = 0;
      for (const n of new Set(task.needs)) if (known.get(n) !== 'succeeded') waiting++;
      this.left.set(id, waiting);
    }
  }

  /** A task run ended: its dependents wait for one need fewer if it succeeded. Idempotent. */
  end(taskId: string, state: TaskRunState): void {
    if (this.ended.has(taskId) || !this.graph.byId.has(taskId)) return;
    this.ended.set(taskId, state);
    this.left.delete(taskId);
    this.open--;
    if (state !== 'succeeded') {
      this.unhappy++;
      return;
    }
    for (const d of this.graph.dependents(taskId)) {
      const n = this.left.get(d.id);
      if (n !== undefined) this.left.set(d.id, n - 1);
    }
  }

  /** Every need of the task has succeeded, and it was not planned from this view. */
  ready(taskId: string): boolean {
    return this.left.get(taskId) === 0 && !this.planned.has(taskId);
  }

  /**
   * Events read after `lastEventId`, oldest first. False when the view cannot follow them (the run
   * was retried: task runs went back to pending), and must be read again.
   */
  apply(events: { id: number; taskId: string | null; type: string }[]): boolean {
    for (const e of events) {
      if (e.type === 'run-retried') return false;
      const state = ENDED[e.type];
      if (state && e.taskId) this.end(e.taskId, state);
      this.lastEventId = Math.max(this.lastEventId, e.id);
    }
    return true;
  }
}
