/**
 * npm run bench:peers — Tutti and its peers (Restate, DBOS Transact, BullMQ) on workloads 1–4 of
 * issue 6, side by side on this machine in one run. Installs what the peers need (bench/peers/setup.sh
 * for the Debian servers, npm install here for their packages), then runs each system in its own fresh
 * process, one after the other (never two at once: they would share the same 2 cores), prints one
 * markdown table per workload and writes bench/results/peers.json (peers-quick.json with --quick).
 *
 *   node bench/peers/run.mjs [--only tutti,restate,dbos,bullmq] [--quick]
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const peersDir = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(peersDir, '..', '..');
const SYSTEMS = ['tutti', 'restate', 'dbos', 'bullmq'];
const NAMES = { tutti: 'Tutti', restate: 'Restate', dbos: 'DBOS Transact', bullmq: 'BullMQ' };

function parseArgs(argv) {
  const opts = { only: SYSTEMS, quick: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') opts.quick = true;
    else if (a === '--only' || a.startsWith('--only=')) {
      const v = a === '--only' ? argv[++i] : a.slice('--only='.length);
      const list = (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      const bad = list.filter((s) => !SYSTEMS.includes(s));
      if (!list.length || bad.length) usage(`--only takes a comma-separated list of ${SYSTEMS.join(', ')}${bad.length ? `; unknown: ${bad.join(', ')}` : ''}`);
      opts.only = SYSTEMS.filter((s) => list.includes(s)); // fixed order: Tutti first, the baseline
    } else if (a === '-h' || a === '--help') usage();
    else usage(`unknown argument ${a}`);
  }
  return opts;
}

function usage(err) {
  const text = 'usage: node bench/peers/run.mjs [--only tutti,restate,dbos,bullmq] [--quick]\n';
  if (err) {
    process.stderr.write(`bench:peers: ${err}\n${text}`);
    process.exit(2);
  }
  process.stdout.write(text);
  process.exit(0);
}

/** The Debian servers the selected peers run on. */
function setupServers(only) {
  const servers = [...(only.includes('dbos') ? ['postgres'] : []), ...(only.includes('bullmq') ? ['redis'] : [])];
  if (servers.length) execFileSync('bash', [path.join(peersDir, 'setup.sh'), ...servers], { stdio: 'inherit' });
}

/** npm install into bench/peers on first use, or when an installed version differs from the pinned one. */
function setupPackages() {
  const pinned = JSON.parse(readFileSync(path.join(peersDir, 'package.json'), 'utf8')).dependencies;
  const stale = Object.entries(pinned).filter(([name, version]) => {
    const f = path.join(peersDir, 'node_modules', name, 'package.json');
    return !existsSync(f) || JSON.parse(readFileSync(f, 'utf8')).version !== version;
  });
  if (!stale.length) return;
  process.stderr.write(`bench:peers: installing ${stale.map(([n, v]) => `${n}@${v}`).join(', ')} into bench/peers (npm install)\n`);
  // `npm install`, not `npm ci`: npm 11 rejects this package-lock.json in `ci` (it wants entries for
  // msgpackr-extract's other-platform binaries that `install` never writes); the exact pins in
  // package.json and the committed lock still decide every version. The flock serialises npm runs
  // of everyone sharing this checkout.
  execFileSync('flock', ['/tmp/tutti-npm.lock', 'npm', 'install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: peersDir, stdio: 'inherit' });
}

let current; // the system's process running now, stopped on Ctrl-C
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    interrupted = true;
    process.stderr.write(`\nbench:peers: ${sig}, stopping ${current ? current.spawnargs.slice(1).join(' ') : ''}\n`);
    // The child stops its own servers on SIGTERM; a second signal kills its whole process group.
    if (current && current.exitCode === null) {
      if (current.interrupted) killGroup(current, 'SIGKILL');
      else current.kill('SIGTERM');
      current.interrupted = true;
    } else process.exit(130);
  });
}

/** Each system runs in its own process group, so whatever it leaves behind can still be killed. */
function killGroup(child, sig) {
  try {
    process.kill(-child.pid, sig);
  } catch {
    /* the group is already gone */
  }
}

/** Run one system in a fresh Node process; its last stdout line is the result. */
function runSystem(args, timeoutMs) {
  return new Promise((resolve, reject) => {
    // detached: a process group of its own (Ctrl-C reaches it through the handler above).
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], detached: true });
    current = child;
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const timer = setTimeout(() => {
      process.stderr.write(`bench:peers: ${args[0]} still running after ${timeoutMs / 1000} s, stopping it\n`);
      child.kill('SIGTERM');
      setTimeout(() => killGroup(child, 'SIGKILL'), 20_000).unref();
    }, timeoutMs);
    child.on('error', reject);
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      current = undefined;
      // A server the system failed to stop (it was killed, or crashed) must not outlive it.
      killGroup(child, 'SIGKILL');
      const last = out.trim().split('\n').at(-1);
      if (code === 0 && last) {
        try {
          return resolve(JSON.parse(last));
        } catch {
          /* fall through to the error */
        }
      }
      reject(new Error(`exited with ${sig ?? `code ${code}`}${last ? `; last output: ${last.slice(0, 300)}` : ''}`));
    });
  });
}

function machine() {
  const cpus = os.cpus();
  return { cores: cpus.length, cpu: cpus[0]?.model?.trim() ?? '?', memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, os: `${os.platform()} ${os.release()}` };
}

const fmt = (x, digits = 1) => (x === undefined || x === null || Number.isNaN(x) ? '–' : Number(x).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const table = (headers, rows) => [headers, headers.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');

/** "2.3× faster" when Tutti wins; `better` > 1 means Tutti did better on this metric. */
function vsTutti(better) {
  if (!Number.isFinite(better) || better <= 0) return '–';
  if (Math.abs(better - 1) < 0.05) return 'on par (within 5%)';
  return better >= 1 ? `Tutti ${fmt(better, 1)}× faster` : `Tutti ${fmt(1 / better, 1)}× slower`;
}

function report(results, failed, opts, m) {
  const tutti = results.find((r) => r.system === 'tutti');
  const name = (r) => NAMES[r.system] ?? r.system;
  const ratio = (r, f) => (r.system === 'tutti' ? '(baseline)' : tutti ? vsTutti(f(r, tutti)) : 'no Tutti result');
  const out = [];
  out.push(`## Tutti vs peers${opts.quick ? ' (--quick: few runs, a smoke test, not a measurement)' : ''}`, '');
  out.push(`Machine: ${m.cores} cores, ${m.cpu}, ${m.memGiB} GiB, Node ${m.node}, ${m.os}. Systems ran one after the other, each in a fresh process, all on 127.0.0.1.`);
  out.push('Tasks: Tutti runs fib in a wasm component (modules/c/fib.c, one sandboxed instance per task); the peers run the same naive fib in plain JavaScript.', '');

  out.push('### 1. 40 light tasks in sequence (fib(10) each), trigger → completion');
  out.push(table(['system', 'median ms', 'min ms', 'max ms', 'runs', 'vs Tutti (median)'], results.map((r) => [name(r), fmt(r.w1?.medianMs), fmt(r.w1?.minMs), fmt(r.w1?.maxMs), r.w1?.runsMs?.length ?? '–', ratio(r, (p, t) => p.w1.medianMs / t.w1.medianMs)])));
  out.push('');
  out.push("For reference only — vendor numbers, on other hardware, not run here (Windmill's published benchmark, 40 light tasks):");
  out.push(table(['system', 'seconds', 'language'], [['Windmill (dedicated worker)', '2.125', 'JS'], ['Temporal', '3.063', 'JS'], ['Kestra', '9.05', 'JS'], ['Hatchet', '1.222', 'Python'], ['Airflow', '116', 'Python']]));
  out.push('');

  out.push('### 2. 10 long tasks in sequence (fib(33) each)');
  out.push('Pure compute: 10 × fib(33) timed in the process (and language) that runs the system\'s steps, outside the orchestrator (peers: lowest of 3 timings, one before and two after the run).');
  out.push(table(['system', 'total ms', 'pure compute ms', 'overhead %', 'vs Tutti (total)'], results.map((r) => [name(r), fmt(r.w2?.totalMs), fmt(r.w2?.computeMs), fmt(r.w2?.overheadPct), ratio(r, (p, t) => p.w2.totalMs / t.w2.totalMs)])));
  out.push('');

  out.push('### 3. Trigger latency: one-step run (fib(1)), trigger → completion seen by the client, runs one at a time');
  out.push(table(['system', 'runs', 'p50 ms', 'p99 ms', 'vs Tutti (p50)'], results.map((r) => [name(r), r.w3?.n ?? '–', fmt(r.w3?.p50Ms, 2), fmt(r.w3?.p99Ms, 2), ratio(r, (p, t) => p.w3.p50Ms / t.w3.p50Ms)])));
  out.push('');

  out.push('### 4. Throughput: one-step runs, 64 in flight');
  out.push(table(['system', 'seconds', 'completed', 'runs/s', 'vs Tutti'], results.map((r) => [name(r), fmt(r.w4?.seconds), r.w4?.completed ?? '–', fmt(r.w4?.runsPerS), ratio(r, (p, t) => t.w4.runsPerS / p.w4.runsPerS)])));
  out.push('');

  out.push('### Notes (durability and set-up of each system)');
  for (const r of results) for (const n of r.notes ?? []) out.push(`- ${name(r)}: ${n}`);
  for (const f of failed) out.push(`- ${NAMES[f.system]}: NOT MEASURED — ${f.error.split('\n')[0]}`);
  return out.join('\n');
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const peers = opts.only.filter((s) => s !== 'tutti');
  if (peers.length) {
    setupServers(peers);
    setupPackages();
  }
  const results = [];
  const failed = [];
  const flags = opts.quick ? ['--quick'] : [];
  // Generous: a full run of one system takes about a minute; a hang must not eat the whole budget.
  const timeoutMs = (opts.quick ? 4 : 8) * 60_000;
  for (const system of opts.only) {
    if (interrupted) break;
    let script = path.join(peersDir, `${system}.mjs`);
    if (system === 'tutti') {
      script = path.join(root, 'dist', 'bench', 'orchestration-child.js');
      if (!existsSync(script)) {
        const error = 'dist/bench/orchestration-child.js is missing (npm run build compiles bench/orchestration-child.ts); Tutti skipped, no ratios';
        process.stderr.write(`bench:peers: ${error}\n`);
        failed.push({ system, error });
        continue;
      }
    }
    process.stderr.write(`bench:peers: ${NAMES[system]}${opts.quick ? ' (quick)' : ''}\n`);
    const t = Date.now();
    try {
      const r = await runSystem([script, ...flags], timeoutMs);
      results.push({ ...r, system, wallS: Math.round((Date.now() - t) / 100) / 10 });
    } catch (e) {
      process.stderr.write(`bench:peers: ${NAMES[system]} failed: ${e.message}\n`);
      failed.push({ system, error: e.message });
    }
  }
  if (interrupted) process.exit(130);

  const m = machine();
  const md = report(results, failed, opts, m);
  process.stdout.write(`${md}\n\nTotal wall time ${Math.round((Date.now() - started) / 1000)} s.\n`);
  const dir = path.join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  // A smoke run must not overwrite the last real measurement.
  const file = path.join(dir, opts.quick ? 'peers-quick.json' : 'peers.json');
  writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), quick: opts.quick, machine: m, results, failed }, null, 2)}\n`);
  process.stderr.write(`bench:peers: wrote ${path.relative(root, file)}\n`);
  if (failed.length) process.exit(1);
}

await main();
