import type { Flow } from './schema.js';
import type { FlowIssue } from './errors.js';

/** Graph-level checks zod cannot express: unique ids, known references, no cycles. */
export function validateDag(flow: Flow): FlowIssue[] {
  const issues: FlowIssue[] = [];
  const index = new Map<string, number>();
  flow.tasks.forEach((t, i) => {
    if (index.has(t.id)) issues.push({ path: ['tasks', i, 'id'], message: `duplicate task id "${t.id}" (also tasks[${index.get(t.id)}])` });
    else index.set(t.id, i);
  });
  let taskIds: string | undefined;
  flow.tasks.forEach((t, i) => {
    t.needs.forEach((n, j) => {
      if (!index.has(n)) issues.push({ path: ['tasks', i, 'needs', j], message: `unknown task "${n}" in needs; tasks are: ${(taskIds ??= someOf([...index.keys()]))}` });
      else if (n === t.id) issues.push({ path: ['tasks', i, 'needs', j], message: `task "${t.id}" needs itself` });
    });
    t.inputs.forEach((n, j) => {
      if (!(n in flow.inputs)) {
        const known = Object.keys(flow.inputs);
        issues.push({ path: ['tasks', i, 'inputs', j], message: `unknown flow input "${n}"; ${known.length ? `inputs are: ${someOf(known)}` : 'the flow declares no inputs'}` });
      }
    });
  });
  issues.push(...triggerIssues(flow));
  if (issues.length) return issues;
  const cycle = findCycle(flow);
  if (cycle) {
    const first = index.get(cycle[0]!)!;
    issues.push({ path: ['tasks', first, 'needs'], message: `cycle between tasks: ${[...cycle, cycle[0]].join(' -> ')}` });
  }
  return issues;
}

/**
 * The first names of a list, for a message. Each unknown reference lists what is known: all of it
 * made a flow of 10,000 tasks that each named an unknown one a message of 10,000 × 10,000 names,
 * beyond what a string can hold, after 15 s of work.
 */
function someOf(names: string[], most = 20): string {
  return names.length <= most ? names.join(', ') : `${names.slice(0, most).join(', ')}, … (${names.length} in all)`;
}

/** Triggers must fill the inputs a run needs, and only with inputs the flow declares. */
function triggerIssues(flow: Flow): FlowIssue[] {
  const issues: FlowIssue[] = [];
  const declared = someOf(Object.keys(flow.inputs)) || 'none';
  const assetInput = (name: string, path: (string | number)[]) => {
    const input = flow.inputs[name];
    if (!input) issues.push({ path, message: `unknown flow input "${name}"; inputs are: ${declared}` });
    else if (input.type !== 'asset') issues.push({ path, message: `flow input "${name}" is a ${input.type}, not an asset` });
  };
  flow.triggers.forEach((t, i) => {
    if (t.type === 'schedule') {
      for (const name of Object.keys(t.params)) {
        const input = flow.inputs[name];
        if (!input) issues.push({ path: ['triggers', i, 'params', name], message: `unknown flow input "${name}"; inputs are: ${declared}` });
        else if (input.type === 'asset') issues.push({ path: ['triggers', i, 'params', name], message: `flow input "${name}" is an asset: a schedule cannot give it` });
      }
      for (const [name, input] of Object.entries(flow.inputs)) {
        if (!input.required || input.default !== undefined || name in t.params) continue;
        issues.push({
          path: ['triggers', i],
          message: input.type === 'asset' ? `a scheduled flow cannot have a required asset input ("${name}"): make it required: false` : `the schedule gives no value for required input "${name}": add it to params or give the input a default`,
        });
      }
    } else if (t.type === 'webhook') {
      if (t.input) assetInput(t.input, ['triggers', i, 'input']);
    } else {
      if (t.flow === flow.id) issues.push({ path: ['triggers', i, 'flow'], message: `flow "${flow.id}" cannot trigger itself` });
      for (const name of Object.keys(t.inputs)) assetInput(name, ['triggers', i, 'inputs', name]);
    }
  });
  return issues;
}

/** Task ids of one cycle in `needs` order, or null. Iterative DFS so deep flows cannot overflow the stack. */
function findCycle(flow: Flow): string[] | null {
  const needs = new Map(flow.tasks.map((t) => [t.id, t.needs]));
  const state = new Map<string, 1 | 2>(); // 1 = on the current path, 2 = done
  for (const start of needs.keys()) {
    if (state.has(start)) continue;
    const path: string[] = [];
    const stack: { id: string; next: number }[] = [{ id: start, next: 0 }];
    state.set(start, 1);
    path.push(start);
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const deps = needs.get(top.id)!;
      if (top.next < deps.length) {
        const dep = deps[top.next++]!;
        const s = state.get(dep);
        if (s === 1) return path.slice(path.indexOf(dep));
        if (s === undefined) {
          state.set(dep, 1);
          path.push(dep);
          stack.push({ id: dep, next: 0 });
        }
      } else {
        state.set(top.id, 2);
        path.pop();
        stack.pop();
      }
    }
  }
  return null;
}

/**
 * Tasks in an order where every task comes after the tasks it needs. Iterative, with tasks looked
 * up by id, so that a chain of 10,000 neither overflows the stack nor costs 10,000² lookups.
 */
export function topologicalOrder(flow: Flow): string[] {
  const needs = new Map(flow.tasks.map((t) => [t.id, t.needs]));
  const done = new Set<string>();
  const order: string[] = [];
  for (const t of flow.tasks) {
    if (done.has(t.id)) continue;
    done.add(t.id);
    const stack: { id: string; next: number }[] = [{ id: t.id, next: 0 }];
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const deps = needs.get(top.id)!;
      if (top.next < deps.length) {
        const dep = deps[top.next++]!;
        if (!done.has(dep)) {
          done.add(dep);
          stack.push({ id: dep, next: 0 });
        }
      } else {
        order.push(top.id);
        stack.pop();
      }
    }
  }
  return order;
}
