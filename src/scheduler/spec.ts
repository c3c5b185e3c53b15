import type { Flow, Task } from '../flow/index.js';

/** A task as stored in a flow revision: the parsed task plus the digest its component resolved to. */
export type TaskSpec = Task & { digest: string };
/** A flow as stored in a revision; runs execute exactly this, whatever happens to files later. */
export type FlowSpec = Omit<Flow, 'tasks'> & { tasks: TaskSpec[] };
