/** Shared test fixtures: a private Tutti home per test, flows written next to it, runs to completion. */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseFlow } from '../src/flow/index.js';
import { packageRoot } from '../src/paths.js';
import { registerFlow } from '../src/scheduler/flows.js';
import { readAsset } from '../src/scheduler/inputs.js';
import { prepareRun } from '../src/scheduler/trigger.js';
import type { AssetRow } from '../src/store/runs.js';
import { openTutti, type Tutti, type TuttiOptions } from '../src/tutti.js';

// Transpiled components are keyed by digest: one cache for the whole suite saves a transpile per test.
process.env.TUTTI_CACHE_DIR ??= path.join(tmpdir(), 'tutti-test-cache');

export const MODULES = path.join(packageRoot, 'modules', 'dist');
export const module = (name: string) => path.join(MODULES, `${name}.wasm`);

const made: string[] = [];
// Each test file runs in a process of its own: its directories go when it exits.
process.on('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

export function tempDir(prefix = 'tutti-test-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export interface Harness {
  dir: string;
  tutti: Tutti;
  /** Write a file into the test directory and return its path. */
  file(name: string, content: string | Uint8Array): string;
  /** Register a flow (YAML text) and start a run of it; resolves with the run id at once. */
  start(yaml: string, files?: Record<string, string>, params?: Record<string, unknown>): Promise<string>;
  /** Register a flow (YAML text) and run it to the end with the given asset inputs. */
  run(yaml: string, files?: Record<string, string>, params?: Record<string, unknown>): Promise<string>;
  /** An asset's bytes as text, from its row (a small output) or its file. */
  text(asset: AssetRow): Promise<string>;
  close(): Promise<void>;
}

export async function harness(opts: TuttiOptions = {}): Promise<Harness> {
  const dir = tempDir();
  const tutti = await openTutti({ home: path.join(dir, 'home'), workers: 2, ...opts });
  await tutti.engine.start();
  const file = (name: string, content: string | Uint8Array) => {
    const p = path.join(dir, name);
    writeFileSync(p, content);
    return p;
  };
  const start: Harness['start'] = async (yaml, files = {}, params = {}) => {
    const flowFile = path.join(dir, 'flow.yaml');
    const parsed = parseFlow(yaml, flowFile, dir);
    const { spec, revision } = await registerFlow(tutti.database.db, tutti.registry, parsed, flowFile);
    // As the API does: the engine records the run and starts it in the same commit.
    const run = await prepareRun(tutti.assets, { spec, revision, files, params });
    await tutti.engine.submit(run, spec);
    return run.id;
  };
  return {
    dir,
    tutti,
    file,
    start,
    async run(yaml, files = {}, params = {}) {
      const runId = await start(yaml, files, params);
      await tutti.engine.waitForRun(runId);
      return runId;
    },
    async text(asset) {
      return Buffer.from(await readAsset(tutti.database.db, tutti.assets, asset)).toString('utf8');
    },
    async close() {
      await tutti.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Whitespace-separated words, the reference the wordcount component must agree with. */
export function countWords(text: string): number {
  return text.split(/[ \t\n\r\v\f]+/).filter(Boolean).length;
}

/** The `tutti` command as a child process, in the checkout, with stdout and stderr as one text. */
export function runTutti(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(packageRoot, 'bin', 'tutti.mjs'), ...args], { cwd: packageRoot, env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code: code ?? 1, out }));
  });
}

/** A built Worker bundle's modules as Miniflare takes them: entry.js first, every .wasm precompiled. */
export function workerModules(dist: string) {
  const files = readdirSync(dist, { recursive: true, encoding: 'utf8' }).filter((f) => /\.(js|wasm)$/.test(f) && f !== 'entry.js');
  return [
    { type: 'ESModule' as const, path: path.join(dist, 'entry.js') },
    ...files.map((f) => ({ type: f.endsWith('.wasm') ? ('CompiledWasm' as const) : ('ESModule' as const), path: path.join(dist, f) })),
  ];
}
