/**
 * A flow revision's `needs` graph the other way round, built once per spec: what each task unblocks.
 * Looking dependents up by scanning every task's `needs` on every task end made a wide flow's
 * run cost the square of its width (10,000 tasks: 100 million `includes` calls).
 */
import type { FlowSpec, TaskSpec } from './spec.js';

export interface FlowGraph {
  byId: ReadonlyMap<string, TaskSpec>;
  /** The tasks that need each task, in flow order. */
  dependents(taskId: string): readonly TaskSpec[];
  /** Tasks that need nothing, in flow order. */
  roots: readonly TaskSpec[];
  /** How many tasks no other task needs. */
  sinks: number;
  /** One task of each component and memory cap, for what is done once per component (warming workers). */
  components: readonly TaskSpec[];
}

const NONE: readonly TaskSpec[] = [];
// Specs are cached per revision and never change: keyed by the object, dropped with it.
const graphs = new WeakMap<FlowSpec, FlowGraph>();

export function graphOf(spec: FlowSpec): FlowGraph {
  let g = graphs.get(spec);
  if (!g) {
    const byId = new Map<string, TaskSpec>();
    const dependents = new Map<string, TaskSpec[]>();
    for (const t of spec.tasks) byId.set(t.id, t);
    for (const t of spec.tasks) {
      // A task listing the same need twice is one dependent of it.
      for (const n of new Set(t.needs)) {
        const list = dependents.get(n);
        if (list) list.push(t);
        else dependents.set(n, [t]);
      }
    }
    g = {
      byId,
      dependents: (id) => dependents.get(id) ?? NONE,
      roots: spec.tasks.filter((t) => !t.needs.length),
      sinks: spec.tasks.filter((t) => !dependents.has(t.id)).length,
      components: [...new Map(spec.tasks.map((t) => [`${t.digest}:${t.memory}`, t])).values()],
    };
    graphs.set(spec, g);
  }
  return g;
}
