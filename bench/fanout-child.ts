/**
 * One fan-out measurement in its own process (so peak RSS is its own): a no-op command component
 * with a manifest of one instance per input byte, over an N-byte input, on an embedded file DB.
 * Prints JSON: wall time of the run, and the same N instances through the worker pool alone.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseFlow } from '../src/flow/index.js';
import { packageRoot } from '../src/paths.js';
import { embedManifest } from '../src/runtime/manifest.js';
import { registerFlow } from '../src/scheduler/flows.js';
import { triggerRun } from '../src/scheduler/trigger.js';
import { getTaskRuns } from '../src/store/runs.js';
import { openTutti } from '../src/tutti.js';

const n = Number(process.argv[2]);
const workers = Number(process.argv[3] ?? 2);
const dir = mkdtempSync(path.join(tmpdir(), 'tutti-bench-'));
const wasm = path.join(dir, 'noop.wasm');
writeFileSync(wasm, embedManifest(readFileSync(path.join(packageRoot, 'modules/dist/counter.wasm')), { split: 'bytes', per: 1, max: 1_000_000 }));
const input = path.join(dir, 'in.bin');
writeFileSync(input, Buffer.alloc(n, 120));
const tutti = await openTutti({ home: path.join(dir, 'home'), workers });
try {
  const yaml = `id: fanout\ninputs: { x: {} }\ntasks:\n  - { id: noop, component: ${wasm}, inputs: [x] }\n`;
  const { spec, revision } = await registerFlow(tutti.database.db, tutti.registry, parseFlow(yaml, 'bench', dir), 'bench');
  await tutti.registry.get(spec.tasks[0]!.digest).then((c) => c.compile(256 << 20));
  await tutti.engine.start();
  let healthzMax = 0;
  const t0 = performance.now();
  const runId = await triggerRun(tutti.database.db, tutti.assets, { spec, revision, files: { x: input } });
  tutti.engine.notify(runId);
  // The event loop must keep answering while the fan-out runs: sample its responsiveness.
  const probe = setInterval(() => {
    const s = performance.now();
    void tutti.database.client.execute('SELECT 1').then(() => (healthzMax = Math.max(healthzMax, performance.now() - s)));
  }, 200);
  const run = await tutti.engine.waitForRun(runId);
  const wallMs = performance.now() - t0;
  clearInterval(probe);
  const [tr] = await getTaskRuns(tutti.database.db, runId);
  process.stdout.write(
    `${JSON.stringify({ n, workers, state: run.state, instances: tr!.instanceCount, wallMs, maxProbeMs: healthzMax, peakRssMiB: process.resourceUsage().maxRSS / 1024 })}\n`,
  );
} finally {
  await tutti.close();
  rmSync(dir, { recursive: true, force: true });
}
