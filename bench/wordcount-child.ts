/**
 * Data scaling: the C word count as a wasm component over a generated text, with a lines split,
 * on `workers` worker threads, then a C `add` over the counts. Prints JSON: wall time, throughput,
 * and the count (to check it). The run is timed the second time in the process, as in a server
 * that has run the flow before: components compiled and every worker thread warm. The first
 * (cold) run is reported beside it.
 */
import { closeSync, fsyncSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseFlow } from '../src/flow/index.js';
import { packageRoot } from '../src/paths.js';
import { embedManifest } from '../src/runtime/manifest.js';
import { registerFlow } from '../src/scheduler/flows.js';
import { triggerRun } from '../src/scheduler/trigger.js';
import { instanceCounts } from '../src/store/run-queries.js';
import { runAssets, runInputAssets, type AssetRow } from '../src/store/runs.js';
import { openTutti } from '../src/tutti.js';

const textFile = process.argv[2]!;
const workers = Number(process.argv[3]);
const partMiB = Number(process.argv[4] ?? 128);
const size = statSync(textFile).size;
const dir = mkdtempSync(path.join(tmpdir(), 'tutti-bench-'));
const wasm = path.join(dir, 'wc.wasm');
// The component's policy: a lines split per `partMiB` (128 MiB is Hadoop's default block size).
writeFileSync(wasm, embedManifest(readFileSync(path.join(packageRoot, 'modules/dist/wordcount.wasm')), { split: 'lines', per: Math.round(partMiB * 2 ** 20), max: 1024 }));
const tutti = await openTutti({ home: path.join(dir, 'home'), workers });
try {
  const yaml = `id: wc\ninputs: { text: {} }\ntasks:\n  - { id: count, component: ${wasm}, inputs: [text], memory: 64MiB }\n  - { id: total, component: ${path.join(packageRoot, 'modules/dist/add.wasm')}, needs: [count] }\n`;
  const { spec, revision } = await registerFlow(tutti.database.db, tutti.registry, parseFlow(yaml, 'bench', dir), 'bench');
  await tutti.engine.start();
  // The input is copied into the asset store before the clock starts: the copy is not the task.
  // Flushed too: otherwise the kernel writes 1 GiB back to disk during the count, on the cores it measures.
  // The second run reads the asset the first one stored (shared, not copied again).
  const timed = async (input: { files: Record<string, string> } | { assets: Record<string, AssetRow[]> }) => {
    const runId = await triggerRun(tutti.database.db, tutti.assets, { spec, revision, ...input });
    for (const a of 'files' in input ? await runInputAssets(tutti.database.db, runId) : []) {
      const fd = openSync(tutti.assets.localPath(a.location), 'r');
      fsyncSync(fd);
      closeSync(fd);
    }
    const t0 = performance.now();
    tutti.engine.notify(runId);
    const run = await tutti.engine.waitForRun(runId);
    return { runId, run, wallMs: performance.now() - t0 };
  };
  const cold = await timed({ files: { text: textFile } });
  const { runId, run, wallMs } = await timed({ assets: { text: await runInputAssets(tutti.database.db, cold.runId) } });
  const total = (await runAssets(tutti.database.db, runId)).find((a) => a.taskId === 'total')!;
  const words = Number(readFileSync(tutti.assets.localPath(total.location), 'utf8'));
  process.stdout.write(`${JSON.stringify({ workers, partMiB, countInstances: [...(await instanceCounts(tutti.database.db, runId)).values()].reduce((n, c) => n + (c.succeeded ?? 0), 0) - 1, state: cold.run.state === 'succeeded' ? run.state : cold.run.state, coldMs: cold.wallMs, bytes: size, wallMs, mbPerS: size / 1e6 / (wallMs / 1000), words })}\n`);
} finally {
  await tutti.close();
  rmSync(dir, { recursive: true, force: true });
}
