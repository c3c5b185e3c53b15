#!/usr/bin/env node
// Builds the example and test task components into modules/dist/<name>.wasm.
//
//   node modules/build.mjs [--force] [name...]
//
// Incremental: a target is rebuilt only when an input (its sources, this script, the
// jco / componentize-js version) is newer than its output, so a second run is instant.
// Prints one line per module built; exits 1 when any target fails.
//
// Toolchains: C needs clang + wasm-ld + Debian's wasi-libc (sysroot /usr) and is set up
// by scripts/setup-toolchains.sh when missing; set WASI_SDK_PATH to use a wasi-sdk instead.
// JS uses componentize-js (in-process) and WAT uses jco's bundled wasm-tools.
//
// Run it as a separate process (e.g. from test setup): it sets preview2-shim's global
// filesystem preopens, which componentize-js needs and a host in the same process must not inherit.
import { spawn } from 'node:child_process';
import { existsSync, statSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { delimiter, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'modules', 'dist');
const SELF = fileURLToPath(import.meta.url);
const JCO_PKG = join(ROOT, 'node_modules/@bytecodealliance/jco/package.json');
const CJS_PKG = join(ROOT, 'node_modules/@bytecodealliance/componentize-js/package.json');

/**
 * kind c:   wasm32-wasi command → `jco new --wasi-command` (optionally with embedded WIT
 *           for imports the preview1 adapter does not provide). `cflags`: extra clang flags.
 *           `typed: true`: a typed task through guest/c/tutti.h (libc, no WASI, no entry point,
 *           no adapter; the header carries the world's type), as templates/c-typed builds one.
 *           `freestanding: true`: no libc, no start files, no entry point and no preview1
 *           adapter — a core module exporting world functions by hand (canonical ABI), made a
 *           component with `embed` (e.g. wit/task.wit, world planned-task) and `jco new`.
 * kind wat: component or core-module text → `jco parse`.
 * kind js:  componentize-js against a world of wit/.
 */
const TARGETS = [
  { name: 'wordcount', kind: 'c', src: 'modules/c/wordcount.c' },
  { name: 'add', kind: 'c', src: 'modules/c/add.c' },
  { name: 'fib', kind: 'c', src: 'modules/c/fib.c' },
  { name: 'sleep', kind: 'c', src: 'modules/c/sleep.c' },
  { name: 'counter', kind: 'c', src: 'modules/c/counter.c' },
  {
    name: 'fail',
    kind: 'c',
    src: 'modules/c/fail.c',
    embed: { wit: 'modules/c/exit-code.wit', world: 'exit-code' },
  },
  {
    name: 'sum',
    kind: 'js',
    src: 'modules/js/sum.js',
    wit: 'wit',
    world: 'task',
    // A "pure" component: no WASI imports at all, only tutti:task/host.
    disableFeatures: ['stdio', 'random', 'clocks', 'http', 'fetch-event'],
  },
  {
    name: 'split-sum',
    kind: 'js',
    src: 'modules/js/split-sum.js',
    wit: 'wit',
    world: 'planned-task',
    disableFeatures: ['stdio', 'random', 'clocks', 'http', 'fetch-event'],
  },
  { name: 'not-a-task', kind: 'wat', src: 'modules/bad/not-a-task.wat' },
  { name: 'wrong-run', kind: 'wat', src: 'modules/bad/wrong-run.wat' },
  { name: 'core-only', kind: 'wat', src: 'modules/bad/core-only.wat' },

  // Adversarial tasks for the sandbox tests (modules/adversary/; each file's header says
  // exactly what it does and prints).
  { name: 'adv-fs', kind: 'c', src: 'modules/adversary/adv-fs.c' },
  { name: 'adv-env', kind: 'c', src: 'modules/adversary/adv-env.c' },
  { name: 'adv-scratch', kind: 'c', src: 'modules/adversary/adv-scratch.c' },
  { name: 'adv-scratch-files', kind: 'c', src: 'modules/adversary/adv-scratch-files.c' },
  { name: 'adv-exit', kind: 'c', src: 'modules/adversary/adv-exit.c' },
  { name: 'adv-spin', kind: 'c', src: 'modules/adversary/adv-spin.c' },
  { name: 'adv-oom', kind: 'c', src: 'modules/adversary/adv-oom.c' },
  { name: 'adv-stdout-flood', kind: 'c', src: 'modules/adversary/adv-stdout-flood.c' },
  { name: 'adv-log-flood', kind: 'c', src: 'modules/adversary/adv-log-flood.c' },
  { name: 'adv-trap', kind: 'c', src: 'modules/adversary/adv-trap.c' },
  {
    name: 'adv-tcp',
    kind: 'c',
    src: 'modules/adversary/adv-tcp.c',
    embed: { wit: 'modules/adversary/sockets.wit', world: 'tcp' },
  },
  {
    name: 'adv-http',
    kind: 'c',
    src: 'modules/adversary/adv-http.c',
    embed: { wit: 'modules/adversary/http.wit', world: 'http' },
  },
  // A well-behaved HTTP client (GET $HTTP_AUTHORITY$HTTP_PATH) for the network tests.
  {
    name: 'http-get',
    kind: 'c',
    src: 'modules/adversary/http-get.c',
    embed: { wit: 'modules/adversary/http-get.wit', world: 'http-get' },
  },
  // Writes thousands of distinct outputs (and reads every input): the output count cap, and
  // the host's open files staying few.
  { name: 'adv-many-outputs', kind: 'c', src: 'modules/adversary/adv-many-outputs.c', typed: true },
  // Typed tasks in freestanding C with a hand-written canonical ABI (no libc, no WASI).
  {
    name: 'adv-plan-bomb',
    kind: 'c',
    src: 'modules/adversary/plan.c',
    freestanding: true,
    cflags: ['-DPARTITIONS=10000000'],
    embed: { wit: 'wit/task.wit', world: 'planned-task' },
  },
  {
    name: 'adv-plan-ok',
    kind: 'c',
    src: 'modules/adversary/plan.c',
    freestanding: true,
    cflags: ['-DPARTITIONS=3'],
    embed: { wit: 'wit/task.wit', world: 'planned-task' },
  },
];

class BuildError extends Error {}

// ---------------------------------------------------------------------------------------
// Incremental check

function filesUnder(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true }).flatMap((e) => filesUnder(join(path, e.name)));
}

function inputsOf(t) {
  const paths = [t.src, t.embed?.wit, t.wit].filter(Boolean).map((p) => join(ROOT, p));
  paths.push(SELF, JCO_PKG);
  if (t.typed) paths.push(join(ROOT, 'guest', 'c', 'tutti.h'));
  if (t.kind === 'js') paths.push(CJS_PKG);
  return paths.flatMap((p) => {
    if (!existsSync(p)) throw new BuildError(`${t.name}: missing input ${relative(ROOT, p)}`);
    return filesUnder(p);
  });
}

function upToDate(t, out) {
  if (!existsSync(out)) return false;
  const built = statSync(out).mtimeMs;
  return inputsOf(t).every((p) => statSync(p).mtimeMs < built);
}

// ---------------------------------------------------------------------------------------
// Tools

let jcoApi;
async function jco() {
  jcoApi ??= await import('@bytecodealliance/jco');
  return jcoApi;
}

function run(cmd, args, what) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (e) => reject(new BuildError(`${what}: cannot run ${cmd}: ${e.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) {
        if (stderr.trim()) process.stderr.write(stderr); // warnings
        resolvePromise();
      } else {
        reject(new BuildError(`${what}: ${cmd} failed (${signal ?? `exit ${code}`})\n${stderr.trimEnd()}`));
      }
    });
  });
}

function onPath(bin) {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .some((dir) => dir && existsSync(join(dir, bin)));
}

let cToolchainPromise;
/** clang + sysroot for wasm32-wasi; installs Debian packages once when they are missing. */
function cToolchain() {
  cToolchainPromise ??= (async () => {
    const sdk = process.env.WASI_SDK_PATH;
    if (sdk) {
      const tc = { clang: join(sdk, 'bin', 'clang'), sysroot: join(sdk, 'share', 'wasi-sysroot') };
      if (!existsSync(tc.clang)) throw new BuildError(`WASI_SDK_PATH=${sdk} has no bin/clang`);
      return tc;
    }
    const tc = { clang: 'clang', sysroot: '/usr' }; // Debian wasi-libc: /usr/{include,lib}/wasm32-wasi
    const ready =
      onPath('clang') && onPath('wasm-ld') && existsSync('/usr/include/wasm32-wasi/stdio.h');
    if (!ready) {
      const script = join(ROOT, 'scripts', 'setup-toolchains.sh');
      console.log('  setting up the C toolchain (scripts/setup-toolchains.sh c)…');
      await run('bash', [script, 'c'], 'C toolchain setup');
    }
    return tc;
  })();
  return cToolchainPromise;
}

// ---------------------------------------------------------------------------------------
// Builders: each returns the output bytes.

async function buildC(t, tmp) {
  const tc = await cToolchain();
  const core = join(tmp, `${t.name}.core.wasm`);
  await run(
    tc.clang,
    [
      '--target=wasm32-wasi',
      `--sysroot=${tc.sysroot}`,
      '-O2',
      '-Wall',
      '-Wextra',
      // wasi-libc's archives carry DWARF; dropping it shrinks the core modules ~5x (92 → 20 KiB).
      // The name section stays, so traps still show function names.
      '-Wl,--strip-debug',
      ...(t.freestanding ? ['-nostdlib', '-Wl,--no-entry'] : []),
      ...(t.typed ? ['-nostartfiles', '-Wl,--no-entry', `-I${join(ROOT, 'guest', 'c')}`] : []),
      ...(t.cflags ?? []),
      join(ROOT, t.src),
      '-o',
      core,
    ],
    `${t.name}: clang`,
  );
  const { componentEmbed, componentNew, preview1AdapterCommandPath } = await jco();
  let bytes = await readFile(core);
  if (t.embed) {
    const witSource = await readFile(join(ROOT, t.embed.wit), 'utf8');
    bytes = await componentEmbed({ binary: bytes, witSource, world: t.embed.world });
  }
  if (t.freestanding || t.typed) return componentNew(bytes);
  const adapter = await readFile(preview1AdapterCommandPath());
  return componentNew(bytes, [['wasi_snapshot_preview1', adapter]]);
}

async function buildWat(t) {
  const { parse } = await jco();
  return parse(await readFile(join(ROOT, t.src), 'utf8'));
}

let componentizeFn;
async function buildJs(t, tmp) {
  if (!componentizeFn) {
    // preview2-shim 0.26 starts with no preopens, but the wasm-tools inside jco /
    // componentize-js read the WIT and sources through it ("No such file or directory
    // (os error 44)" otherwise). Grant it the host filesystem, in this build process only.
    const { _setPreopens } = await import('@bytecodealliance/preview2-shim/filesystem');
    _setPreopens({ '/': '/' });
    ({ componentize: componentizeFn } = await import('@bytecodealliance/componentize-js'));
  }
  const opts = {
    sourcePath: join(ROOT, t.src),
    witPath: join(ROOT, t.wit),
    worldName: t.world,
    disableFeatures: t.disableFeatures,
  };
  return (await componentizeFn(opts)).component;
}

const BUILDERS = { c: buildC, wat: buildWat, js: buildJs };

// ---------------------------------------------------------------------------------------

function formatSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

async function main(argv) {
  const force = argv.includes('--force');
  const names = argv.filter((a) => !a.startsWith('--'));
  const unknownFlag = argv.find((a) => a.startsWith('--') && a !== '--force');
  if (unknownFlag || argv.includes('-h')) {
    console.error(`usage: node modules/build.mjs [--force] [${TARGETS.map((t) => t.name).join('|')}]...`);
    return 2;
  }
  const unknown = names.filter((n) => !TARGETS.some((t) => t.name === n));
  if (unknown.length) {
    console.error(`build: unknown module ${unknown.join(', ')} (have: ${TARGETS.map((t) => t.name).join(', ')})`);
    return 2;
  }
  const selected = names.length ? TARGETS.filter((t) => names.includes(t.name)) : TARGETS;

  const started = performance.now();
  const failures = [];
  let built = 0;
  let tmpPromise;
  const buildOne = async (t) => {
    const out = join(DIST, `${t.name}.wasm`);
    try {
      if (!force && upToDate(t, out)) return;
      tmpPromise ??= mkdtemp(join(tmpdir(), 'tutti-modules-'));
      const tmp = await tmpPromise;
      const t0 = performance.now();
      const bytes = await BUILDERS[t.kind](t, tmp);
      await mkdir(DIST, { recursive: true });
      const partial = `${out}.${process.pid}.tmp`;
      await writeFile(partial, bytes);
      await rename(partial, out); // never leave a half-written, fresh-looking output
      const secs = ((performance.now() - t0) / 1000).toFixed(2);
      console.log(`  built ${`${t.name}.wasm`.padEnd(22)} ${formatSize(bytes.length).padStart(9)}  ${secs.padStart(6)} s`);
      built++;
    } catch (e) {
      const msg = e instanceof BuildError ? e.message : `${t.name}: ${e?.message ?? e}`;
      console.error(`build: ${msg}`);
      failures.push(t.name);
    }
  };
  try {
    // A few targets at a time: C builds mostly wait on clang, so they overlap with each
    // other and with the (in-process, CPU-bound) componentize-js build.
    const queue = [...selected];
    const lanes = Math.max(2, Math.min(4, availableParallelism()));
    await Promise.all(
      Array.from({ length: lanes }, async () => {
        for (let t = queue.shift(); t; t = queue.shift()) await buildOne(t);
      }),
    );
  } finally {
    if (tmpPromise) await rm(await tmpPromise, { recursive: true, force: true });
  }

  const total = ((performance.now() - started) / 1000).toFixed(2);
  const dist = relative(process.cwd(), DIST) || '.';
  if (failures.length) {
    console.error(`build: FAILED ${failures.join(', ')} (${built} built, ${total} s)`);
    return 1;
  }
  const fresh = selected.length - built;
  console.log(
    built
      ? `${dist}: ${built} built${fresh ? `, ${fresh} up to date` : ''} in ${total} s`
      : `${dist}: all ${selected.length} up to date`,
  );
  return 0;
}

process.exitCode = await main(process.argv.slice(2)).catch((e) => {
  console.error(`build: ${e?.stack ?? e}`);
  return 1;
});
