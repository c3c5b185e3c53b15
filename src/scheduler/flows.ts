/** Turning a flow document into a stored revision: every component resolved to a registered digest. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { FlowError, isComponentPath, nextTick, type FlowIssue, type ParsedFlow } from '../flow/index.js';
import { ComponentRejected } from '../runtime/component.js';
import type { Db } from '../store/db.js';
import { findComponentVersion } from '../store/components.js';
import { saveFlowRevision } from '../store/flows.js';
import { syncTriggers } from '../store/triggers.js';
import type { ComponentRegistry } from './components.js';
import type { FlowSpec } from './spec.js';

export async function resolveFlow(db: Db, registry: Pick<ComponentRegistry, 'register'>, parsed: ParsedFlow, file: string): Promise<FlowSpec> {
  const issues: FlowIssue[] = [];
  // Each component once, however many tasks use it: a wide flow of one component read and
  // registered it once per task (10,000 reads and digests of the same file).
  const digests = new Map<string, Promise<string>>();
  const resolve = async (component: string): Promise<string> => {
    if (isComponentPath(component)) {
      if (!parsed.baseDir) throw new Error('a component path needs a flow file; upload the component and use name@version');
      const bytes = await readFile(path.resolve(parsed.baseDir, component));
      return (await registry.register(bytes)).info.digest;
    }
    const [name, version] = component.split('@') as [string, string];
    const found = await findComponentVersion(db, name, version);
    if (!found) throw new Error(`component ${component} is not registered`);
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
        const reason = e instanceof ComponentRejected ? `invalid component ${task.component}: ${e.message}` : (e as Error).message;
        issues.push({ path: where, message: reason });
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
  const { revision, created } = await saveFlowRevision(db, spec.id, parsed.source, spec, (q) => syncTriggers(q, spec.id, triggerRows(spec, Date.now())));
  return { spec, revision, created };
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
