/**
 * One wide flow in its own process: N independent tasks ("flat"), or a root, N tasks that each need
 * it and a sink that needs them all ("fan"), of a tiny C component, on an embedded file DB.
 * Prints JSON: wall time of the run, time the main thread was busy, CPU time of the process (its
 * workers too: steadier than wall time on a busy machine), and the event-loop delay.
 * Usage: node dist/bench/wide-child.js N [flat|fan] [workers]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseFlow } from '../src/flow/index.js';
import { packageRoot } from '../src/paths.js';
import { registerFlow } from '../src/scheduler/flows.js';
import { prepareRun } from '../src/scheduler/trigger.js';
import { getTaskRuns } from '../src/store/runs.js';
import { openTutti } from '../src/tutti.js';

const n = Number(process.argv[2]);
const shape = process.argv[3] ?? 'flat';
const workers = Number(process.argv[4] ?? 2);
const dir = mkdtempSync(path.join(tmpdir(), 'tutti-bench-'));
const counter = path.join(packageRoot, 'modules/dist/counter.wasm');
const tutti = await openTutti({ home: path.join(dir, 'home'), workers });
try {
  const ids = Array.from({ length: n }, (_, i) => `t${i}`);
  const lines =
    shape === 'fan'
      ? [`  - { id: root, component: ${counter} }`, ...ids.map((id) => `  - { id: ${id}, component: ${counter}, needs: [root] }`), `  - { id: sink, component: ${counter}, needs: [${ids.join(', ')}] }`]
      : ids.map((id) => `  - { id: ${id}, component: ${counter} }`);
  const yaml = `id: wide\ntasks:\n${lines.join('\n')}\n`;
  const r0 = performance.now();
  const { spec, revision } = await registerFlow(tutti.database.db, tutti.registry, parseFlow(yaml, path.join(dir, 'flow.yaml'), dir), 'bench');
  const registerMs = performance.now() - r0;
  await tutti.registry.get(spec.tasks[0]!.digest).then((c) => c.compile(256 << 20));
  await tutti.engine.start();
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const run = await prepareRun(tutti.assets, { spec, revision, files: {}, params: {} });
  await tutti.engine.submit(run, spec);
  const ended = await tutti.engine.waitForRun(run.id);
  const wallMs = performance.now() - t0;
  const mainActiveMs = performance.eventLoopUtilization(elu0).active;
  const cpu = process.cpuUsage(cpu0);
  delay.disable();
  const trs = await getTaskRuns(tutti.database.db, run.id);
  process.stdout.write(
    `${JSON.stringify({
      n, shape, workers, state: ended.state, succeeded: trs.filter((t) => t.state === 'succeeded').length, registerMs: Math.round(registerMs), wallMs: Math.round(wallMs), mainActiveMs: Math.round(mainActiveMs), cpuMs: Math.round((cpu.user + cpu.system) / 1000),
      // The histogram counts the sampling interval in every delay: reported without it.
      loopDelayP50Ms: Math.round(delay.percentile(50) / 1e6 - 10), loopDelayMaxMs: Math.round(delay.max / 1e6 - 10),
    })}\n`,
  );
} finally {
  await tutti.close();
  rmSync(dir, { recursive: true, force: true });
}
