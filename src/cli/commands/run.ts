import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadFlowFile } from '../../flow/index.js';
import { registerFlow } from '../../scheduler/flows.js';
import { triggerRun } from '../../scheduler/trigger.js';
import { cacheFile } from '../../assets/store.js';
import { getTaskRuns, runAssets, withContent } from '../../store/runs.js';
import { openTutti, type TuttiOptions } from '../../tutti.js';
import { RunProgress } from '../progress.js';
import { parsePairs } from '../pairs.js';

export interface RunOptions extends TuttiOptions {
  input: string[];
  param: string[];
}

/** One-shot local run with live progress. Resolves with the process exit code. */
export async function runCommand(flowFile: string, opts: RunOptions): Promise<number> {
  const parsed = loadFlowFile(flowFile);
  const files = Object.fromEntries(Object.entries(parsePairs(opts.input, '--input')).map(([k, v]) => [k, path.resolve(v)]));
  const params = parsePairs(opts.param, '--param');
  const tutti = await openTutti(opts);
  try {
    const { spec, revision } = await registerFlow(tutti.database.db, tutti.registry, parsed, flowFile);
    const runId = await triggerRun(tutti.database.db, tutti.assets, { spec, revision, files, params, trigger: 'cli', assetHint: 'give it with --input {name}=PATH' });
    process.stderr.write(`run ${runId} of ${spec.id} (revision ${revision})\n`);
    const progress = new RunProgress(spec.tasks.map((t) => t.id));
    const off = tutti.engine.onEvent((e) => e.runId === runId && progress.event(e));
    await tutti.engine.start();
    const run = await tutti.engine.waitForRun(runId);
    off();
    progress.stop();

    const db = tutti.database.db;
    const taskRuns = await getTaskRuns(db, runId);
    const needed = new Set(spec.tasks.flatMap((t) => t.needs));
    const finals = spec.tasks.filter((t) => !needed.has(t.id)).map((t) => t.id);
    const out = process.stdout;
    out.write(`\nrun ${runId}: ${run.state} in ${(run.finishedAt ?? Date.now()) - (run.startedAt ?? run.createdAt)} ms\n`);
    for (const t of spec.tasks) {
      const tr = taskRuns.find((x) => x.taskId === t.id)!;
      out.write(`  ${t.id.padEnd(16)} ${tr.state.padEnd(10)} ${tr.instanceCount ?? 0} instance(s)${tr.error ? `  ${tr.error}` : ''}\n`);
    }
    const outputs = (await runAssets(db, runId)).filter((a) => a.taskId && finals.includes(a.taskId));
    if (outputs.length) out.write('outputs:\n');
    for (const a of await withContent(db, outputs)) {
      const file = tutti.assets.localPath(a.location);
      // A small output is kept in the database: give it a file too, as the user expects one.
      if (a.content) await cacheFile(file, a.content);
      out.write(`  ${a.taskId}/${a.instanceIdx}/${a.name}  ${a.size} bytes  ${file}\n`);
      if (a.size <= 512) {
        const text = readFileSync(file, 'utf8');
        if (/^[\x09\x0a\x0d\x20-\x7e]*$/.test(text)) out.write(`    ${text.trimEnd().replace(/\n/g, '\n    ')}\n`);
      }
    }
    if (run.error) out.write(`error: ${run.error}\n`);
    return run.state === 'succeeded' ? 0 : 1;
  } finally {
    await tutti.close();
  }
}
