/**
 * docs/writing-tasks.md, run as written: Tutti is installed from a packed copy of this checkout with the
 * page's set-up commands, then every language's template is scaffolded with `tutti new task`,
 * built from source by its own build script, and run; then each built task runs again over a generated
 * text and the polyglot flow (C, Rust, AssemblyScript, Go, TypeScript) over a generated access log, with outputs checked against values computed here.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { packageRoot } from '../src/paths.js';
import { countWords, tempDir } from './helpers.js';

const exec = promisify(execFile);
const docs = readFileSync(path.join(packageRoot, 'docs', 'writing-tasks.md'), 'utf8');

/** The ```sh blocks of the section that starts with `heading`. */
function blocks(heading: string): string[] {
  const start = docs.indexOf(`\n## ${heading}`);
  assert.ok(start >= 0, `docs/writing-tasks.md has no section "${heading}"`);
  const end = docs.indexOf('\n## ', start + 4);
  const section = docs.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

async function sh(script: string, cwd: string, env: Record<string, string> = {}): Promise<{ stdout: string; seconds: number }> {
  const t0 = performance.now();
  // Under `npm test`, npm's own npm_* variables would steer the page's npm commands; a reader's shell has none.
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  try {
    const { stdout } = await exec('bash', ['-ec', script], { cwd, env: { ...clean, ...env }, maxBuffer: 64 * 1024 * 1024, timeout: 240_000 });
    return { stdout, seconds: (performance.now() - t0) / 1000 };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    assert.fail(`failed in ${cwd}:\n${script}\n${err.stderr ?? ''}\n${(err.stdout ?? '').slice(-2000)}\n${err.message}`);
  }
}

/** The contents of the final outputs a `tutti run` printed (`  name  N bytes  /path`). */
function outputs(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of stdout.matchAll(/^ {2}(\S+) +\d+ bytes +(\/\S+)$/gm)) out.set(m[1]!, readFileSync(m[2]!, 'utf8'));
  return out;
}

/** A text of `n` words with every kind of whitespace between them, and words split across lines. */
function text(n: number, seed: number): string {
  let x = seed;
  const next = () => (x = (x * 1103515245 + 12345) % 2147483648) >> 8;
  const gaps = [' ', '  ', '\t', '\n', ' \n', '\r\n', '\v', '\f'];
  const words = Array.from({ length: n }, () => 'abcdefghij'.slice(0, 1 + (next() % 10)) + String(next() % 1000));
  return `${words.map((w) => w + gaps[next() % gaps.length]).join('')}`;
}

const LANGS = [
  { section: 'C, command world', task: 'hello-c', out: /\/stdout$/ },
  { section: 'C, typed world with `plan`', task: 'hello-ct', out: /\/words$/ },
  { section: 'TypeScript, typed world with `plan`', task: 'hello-ts', out: /\/words$/ },
  { section: 'AssemblyScript, command world', task: 'hello-as', out: /\/stdout$/ },
  { section: 'Rust, command world', task: 'hello-rs', out: /\/stdout$/ },
  { section: 'Go, command world', task: 'hello-go', out: /\/stdout$/ },
  { section: 'C++, command world', task: 'hello-cpp', out: /\/stdout$/ },
];

describe('docs/writing-tasks.md', () => {
  let work: string;
  const ran = new Map<string, string>();
  let polyglotRun: Promise<string>;

  let root: string | undefined;
  let setUp: { stdout: string; seconds: number };
  before(async () => {
    // The polyglot build runs in the checkout, alongside the set-up and the language sections.
    polyglotRun = (async () => {
      const [build, run] = blocks('A polyglot flow')[0]!.trim().split('\n');
      const b = await sh(build!, packageRoot);
      process.stderr.write(`# polyglot build: ${b.seconds.toFixed(1)} s\n`);
      return (await sh(run!, packageRoot)).stdout;
    })();
    polyglotRun.catch(() => {});

    // TUTTI_SRC is a copy of this checkout: `npm pack` rebuilds the dist/ of the checkout it packs,
    // and other test files run from this one's. Build outputs and dot-directories are left out; the
    // copy shares the checkout's node_modules, as a checkout "where npm install has been run".
    root = tempDir('tutti-docs-');
    const src = path.join(root, 'tutti');
    cpSync(packageRoot, src, {
      recursive: true,
      filter: (from) => {
        const name = path.basename(from);
        return from === packageRoot || !(name.startsWith('.') || name === 'node_modules' || name === 'dist');
      },
    });
    symlinkSync(path.join(packageRoot, 'node_modules'), path.join(src, 'node_modules'));
    work = path.join(root, 'my-tasks');
    mkdirSync(work);
    setUp = await sh(blocks('Set up')[0]!, work, { TUTTI_SRC: src });
    process.stderr.write(`# set-up (npm pack + npm install): ${setUp.seconds.toFixed(1)} s\n`);
  });

  after(() => root && rmSync(root, { recursive: true, force: true }));

  it('Set up: installs Tutti from the packed checkout, and `npx tutti` is that package', () => {
    assert.match(setUp.stdout, /^tutti-0\.1\.0\.tgz$/m);
    const installed = path.join(work, 'node_modules', 'tutti');
    // A real install of the tarball's contents, not a link to the checkout.
    assert.ok(!lstatSync(installed).isSymbolicLink());
    for (const f of ['bin/tutti.mjs', 'dist/src/cli/main.js', 'wit/task.wit', 'guest/c/tutti.h', 'templates/c/build.sh']) {
      assert.ok(existsSync(path.join(installed, f)), `the tarball has no ${f}`);
    }
    assert.ok(!existsSync(path.join(installed, 'dist', 'test')), 'the tarball carries the tests');
    assert.equal(realpathSync(path.join(work, 'node_modules', '.bin', 'tutti')), path.join(realpathSync(installed), 'bin', 'tutti.mjs'));
    assert.match(setUp.stdout, /Languages:\n {2}ts +TypeScript/);
    assert.match(setUp.stdout, /python-componentize-py +Python, typed world \(componentize-py\) — not built in CI/);
  });

  for (const lang of LANGS) {
    it(`${lang.section}: scaffolds, builds and runs as written, and counts words right`, async (t) => {
      const [script] = blocks(lang.section);
      const { stdout, seconds } = await sh(script!, work);
      t.diagnostic(`${lang.task}: walkthrough (scaffold + build + run) ${seconds.toFixed(1)} s`);
      const sample = readFileSync(path.join(work, lang.task, 'sample.txt'), 'utf8');
      const sampleOut = [...outputs(stdout)].filter(([n]) => lang.out.test(n));
      assert.ok(sampleOut.length >= 1, `no output in:\n${stdout}`);
      assert.equal(sampleOut.reduce((n, [, v]) => n + Number(v), 0), countWords(sample));
      ran.set(lang.task, stdout);

      // Again over a bigger generated text; the typed tasks' plan splits it into many partitions.
      const input = text(3000, lang.task.length);
      const file = path.join(work, `${lang.task}-input.txt`);
      writeFileSync(file, input);
      const again = await sh(`npx tutti run ${lang.task}/flow.yaml --input text=${file}`, work);
      const parts = [...outputs(again.stdout)].filter(([n]) => lang.out.test(n));
      if (lang.out.source.includes('words')) assert.ok(parts.length > 100, `plan made ${parts.length} partitions`);
      assert.equal(parts.reduce((n, [, v]) => n + Number(v), 0), countWords(input));
    });
  }

  it('typed templates are reported as planned tasks by `tutti inspect` in the walkthrough', () => {
    for (const task of ['hello-ct', 'hello-ts']) {
      const stdout = ran.get(task);
      assert.ok(stdout, `${task} did not run`);
      assert.match(stdout, /contract: tutti:task\/planned-task/);
      assert.match(stdout, /scaling: +its own plan export/);
      assert.match(stdout, /imports: +tutti:task\/host\n/);
    }
  });

  it('A polyglot flow: builds and runs as written, and its report matches the access log', async () => {
    const stdout = await polyglotRun;
    assert.match(stdout, /parse +succeeded +\d+ instance/);
    const log = readFileSync(path.join(packageRoot, 'modules', 'polyglot', 'access-log.txt'), 'utf8');
    const report = JSON.parse(outputs(stdout).get('report/0/report')!);
    const byStatus: Record<string, number> = {};
    let sum = 0;
    let max = 0;
    let requests = 0;
    for (const line of log.split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4 || !/^\d+$/.test(f[2]!) || !/^\d+$/.test(f[3]!)) continue;
      const status = Number(f[2]);
      const ms = Number(f[3]);
      byStatus[status] = (byStatus[status] ?? 0) + 1;
      requests++;
      sum += ms;
      max = Math.max(max, ms);
    }
    const count = (test: (s: number) => boolean) => Object.entries(byStatus).reduce((n, [s, c]) => (test(Number(s)) ? n + c : n), 0);
    assert.deepEqual(report, {
      requests,
      byStatus,
      clientErrors: count((s) => s >= 400 && s < 500),
      serverErrors: count((s) => s >= 500),
      latencyMs: { mean: Math.round((sum / requests) * 100) / 100, max },
    });
    // histogram (Go): latency buckets by upper bound.
    const bounds = [10, 100, 250, 500, 1000];
    const buckets = new Map<string, number>([...bounds.map((b) => [`<${b}`, 0] as [string, number]), ['>=1000', 0]]);
    for (const line of log.split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4 || !/^\d+$/.test(f[2]!) || !/^\d+$/.test(f[3]!)) continue;
      const ms = Number(f[3]);
      const b = bounds.find((x) => ms < x);
      const key = b === undefined ? '>=1000' : `<${b}`;
      buckets.set(key, buckets.get(key)! + 1);
    }
    assert.equal(outputs(stdout).get('histogram/0/stdout'), [...buckets].map(([k, n]) => `${k} ${n}\n`).join(''));
    const parse = /parse +succeeded +(\d+) instance/.exec(stdout)!;
    assert.ok(Number(parse[1]) > 1, 'parse did not fan out');
  });
});
