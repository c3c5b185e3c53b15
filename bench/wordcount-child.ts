/**
 * Data scaling: the C word count as a wasm component over a generated text, with a lines split,
 * then a C `add` over the counts; beside it the same C source compiled natively. Prints JSON.
 *
 * Everything is measured in rounds inside this one process, so a slow stretch of a shared VM hits
 * every configuration alike: each round runs native on one core, native on all cores (one process
 * per slice), the flow on one worker and the flow on all workers, in an order that alternates
 * between rounds. Ratios are taken within a round and reported as medians. Two servers live in
 * this process, one with a single worker and one with a worker per core. Each runs the flow once
 * untimed first (components compiled, workers warm), as a server that has run it before would;
 * that first run is reported beside the rest.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, fsyncSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { parseFlow } from '../src/flow/index.js';
import { packageRoot } from '../src/paths.js';
import { embedManifest } from '../src/runtime/manifest.js';
import { registerFlow } from '../src/scheduler/flows.js';
import { readAsset } from '../src/scheduler/inputs.js';
import { triggerRun } from '../src/scheduler/trigger.js';
import { instanceCounts } from '../src/store/run-queries.js';
import { runAssets, runInputAssets, type AssetRow } from '../src/store/runs.js';
import { openTutti } from '../src/tutti.js';

const textFile = path.resolve(process.argv[2]!);
const rounds = Number(process.argv[3] ?? 5);
const partMiB = Number(process.argv[4] ?? 128);
const cores = cpus().length;
const size = statSync(textFile).size;
const dir = mkdtempSync(path.join(tmpdir(), 'tutti-bench-'));

// The native baseline: the same C source, cc -O2, reading the whole file or one slice per core.
const bin = path.join(dir, 'wordcount-native');
execFileSync('cc', ['-O2', '-o', bin, path.join(packageRoot, 'modules/c/wordcount.c')]);
const part = Math.ceil(size / cores);
// Slices as files of their own (made once, kept beside the text), so each process reads a file, not a pipe.
const slices = Array.from({ length: cores }, (_, i) => {
  const slice = `${textFile}.slice${i}of${cores}`;
  if (!existsSync(slice) || statSync(slice).size !== Math.min(part, size - i * part)) execFileSync('sh', ['-c', `tail -c +${i * part + 1} "${textFile}" | head -c ${part} > "${slice}"`]);
  return slice;
});
const timeSh = (cmd: string) => {
  const t0 = performance.now();
  const out = execFileSync('sh', ['-c', cmd], { encoding: 'utf8' });
  return { ms: performance.now() - t0, out };
};
const nativeOne = () => timeSh(`"${bin}" < "${textFile}"`);
const nativeAll = () => timeSh(`${slices.map((f) => `"${bin}" < "${f}" &`).join(' ')} wait`);

const wasm = path.join(dir, 'wc.wasm');
// The component's policy: a lines split per `partMiB` (128 MiB is Hadoop's default block size).
writeFileSync(wasm, embedManifest(readFileSync(path.join(packageRoot, 'modules/dist/wordcount.wasm')), { split: 'lines', per: Math.round(partMiB * 2 ** 20), max: 1024 }));
// Two servers in this process, each with its own home: one with a single worker, one with a worker per core.
const servers = { one: await openTutti({ home: path.join(dir, 'one'), workers: 1 }), all: await openTutti({ home: path.join(dir, 'all'), workers: cores }) };
try {
  const yaml = `id: wc\ninputs: { text: {} }\ntasks:\n  - { id: count, component: ${wasm}, inputs: [text], memory: 64MiB }\n  - { id: total, component: ${path.join(packageRoot, 'modules/dist/add.wasm')}, needs: [count] }\n`;
  const flows = {
    one: await registerFlow(servers.one.database.db, servers.one.registry, parseFlow(yaml, 'bench', dir), 'bench'),
    all: await registerFlow(servers.all.database.db, servers.all.registry, parseFlow(yaml, 'bench', dir), 'bench'),
  };
  for (const s of Object.values(servers)) await s.engine.start();
  const stored: Partial<Record<keyof typeof servers, Record<string, AssetRow[]>>> = {};
  const results: { runId: string; state: string; words: number; instances: number; ms: number }[] = [];
  const timed = async (which: keyof typeof servers) => {
    const { spec, revision } = flows[which];
    const tutti = servers[which];
    const db = tutti.database.db;
    // The first run copies the input into the asset store; every later run shares that stored asset.
    const runId = await triggerRun(db, tutti.assets, { spec, revision, ...(stored[which] ? { assets: stored[which] } : { files: { text: textFile } }) });
    if (!stored[which]) {
      stored[which] = { text: await runInputAssets(db, runId) };
      // Flushed before the clock starts: otherwise the kernel writes it back during the count, on the cores it measures.
      for (const a of stored[which].text!) {
        const fd = openSync(tutti.assets.localPath(a.location), 'r');
        fsyncSync(fd);
        closeSync(fd);
      }
    }
    const t0 = performance.now();
    tutti.engine.notify(runId);
    const run = await tutti.engine.waitForRun(runId);
    const ms = performance.now() - t0;
    const total = (await runAssets(db, runId)).find((a) => a.taskId === 'total');
    const instances = [...(await instanceCounts(db, runId)).values()].reduce((n, c) => n + (c.succeeded ?? 0), 0) - 1;
    const words = total ? Number(Buffer.from(await readAsset(db, tutti.assets, total)).toString('utf8')) : NaN;
    results.push({ runId, state: run.state, words, instances, ms });
    return ms;
  };
  const first = { one: await timed('one'), all: await timed('all') };
  const nativeWords = Number(nativeOne().out);
  const byRound: { nativeOneMs: number; nativeAllMs: number; wasmOneMs: number; wasmAllMs: number }[] = [];
  for (let r = 0; r < rounds; r++) {
    const steps = [
      async () => ({ nativeOneMs: nativeOne().ms }),
      async () => ({ nativeAllMs: nativeAll().ms }),
      async () => ({ wasmOneMs: await timed('one') }),
      async () => ({ wasmAllMs: await timed('all') }),
    ];
    if (r % 2) steps.reverse();
    let round = {};
    for (const step of steps) round = { ...round, ...(await step()) };
    byRound.push(round as (typeof byRound)[number]);
  }
  process.stdout.write(
    `${JSON.stringify({
      cores,
      partMiB,
      bytes: size,
      instances: results[0]!.instances,
      state: results.every((r) => r.state === 'succeeded') ? 'succeeded' : results.find((r) => r.state !== 'succeeded')!.state,
      words: results[0]!.words,
      nativeWords,
      countsAgree: results.every((r) => r.words === nativeWords && r.instances === results[0]!.instances),
      firstRunMs: first,
      rounds: byRound,
    })}\n`,
  );
} finally {
  for (const s of Object.values(servers)) await s.close();
  rmSync(dir, { recursive: true, force: true });
}
