/** Turning a flow document into a stored revision: every component resolved to a registered digest. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { FlowError, isComponentPath, locateIssues, nextTick, type FlowIssue, type ParsedFlow } from '../flow/index.js';
import { ComponentRejected } from '../runtime/component.js';
import type { Db } from '../store/db.js';
import { findComponentVersion } from '../store/components.js';
import { saveFlowRevision } from '../store/flows.js';
import { flowTriggerEdges, syncTriggers } from '../store/triggers.js';
import type { ComponentRegistry } from './components.js';
import type { FlowSpec } from './spec.js';

/** name@version, as components are labelled on upload. */
const COMPONENT_REF = /^([a-z0-9][a-z0-9_.-]{0,62})@([A-Za-z0-9][A-Za-z0-9_.+-]{0,62})$/;

class Unresolved extends Error {}

export async function resolveFlow(db: Db, registry: Pick<ComponentRegistry, 'register'>, parsed: ParsedFlow, file: string): Promise<FlowSpec> {
  const issues: FlowIssue[] = [];
  // Each component once, however many tasks use it: a wide flow of one component read and
  // registered it once per task (10,000 reads and digests of the same file).
  const digests = new Map<string, Promise<string>>();
  const resolve = async (component: string): Promise<string> => {
    if (isComponentPath(component)) {
      if (!parsed.baseDir) throw new Unresolved('a component path needs a flow file; upload the component and use name@version');
      const bytes = await readFile(path.resolve(parsed.baseDir, component));
      return (await registry.register(bytes)).info.digest;
    }
    const ref = COMPONENT_REF.exec(component);
    if (!ref) throw new Unresolved(`"${component}" is neither a .wasm path nor name@version (e.g. sum@1.0.0)`);
    const found = await findComponentVersion(db, ref[1]!, ref[2]!);
    if (!found) throw new Unresolved(`component ${component} is not registered: upload it first (POST /api/v1/components?name=${ref[1]}&version=${ref[2]})`);
    return found.digest;
  };
  const tasks = await Promise.all(
    parsed.flow.tasks.map(async (task, i) => {
      const where = ['tasks', i, 'component'];
      let digest = digests.get(task.component);
      if (!digest) digests.set(task.component, (digest = resolve(task.component)));
      try {
        return { ...task, digest: await digest };
      } catch (e) {
        // Only messages written for the user reach them: a database or file error names SQL or paths.
        if (e instanceof ComponentRejected) issues.push({ path: where, message: `invalid component ${task.component}: ${e.message}` });
        else if (e instanceof Unresolved) issues.push({ path: where, message: e.message });
        else if ((e as NodeJS.ErrnoException).code && parsed.baseDir) issues.push({ path: where, message: `cannot read component file ${task.component}: ${(e as NodeJS.ErrnoException).code}` });
        else throw e;
        return { ...task, digest: '' };
      }
    }),
  );
  if (issues.length) throw new FlowError(file, issues);
  return { ...parsed.flow, tasks };
}

/** Resolve and store a flow with its triggers; returns its spec and the revision to run. */
export async function registerFlow(
  db: Db,
  registry: Pick<ComponentRegistry, 'register'>,
  parsed: ParsedFlow,
  file: string,
): Promise<{ spec: FlowSpec; revision: number; created: boolean }> {
  const spec = await resolveFlow(db, registry, parsed, file);
  const cycles = await triggerCycles(db, spec);
  if (cycles.length) throw new FlowError(file, locateIssues(parsed.source, cycles));
  const { revision, created } = await saveFlowRevision(db, spec.id, parsed.source, spec, (q) => syncTriggers(q, spec.id, triggerRows(spec, Date.now())));
  return { spec, revision, created };
}

/**
 * The triggers of a flow about to be saved that would close a cycle of flow triggers with the flows
 * stored: its runs would start each other's, without end. Whatever the condition (`on`): a cycle
 * of failures is as endless as one of successes. Two saves racing can still store one; the chain
 * of runs it starts is bounded when it runs (see reactions.ts).
 */
export async function triggerCycles(db: Db, spec: Pick<FlowSpec, 'id' | 'triggers'>): Promise<FlowIssue[]> {
  const from = spec.triggers.flatMap((t, idx) => (t.type === 'flow' || t.type === 'asset' ? [{ idx, source: t.flow }] : []));
  if (!from.length) return [];
  // What a run of each flow starts, but for this flow's own triggers: this save replaces them.
  const starts = new Map<string, string[]>();
  for (const { source, target } of await flowTriggerEdges(db)) {
    if (target !== spec.id) starts.set(source, [...(starts.get(source) ?? []), target]);
  }
  // The shortest way from this flow to each flow its runs lead to, by breadth-first search.
  const via = new Map<string, string | null>([[spec.id, null]]);
  for (let queue = [spec.id]; queue.length; ) {
    const next: string[] = [];
    for (const f of queue) {
      for (const t of starts.get(f) ?? []) {
        if (via.has(t)) continue;
        via.set(t, f);
        next.push(t);
      }
    }
    queue = next;
  }
  return from
    .filter(({ source }) => via.has(source))
    .map(({ idx, source }) => {
      const cycle = [spec.id];
      for (let f: string | null = source; f !== null && f !== spec.id; f = via.get(f)!) cycle.splice(1, 0, f);
      cycle.push(spec.id);
      return {
        path: ['triggers', idx, 'flow'],
        message: `trigger cycle: flow ${cycle.map((f) => `"${f}"`).join(' → ')}: a run of each would start a run of the next, without end`,
      };
    });
}

/** The schedule and flow-trigger rows a flow's triggers stand for. */
export function triggerRows(spec: FlowSpec, now: number): Parameters<typeof syncTriggers>[2] {
  const out: Parameters<typeof syncTriggers>[2] = { schedules: [], flowTriggers: [] };
  spec.triggers.forEach((t, idx) => {
    if (t.type === 'schedule') {
      const next = nextTick(t.cron, t.timezone, now);
      if (next !== null) out.schedules.push({ key: `${t.cron}|${t.timezone ?? 'UTC'}`, cron: t.cron, timezone: t.timezone ?? null, missed: t.missed, params: t.params, nextFireAt: next });
    } else if (t.type === 'flow') {
      out.flowTriggers.push({ idx, sourceFlowId: t.flow, on: t.on, task: null, asset: null, inputs: t.inputs });
    } else if (t.type === 'asset') {
      const [task, asset] = t.asset.split('/') as [string, string];
      out.flowTriggers.push({ idx, sourceFlowId: t.flow, on: 'asset', task, asset, inputs: t.inputs });
    }
  });
  return out;
}
