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
  flow.tasks.forEach((t, i) => {
    t.needs.forEach((n, j) => {
      if (!index.has(n)) issues.push({ path: ['tasks', i, 'needs', j], message: `unknown task "${n}" in needs; tasks are: ${[...index.keys()].join(', ')}` });
      else if (n === t.id) issues.push({ path: ['tasks', i, 'needs', j], message: `task "${t.id}" needs itself` });
    });
    t.inputs.forEach((n, j) => {
      if (!(n in flow.inputs)) {
        const known = Object.keys(flow.inputs);
        issues.push({ path: ['tasks', i, 'inputs', j], message: `unknown flow input "${n}"; ${known.length ? `inputs are: ${known.join(', ')}` : 'the flow declares no inputs'}` });
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

/** Triggers must fill the inputs a run needs, and only with inputs the flow declares. */
function triggerIssues(flow: Flow): FlowIssue[] {
  const issues: FlowIssue[] = [];
  const declared = Object.keys(flow.inputs).join(', ') || 'none';
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

/** Tasks in an order where every task comes after the tasks it needs. */
export function topologicalOrder(flow: Flow): string[] {
  const done = new Set<string>();
  const order: string[] = [];
  const visit = (id: string) => {
    if (done.has(id)) return;
    done.add(id);
    for (const n of flow.tasks.find((t) => t.id === id)!.needs) visit(n);
    order.push(id);
  };
  for (const t of flow.tasks) visit(t.id);
  return order;
}
