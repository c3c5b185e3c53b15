/**
 * What every peer benchmark shares: the unit of work (fib), the four workloads driven through a
 * peer-supplied `call`, child processes that are always cleaned up, and the result shape that
 * run.mjs and Tutti's dist/bench/orchestration-child.js both print as their last stdout line.
 */
import { fork, spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const peersDir = path.dirname(fileURLToPath(import.meta.url));

/** The same naive doubly recursive fib as modules/c/fib.c, so every system does the same CPU work. */
export function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

/** Run sizes. --quick only proves that every workload runs end to end. */
export function plan(quick) {
  return quick
    ? { w1Runs: 2, w3Warmup: 5, w3Runs: 50, w4Seconds: 2, inFlight: 64 }
    : { w1Runs: 5, w3Warmup: 50, w3Runs: 1000, w4Seconds: 10, inFlight: 64 };
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
/** Nearest-rank percentile: p99 of 1,000 samples is the 990th smallest, a value that was measured. */
export const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
};
const r2 = (x) => Math.round(x * 100) / 100;
const now = () => performance.now();

/**
 * The four workloads. `call(steps, n)` triggers one run of a sequential workflow of `steps` steps,
 * each computing fib(n), and resolves when the client has seen it complete. `compute(n, times)`
 * asks the process that runs the peer's steps to time fib(n) `times` times outside the orchestrator.
 */
export async function runWorkloads({ call, compute, quick, log = () => {} }) {
  const p = plan(quick);

  log('w1: 40 x fib(10) in sequence');
  await call(40, 10); // warm-up: connections, JIT, the peer's first-run caches
  const runsMs = [];
  for (let i = 0; i < p.w1Runs; i++) {
    const t = now();
    await call(40, 10);
    runsMs.push(r2(now() - t));
  }
  const w1 = { runsMs, medianMs: r2(median(runsMs)), minMs: Math.min(...runsMs), maxMs: Math.max(...runsMs) };

  log('w2: 10 x fib(33) in sequence');
  const before = await compute(33, 10);
  const t2 = now();
  await call(10, 33);
  const totalMs = r2(now() - t2);
  // Timed once before and twice after the run, in the process that runs the steps, keeping the
  // lowest: a stall from other work on this 2-core machine should not be booked as orchestration
  // overhead, nor make the overhead look negative.
  const computeMs = r2(Math.min(before, await compute(33, 10), await compute(33, 10)));
  const w2 = { totalMs, computeMs, overheadPct: r2(((totalMs - computeMs) / computeMs) * 100) };

  log(`w3: trigger latency, ${p.w3Runs} one-step runs`);
  for (let i = 0; i < p.w3Warmup; i++) await call(1, 1);
  const lat = [];
  for (let i = 0; i < p.w3Runs; i++) {
    const t = now();
    await call(1, 1);
    lat.push(now() - t);
  }
  const w3 = { n: lat.length, p50Ms: r2(percentile(lat, 50)), p99Ms: r2(percentile(lat, 99)) };

  log(`w4: throughput, ${p.inFlight} in flight for ${p.w4Seconds} s`);
  let completed = 0;
  const deadline = now() + p.w4Seconds * 1000;
  const t4 = now();
  // Each lane triggers its next run as soon as its previous one completes, so `inFlight` runs are
  // always outstanding; runs still in flight at the deadline are awaited but not counted.
  const lane = async () => {
    while (now() < deadline) {
      await call(1, 1);
      if (now() <= deadline) completed++;
    }
  };
  await Promise.all(Array.from({ length: p.inFlight }, lane));
  const seconds = r2(Math.min(now() - t4, p.w4Seconds * 1000) / 1000);
  const w4 = { seconds, completed, runsPerS: r2(completed / seconds) };

  return { w1, w2, w3, w4 };
}

/** A free TCP port on 127.0.0.1 (the kernel picks it; a tiny race with other processes remains). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Poll `probe` until it returns truthy; errors count as "not yet". */
export async function waitFor(what, probe, timeoutMs = 60_000) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

// One keep-alive pool for the whole process: a benchmark client should not pay a TCP handshake per run.
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

/** POST (or GET without body) JSON over HTTP/1.1; resolves { status, body } with the body parsed when JSON. */
export function httpJson(url, body, { method = body === undefined ? 'GET' : 'POST', timeoutMs = 300_000, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request(
      url,
      {
        method,
        agent,
        headers: { ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}), ...headers },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            /* not JSON: keep the text for the error message */
          }
          resolve({ status: res.statusCode, body: parsed });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(data);
  });
}

/**
 * Processes and temp dirs of one peer run. Everything registered here is stopped and removed on
 * normal exit, on an error, and on SIGINT/SIGTERM, so a failed or interrupted benchmark leaves no
 * server behind.
 */
export class Scope {
  procs = [];
  dirs = [];
  closers = [];
  #closing;

  constructor() {
    const onSignal = (sig) => {
      this.close().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    // Last resort when the process dies on an exception: no time for graceful stops any more.
    process.once('exit', () => {
      for (const p of this.procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
    });
  }

  tmpDir(prefix) {
    const d = mkdtempSync(path.join(os.tmpdir(), `tutti-peer-${prefix}-`));
    this.dirs.push(d);
    return d;
  }

  /** Spawn a server; its output goes to a log file, shown by `tail()` when something fails. */
  spawn(name, cmd, args, { stopSignal = 'SIGTERM', logDir, ...opts } = {}) {
    const logFile = path.join(logDir ?? this.tmpDir('log'), `${name}.log`);
    const fd = openSync(logFile, 'a');
    const p = spawn(cmd, args, { stdio: ['ignore', fd, fd], ...opts });
    return this.#track(p, name, logFile, stopSignal);
  }

  /** Fork a Node module with an IPC channel (the peers' step processes). */
  fork(name, module, args = [], { logDir, env } = {}) {
    const logFile = path.join(logDir ?? this.tmpDir('log'), `${name}.log`);
    const fd = openSync(logFile, 'a');
    const p = fork(module, args, { stdio: ['ignore', fd, fd, 'ipc'], env: { ...process.env, ...env } });
    return this.#track(p, name, logFile, 'SIGTERM');
  }

  #track(p, name, logFile, stopSignal) {
    Object.assign(p, { benchName: name, logFile, stopSignal });
    p.exited = new Promise((resolve) => p.once('exit', (code, sig) => resolve({ code, sig })));
    p.once('error', (e) => {
      p.spawnError = e;
    });
    this.procs.push(p);
    return p;
  }

  /** Run `fn` when closing, before processes are stopped (e.g. closing client connections). */
  onClose(fn) {
    this.closers.push(fn);
  }

  close() {
    this.#closing ??= (async () => {
      for (const fn of this.closers.reverse()) {
        try {
          await Promise.race([fn(), sleep(5000)]);
        } catch {
          /* closing anyway */
        }
      }
      // Stop in reverse start order: step processes before the servers they talk to.
      for (const p of [...this.procs].reverse()) {
        if (p.exitCode !== null || p.signalCode !== null || p.pid === undefined) continue;
        p.kill(p.stopSignal);
        const done = await Promise.race([p.exited, sleep(10_000).then(() => null)]);
        if (!done) {
          p.kill('SIGKILL');
          await p.exited;
        }
      }
      for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
      this.dirs = [];
    })();
    return this.#closing;
  }
}

/** The last lines of a process's log, for error messages. */
export function tail(p, lines = 30) {
  try {
    return readFileSync(p.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Fail fast when a server dies during start-up instead of waiting for a timeout. */
export function watchExit(p) {
  return p.exited.then(({ code, sig }) => {
    throw new Error(`${p.benchName} exited (code ${code}, signal ${sig}) during the benchmark; its log:\n${tail(p)}`);
  });
}

/** Request/response over a forked process's IPC channel: the step processes answer `compute`. */
export function ipcRequest(child, msg, timeoutMs = 300_000) {
  const id = Math.random().toString(36).slice(2);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${child.benchName}: no IPC answer to ${msg.type}`)), timeoutMs);
    const onMsg = (m) => {
      if (m?.id !== id) return;
      clearTimeout(timer);
      child.off('message', onMsg);
      m.error ? reject(new Error(m.error)) : resolve(m);
    };
    child.on('message', onMsg);
    child.send({ ...msg, id });
  });
}

/** Wait for a forked step process to say it is ready (it sends { type: 'ready', ... }). */
export function ipcReady(child, timeoutMs = 60_000) {
  return Promise.race([
    new Promise((resolve) => {
      const onMsg = (m) => {
        if (m?.type !== 'ready') return;
        child.off('message', onMsg);
        resolve(m);
      };
      child.on('message', onMsg);
    }),
    watchExit(child),
    sleep(timeoutMs).then(() => {
      throw new Error(`${child.benchName} not ready in ${timeoutMs} ms; its log:\n${tail(child)}`);
    }),
  ]);
}

/**
 * Inside a step process: answer `compute` requests by timing fib in this very process, and exit
 * when the parent goes away so no step process outlives its benchmark.
 */
export function serveStepProcess(extra = {}) {
  process.on('disconnect', () => process.exit(0));
  process.on('message', async (m) => {
    if (!m?.id) return;
    try {
      if (m.type === 'compute') {
        const t = performance.now();
        for (let i = 0; i < m.times; i++) fib(m.n);
        process.send({ id: m.id, ms: performance.now() - t });
      } else if (extra[m.type]) {
        process.send({ id: m.id, ...(await extra[m.type](m)) });
      } else {
        process.send({ id: m.id, error: `unknown request ${m.type}` });
      }
    } catch (e) {
      process.send({ id: m.id, error: String(e?.stack ?? e) });
    }
  });
}

/** The package version actually installed in bench/peers/node_modules. */
export function installedVersion(pkg) {
  return JSON.parse(readFileSync(path.join(peersDir, 'node_modules', pkg, 'package.json'), 'utf8')).version;
}

/**
 * Entry point of a peer module run as a script: `node bench/peers/<peer>.mjs [--quick]` prints
 * progress on stderr and the result as ONE JSON line last on stdout.
 */
export async function peerMain(system, bench) {
  const quick = process.argv.includes('--quick');
  const scope = new Scope();
  const log = (m) => process.stderr.write(`  [${system}] ${m}\n`);
  let code = 0;
  try {
    const result = await bench({ scope, quick, log });
    process.stdout.write(`${JSON.stringify({ system, ...result })}\n`);
  } catch (e) {
    process.stderr.write(`[${system}] failed: ${e?.stack ?? e}\n`);
    code = 1;
  } finally {
    await scope.close();
  }
  process.exit(code);
}

export const isMain = (metaUrl) => process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(metaUrl);
