/**
 * Tutti on workerd: `tutti deploy cloudflare --dry-run` builds the Workers bundle of the demo flow and
 * a sandbox flow, Miniflare runs exactly what wrangler would upload, and the answers over HTTP are
 * compared with the same components on the Node runtime.
 */
import assert from 'node:assert/strict';
import { createHash, randomInt } from 'node:crypto';
import { copyFileSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Miniflare } from 'miniflare';
import { R2AssetStore, type R2BucketLike } from '../src/assets/r2.js';
import { packageRoot } from '../src/paths.js';
import { ComponentCache } from '../src/runtime/component.js';
import { execute } from '../src/runtime/execute.js';
import { countWords, module, runTutti, tempDir, workerModules } from './helpers.js';

const MiB = 2 ** 20;
const PLANTED = `planted-${randomInt(1e9)}`;

/** Text with every kind of whitespace wordcount splits on, runs of it, and long lines. */
function generatedText(words: number): string {
  const gaps = [' ', '  ', '\t', '\n', '\r\n', '\v', '\f', ' \n\t'];
  const parts: string[] = [];
  for (let i = 0; i < words; i++) parts.push(`w${randomInt(1e6).toString(36)}`, gaps[randomInt(gaps.length)]!);
  return parts.join('');
}

/** One instance on the Node runtime, the way its worker threads run one. */
async function runOnNode(dir: string, wasm: string, input: string, output: string): Promise<string> {
  const cache = new ComponentCache(process.env.TUTTI_CACHE_DIR!);
  const prepared = await cache.prepare(readFileSync(wasm));
  const inputFile = path.join(dir, `node-${output}-in`);
  writeFileSync(inputFile, input);
  const result = await execute(
    {
      jobId: 1,
      modulesKey: 'node',
      moduleUrl: prepared.moduleUrl,
      contract: prepared.info.contract,
      call: 'run',
      partition: { index: 0, count: 1, slices: [{ input: 0, offset: 0, length: Buffer.byteLength(input) }] },
      inputs: [{ name: 'body', size: Buffer.byteLength(input), mediaType: 'text/plain', path: inputFile }],
      params: [],
      env: [],
      args: ['node'],
      outputDir: dir,
      outputStem: 'node-out-',
      limits: { outputBytes: 64 * MiB, logBytes: 64 * 1024, memoryBytes: 64 * MiB, planPartitions: 10 },
    },
    (await prepared.compile(64 * MiB)).modules,
    () => {},
  );
  assert.ok(result.ok, `the Node runtime failed: ${JSON.stringify(result)}`);
  const out = result.outputs.find((o) => o.name === output)!;
  return Buffer.from(out.bytes ?? readFileSync(out.path)).toString('utf8');
}

interface RunAnswer {
  run: string;
  outputs: { name: string; size: number; sha256: string; location: string }[];
  log: string;
}

describe('Cloudflare Workers bundle on workerd', () => {
  const dir = tempDir('tutti-edge-');
  const out = path.join(dir, 'edge');
  let mf: Miniflare;
  let build: { code: number; out: string };
  const sandboxFlow = path.join(dir, 'sandbox.yaml');

  const post = (task: string, body: string) => mf.dispatchFetch(`http://tutti.test/edge/run/${task}`, { method: 'POST', body });
  async function output(task: string, body: string): Promise<{ answer: RunAnswer; text: string }> {
    const res = await post(task, body);
    const answer = (await res.json()) as RunAnswer;
    assert.equal(res.status, 200, JSON.stringify(answer));
    const bytes = await mf.dispatchFetch(`http://tutti.test/edge/assets/${answer.outputs[0]!.location}`);
    assert.equal(bytes.status, 200);
    return { answer, text: await bytes.text() };
  }

  before(async () => {
    writeFileSync(
      sandboxFlow,
      [
        'id: sandbox',
        'tasks:',
        `  - { id: fs, component: ${module('adv-fs')} }`,
        `  - { id: env, component: ${module('adv-env')}, env: { GIVEN: "yes" } }`,
        `  - { id: exit, component: ${module('adv-exit')} }`,
        `  - { id: sleep, component: ${module('sleep')}, env: { SLEEP_MS: "10" } }`,
        `  - { id: scratch, component: ${module('adv-scratch')}, scratch: true }`,
        `  - { id: oom, component: ${module('adv-oom')}, memory: 16MiB }`,
        `  - { id: greedy, component: ${module('adv-oom')}, memory: 512MiB }`,
        '',
      ].join('\n'),
    );
    // A copy of the repository's wrangler.toml: wrangler keeps its scratch files (.wrangler/) next to its config.
    const config = path.join(dir, 'wrangler.toml');
    copyFileSync(path.join(packageRoot, 'wrangler.toml'), config);
    build = await runTutti(['deploy', 'cloudflare', '--dry-run', '--config', config, '--out', out, '--home', path.join(dir, 'home'), 'modules/demo/word-count.yaml', sandboxFlow]);
    assert.equal(build.code, 0, build.out);
    const dist = path.join(out, 'dist');
    // What wrangler would upload: its bundled entry plus every module it attached, listed by hand
    // since Miniflare cannot follow the run-time import() of the bindings.
    mf = new Miniflare({
      modulesRoot: dist,
      modules: workerModules(dist),
      compatibilityDate: '2026-04-01',
      compatibilityFlags: ['nodejs_compat'],
      r2Buckets: ['ASSETS'],
      // A Worker secret no task asked for: no task may see it.
      bindings: { TUTTI_PLANTED: PLANTED },
    });
    await mf.ready;
  });

  after(async () => {
    await mf?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('builds a bundle with every core module a CompiledWasm module of its own', (t) => {
    assert.match(build.out, /--dry-run: exiting now/);
    assert.match(build.out, /compiled-wasm/);
    const modules = readFileSync(path.join(out, 'bundle', 'modules.js'), 'utf8');
    assert.doesNotMatch(modules, /WebAssembly\.(compile|Module\()/, 'nothing compiles wasm at run time');
    const wasm = readdirSync(path.join(out, 'dist'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.wasm'));
    for (const f of wasm) assert.ok(modules.includes(`/${f.split(path.sep).join('/')}"`), `${f} is imported by the module map`);
    // wordcount serves two flows and three tasks, once.
    // adv-oom twice: one copy per memory cap.
    assert.equal(wasm.filter((f) => f.endsWith('component.core.wasm')).length, 9);
    assert.match(build.out, /task greedy asks for 512 MiB of memory; on Workers it gets 64 MiB/);
    const size = wasm.reduce((n, f) => n + statSync(path.join(out, 'dist', f)).size, statSync(path.join(out, 'dist', 'entry.js')).size);
    t.diagnostic(`bundle: ${(size / MiB).toFixed(2)} MiB, of which the entry is ${(statSync(path.join(out, 'dist', 'entry.js')).size / 1024).toFixed(0)} KiB`);
  });

  it('serves /healthz with the deployed tasks', async () => {
    const res = await mf.dispatchFetch('http://tutti.test/healthz');
    assert.equal(res.status, 200);
    const body = (await res.json()) as { ok: boolean; tasks: string[] };
    assert.equal(body.ok, true);
    assert.deepEqual(body.tasks.sort(), ['sandbox/env', 'sandbox/exit', 'sandbox/fs', 'sandbox/greedy', 'sandbox/oom', 'sandbox/scratch', 'sandbox/sleep', 'word-count/count-more', 'word-count/count-text', 'word-count/total']);
  });

  it('counts words in workerd exactly as the Node runtime does (wasi:cli/command)', async () => {
    const text = generatedText(200_000);
    const expected = `${countWords(text)}\n`;
    const { answer, text: edge } = await output('word-count/count-text', text);
    assert.equal(edge, expected);
    assert.equal(await runOnNode(dir, module('wordcount'), text, 'stdout'), expected);
    assert.equal(answer.outputs[0]!.sha256, createHash('sha256').update(expected).digest('hex'));
  });

  it('runs a typed tutti:task component (componentize-js) in workerd as on Node', async () => {
    const numbers = Array.from({ length: 5000 }, () => randomInt(-1e6, 1e6));
    const input = numbers.join('\n');
    const expected = `${numbers.reduce((a, b) => a + b, 0)}\n`;
    const { answer, text } = await output('word-count/total', input);
    assert.deepEqual(answer.outputs.map((o) => o.name), ['sum']);
    assert.equal(text, expected);
    assert.equal(await runOnNode(dir, module('sum'), input, 'sum'), expected);
  });

  it('keeps outputs in R2, readable through R2AssetStore', async () => {
    const { answer } = await output('word-count/count-more', 'a b c');
    const store = new R2AssetStore((await mf.getR2Bucket('ASSETS')) as unknown as R2BucketLike);
    const location = answer.outputs[0]!.location;
    assert.equal(new TextDecoder().decode(await store.read(location)), '3\n');
    assert.equal(await store.size(location), 2);
    const upload = await store.importBytes('runs/r1/input-text', new TextEncoder().encode('hello range'));
    assert.equal(upload.sha256, createHash('sha256').update('hello range').digest('hex'));
    assert.equal(new TextDecoder().decode(await store.readRange('runs/r1/input-text', 6, 5)), 'range');
    await store.write('runs/r1/t/0.a1-stdout', new Uint8Array([1]));
    await store.write('runs/r1/t/0.a2-stdout', new Uint8Array([2]));
    assert.equal(await store.removeMatching('runs/r1/t', '0.a1-'), 1);
    await assert.rejects(store.read('runs/r1/t/0.a1-stdout'), /not in the R2 bucket/);
    assert.throws(() => store.localPath('runs/r1/input-text'), /no local path/);
    assert.throws(() => store.scratchDir('../x'), /invalid asset location/);
  });

  it('gives a task no host file, directory or Worker binding', async () => {
    const { text: fs } = await output('sandbox/fs', '');
    assert.doesNotMatch(fs, /LEAKED/);
    for (const what of ['/etc/passwd', '../../../../etc/passwd', './secret.txt', 'opendir /', 'opendir .']) {
      assert.match(fs, new RegExp(`^${what.replace(/[./]/g, '\\$&')}: denied \\(`, 'm'));
    }
    const { text: env } = await output('sandbox/env', '');
    assert.doesNotMatch(env, new RegExp(PLANTED));
    const names = env.split('args:')[0]!.trim().split('\n').map((l) => l.split('=')[0]).sort();
    assert.deepEqual(names, ['GIVEN', 'TUTTI_PARTITION_COUNT', 'TUTTI_PARTITION_INDEX', 'TUTTI_RUN_ID', 'TUTTI_TASK']);
    assert.match(env, /^argv\[0\]=env$/m);
  });

  it('grants /scratch in workerd\'s per-request memory, and it cannot be left', async () => {
    const { text } = await output('sandbox/scratch', '');
    assert.doesNotMatch(text, /LEAKED/);
    assert.match(text, /^readback: ok scratch works$/m);
    assert.match(text, /^read \/scratch\/\.\.\/etc\/passwd: denied/m);
    assert.match(text, /^read \/scratch\/work\/\.\.\/\.\.\/etc\/passwd: denied/m);
    assert.match(text, /^symlink: denied/m);
    // The same request's /tmp held the instance's own input and output files: the guest saw none of them.
    assert.match(text, /^list \/scratch: ok work$/m);
  });

  it('ends the instance, not the Worker, when a task exits', async () => {
    const res = await post('sandbox/exit', '');
    assert.equal(res.status, 422);
    const body = (await res.json()) as { error: { code: string; message: string; details: { log: string } } };
    assert.equal(body.error.code, 'exited');
    assert.equal(body.error.message, 'exited with code 1');
    assert.match(body.error.details.log, /before exit/);
    assert.equal((await mf.dispatchFetch('http://tutti.test/healthz')).status, 200);
    const { text } = await output('word-count/count-text', 'still here');
    assert.equal(text, '2\n');
  });

  it('caps an instance\'s memory at build time: at the flow\'s cap, and at most 64 MiB', async () => {
    for (const [task, mib] of [['sandbox/oom', 16], ['sandbox/greedy', 64]] as const) {
      const res = await post(task, '');
      assert.equal(res.status, 422);
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'out-of-memory');
      assert.match(body.error.message, new RegExp(`memory cap of ${mib} MiB`));
    }
  });

  it('fails a task that sleeps with a clear message (a Worker cannot block; not retried)', async () => {
    const res = await post('sandbox/sleep', 'x');
    assert.equal(res.status, 422);
    const body = (await res.json()) as { error: { message: string; details: { retryable: boolean } } };
    assert.match(body.error.message, /waited on a clock .* which tasks cannot do on Workers yet/);
    assert.equal(body.error.details.retryable, false);
  });

  it('answers unknown tasks with a 404 naming the deployed ones', async () => {
    const res = await post('word-count/nope', 'x');
    assert.equal(res.status, 404);
    assert.match(((await res.json()) as { error: { message: string } }).error.message, /no task word-count\/nope in this deployment; it has: .*word-count\/total/);
  });

  it('refuses to build flows Workers cannot run, saying why', async () => {
    const flow = path.join(dir, 'net.yaml');
    writeFileSync(flow, `id: net\ntasks:\n  - { id: get, component: ${module('wordcount')}, network: { allow: [example.com] } }\n  - { id: named, component: wordcount@1.0.0 }\n`);
    const res = await runTutti(['deploy', 'cloudflare', '--dry-run', '--config', path.join(dir, 'wrangler.toml'), '--out', path.join(dir, 'refused'), flow]);
    assert.equal(res.code, 2, res.out);
    assert.match(res.out, /tasks\[0\]: outgoing HTTP \(network\.allow\) is not available to tasks on Workers yet/);
    assert.match(res.out, /tasks\[1\]: component "wordcount@1\.0\.0" is a name@version; a Workers bundle is built from \.wasm files/);
 
    const notTask = path.join(dir, 'not-task.yaml');
    writeFileSync(notTask, `id: not-task\ntasks:\n  - { id: t, component: ${module('not-a-task')} }\n`);
    const rejected = await runTutti(['deploy', 'cloudflare', '--dry-run', '--config', path.join(dir, 'wrangler.toml'), '--out', path.join(dir, 'refused'), notTask]);
    assert.equal(rejected.code, 2, rejected.out);
    assert.match(rejected.out, /not-task\.yaml tasks\[0\]\.component: .*not-a-task\.wasm: the component satisfies no task contract/);
    const bare = path.join(dir, 'bare.toml');
    writeFileSync(bare, 'name = "bare"\ncompatibility_date = "2026-04-01"\n');
    const noConfig = await runTutti(['deploy', 'cloudflare', '--dry-run', '--config', bare, '--out', path.join(dir, 'refused'), 'modules/demo/word-count.yaml']);
    assert.equal(noConfig.code, 2, noConfig.out);
    assert.match(noConfig.out, /bare\.toml lacks what the Tutti bundle needs .*\n  find_additional_modules = true\n  rules = .*\n  compatibility_flags = \["nodejs_compat"\]/);
  });
});
