/**
 * The Workers bundle of a set of flows: their components precompiled (transpile.ts), a module map,
 * and an entry that hands both to the Worker (edge/worker.ts). Layout of `<dir>`:
 *
 *   entry.js                                  the Worker's main module (wrangler.toml `main`)
 *   modules.js                                the module map: every core module imported as CompiledWasm
 *   components/<digest>/component.js          jco bindings, imported at run time by the instance runner
 *   components/<digest>/<cap>/*.wasm          core modules with their memory capped at <cap>
 */
import { readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlowError, isComponentPath, loadFlowFile, type FlowIssue } from '../../flow/index.js';
import { ComponentCache, ComponentRejected } from '../../runtime/component.js';
import { DEFAULT_LIMITS } from '../../runtime/limits.js';
import { MemoryCapError } from '../../runtime/memory-cap.js';
import type { TaskSpec } from '../../scheduler/spec.js';
import { taskKey, type EdgeBundle, type EdgeTask } from '../bundle.js';
import { moduleMapSource, transpileForEdge, type TranspiledComponent } from './transpile.js';

/**
 * Most linear memory one instance gets on Workers. An isolate has 128 MB for everything it runs
 * (JavaScript heap, bindings, every instance in flight), and going past it ends the isolate, not
 * just the instance: a lower cap keeps an out-of-memory inside the instance that caused it.
 */
export const EDGE_MEMORY_MAX = 64 * 2 ** 20;

export interface EdgeBuild {
  /** The bundle directory and its entry module. */
  dir: string;
  entry: string;
  components: TranspiledComponent[];
  tasks: Record<string, EdgeTask>;
  /** Things the user should know that do not stop the build (lowered memory caps). */
  notes: string[];
}

/** The compiled Worker module the entry hands the bundle to, wherever this package is installed. */
const workerModule = fileURLToPath(new URL('../worker.js', import.meta.url));

/** What a task asks for that Workers cannot give yet; each is a reason to refuse the build. */
function unsupported(task: { network?: unknown; component: string }): string[] {
  const out: string[] = [];
  if (!isComponentPath(task.component)) {
    out.push(`component "${task.component}" is a name@version; a Workers bundle is built from .wasm files, so give the component as a path`);
  }
  if (task.network) out.push('outgoing HTTP (network.allow) is not available to tasks on Workers yet');
  return out;
}

/**
 * Build the bundle for `flowFiles` into `dir` (emptied first: wrangler uploads every module it
 * finds there). Throws FlowError for flows that cannot run on Workers, ComponentRejected for a
 * component that is not a task.
 */
export async function buildEdgeBundle(opts: { flowFiles: string[]; dir: string; cacheDir: string }): Promise<EdgeBuild> {
  const dir = path.resolve(opts.dir);
  const parsed = opts.flowFiles.map((file) => ({ file, ...loadFlowFile(file) }));
  const seen = new Map<string, string>();
  for (const p of parsed) {
    const other = seen.get(p.flow.id);
    if (other) throw new FlowError(p.file, [{ path: ['id'], message: `flow id "${p.flow.id}" is also the id of ${other}; deployed flows need distinct ids` }]);
    seen.set(p.flow.id, p.file);
    const issues: FlowIssue[] = p.flow.tasks.flatMap((t, i) => unsupported(t).map((message) => ({ path: ['tasks', i], message })));
    if (issues.length) throw new FlowError(p.file, issues);
  }

  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const cache = new ComponentCache(opts.cacheDir);
  const built = new Map<string, Promise<TranspiledComponent>>();
  const tasks: Record<string, EdgeTask> = {};
  const flows: EdgeBundle['flows'] = {};
  const notes: string[] = [];
  for (const { file, flow, baseDir, source } of parsed) {
    const specTasks: TaskSpec[] = [];
    for (const [i, t] of flow.tasks.entries()) {
      const componentFile = path.resolve(baseDir!, t.component);
      const asked = t.memory ?? DEFAULT_LIMITS.memoryBytes;
      const memoryBytes = Math.min(asked, EDGE_MEMORY_MAX);
      if (t.memory !== undefined && t.memory > EDGE_MEMORY_MAX) {
        notes.push(`${file}: task ${t.id} asks for ${t.memory / 2 ** 20} MiB of memory; on Workers it gets ${EDGE_MEMORY_MAX / 2 ** 20} MiB`);
      }
      const id = `${componentFile}\0${memoryBytes}`;
      let c = built.get(id);
      if (!c) {
        c = transpileForEdge(cache, readFileSync(componentFile), dir, memoryBytes);
        built.set(id, c);
      }
      let component: TranspiledComponent;
      try {
        component = await c;
      } catch (e) {
        if (e instanceof ComponentRejected) throw new FlowError(file, [{ path: ['tasks', i, 'component'], message: `${componentFile}: ${e.message}` }]);
        if (e instanceof MemoryCapError) throw new FlowError(file, [{ path: ['tasks', i, 'memory'], message: e.message }]);
        throw e;
      }
      tasks[taskKey(flow.id, t.id)] = {
        flow: flow.id,
        task: t.id,
        component: component.key,
        env: t.env,
        params: Object.fromEntries(Object.entries(t.params).map(([k, v]) => [k, String(v)])),
        secrets: t.secrets,
        scratch: t.scratch,
        outputBytes: t.outputLimit ?? DEFAULT_LIMITS.outputBytes,
        logBytes: t.logLimit ?? DEFAULT_LIMITS.logBytes,
        planPartitions: t.planLimit ?? DEFAULT_LIMITS.planPartitions,
      };
      specTasks.push({ ...t, digest: component.info.digest });
    }
    // What the Node server would store for this flow file: its source and the spec with digests.
    flows[flow.id] = { source, spec: { ...flow, tasks: specTasks } };
  }
  // One entry per key: two files with the same bytes are one component.
  const components = [...new Map((await Promise.all(built.values())).map((c) => [c.key, c])).values()];
  await writeFile(path.join(dir, 'modules.js'), moduleMapSource(components, tasks, flows));
  const entry = path.join(dir, 'entry.js');
  const worker = path.relative(dir, workerModule).split(path.sep).join('/');
  await writeFile(
    entry,
    [
      '// Generated by `tutti deploy cloudflare`: rebuild instead of editing.',
      `import { createWorker } from ${JSON.stringify(worker.startsWith('.') ? worker : `./${worker}`)};`,
      "import bundle from './modules.js';",
      '',
      'export default createWorker(bundle);',
      '',
    ].join('\n'),
  );
  return { dir, entry, components, tasks, notes };
}
