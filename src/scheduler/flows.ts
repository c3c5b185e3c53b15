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

/** name@version, as components are labelled on upload. */
const COMPONENT_REF = /^([a-z0-9][a-z0-9_.-]{0,62})@([A-Za-z0-9][A-Za-z0-9_.+-]{0,62})$/;

class Unresolved extends Error {}

export async function resolveFlow(db: Db, registry: Pick<ComponentRegistry, 'register'>, parsed: ParsedFlow, file: string): Promise<FlowSpec> {
  const issues: FlowIssue[] = [];
  const tasks = await Promise.all(
    parsed.flow.tasks.map(async (task, i) => {
      const where = ['tasks', i, 'component'];
      try {
        if (isComponentPath(task.component)) {
          if (!parsed.baseDir) throw new Unresolved('a component path needs a flow file; upload the component and use name@version');
          const bytes = await readFile(path.resolve(parsed.baseDir, task.component));
          return { ...task, digest: (await registry.register(bytes)).info.digest };
        }
        const ref = COMPONENT_REF.exec(task.component);
        if (!ref) throw new Unresolved(`"${task.component}" is neither a .wasm path nor name@version (e.g. sum@1.0.0)`);
        const found = await findComponentVersion(db, ref[1]!, ref[2]!);
        if (!found) throw new Unresolved(`component ${task.component} is not registered: upload it first (POST /api/v1/components?name=${ref[1]}&version=${ref[2]})`);
        return { ...task, digest: found.digest };
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
