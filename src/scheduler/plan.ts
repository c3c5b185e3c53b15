/** How many instances a task gets, and over which slices of its inputs. */
import type { Partition } from '../runtime/protocol.js';

export interface Plan {
  partitions: Partition[];
  /** Which policy decided, shown to users: "single", "plan export", "manifest …", plus any flow cap. */
  policy: string;
}

export interface PlanInput {
  size: number;
}

/** One instance over every input in full: the policy of a component that states none. */
export function singlePartition(inputs: PlanInput[]): Plan {
  return {
    policy: 'single',
    partitions: [{ index: 0, count: 1, slices: inputs.map((a, input) => ({ input, offset: 0, length: a.size })) }],
  };
}

/** Check partitions a component's `plan` returned; throws with the first problem found. */
export function validatePartitions(partitions: Partition[], inputs: PlanInput[]): void {
  const n = partitions.length;
  partitions.forEach((p, i) => {
    if (p.index !== i) throw new Error(`partition ${i} has index ${p.index}: indices must be 0..${n - 1} in order`);
    if (p.count !== n) throw new Error(`partition ${i} has count ${p.count}, but the plan has ${n} partitions`);
    for (const s of p.slices) {
      const input = inputs[s.input];
      if (!input) throw new Error(`partition ${i} refers to input ${s.input}; the task has ${inputs.length}`);
      if (s.offset + s.length > input.size) {
        throw new Error(`partition ${i} slice [${s.offset}, ${s.offset + s.length}) is past the end of input ${s.input} (${input.size} bytes)`);
      }
    }
  });
}

/**
 * Apply the flow's cap: at most `max` partitions, by merging runs of adjacent ones (their slices
 * concatenated in order), so every byte is still covered exactly as the component planned.
 */
export function capPartitions(plan: Plan, max: number | undefined): Plan {
  const n = plan.partitions.length;
  if (max === undefined || n <= max) return plan;
  const merged: Partition[] = [];
  for (let g = 0; g < max; g++) {
    const from = Math.floor((g * n) / max);
    const to = Math.floor(((g + 1) * n) / max);
    merged.push({ index: g, count: max, slices: plan.partitions.slice(from, to).flatMap((p) => p.slices) });
  }
  return { partitions: merged, policy: `${plan.policy}, capped by maxInstances ${max} (from ${n})` };
}
