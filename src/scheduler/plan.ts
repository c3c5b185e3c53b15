/** How many instances a task gets, and over which slices of its inputs. */
import type { Partition } from '../runtime/protocol.js';
import type { AssetRow } from '../store/runs.js';

export interface Plan {
  partitions: Partition[];
  /** Which policy decided, shown to users: "single", later "manifest:…" or "plan export". */
  policy: string;
}

/** One instance over every input in full: the policy of a component that states none. */
export function singlePartition(inputs: AssetRow[]): Plan {
  return {
    policy: 'single',
    partitions: [{ index: 0, count: 1, slices: inputs.map((a, input) => ({ input, offset: 0, length: a.size })) }],
  };
}
