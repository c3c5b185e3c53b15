/**
 * Orchestration workloads (issue 6) against a real `tutti serve` on 127.0.0.1, over its public
 * HTTP API only: runs are triggered with POST and seen to end on the global SSE stream, as a
 * client would. Prints one JSON line last (the shape bench/peers/run.mjs shares with the peers).
 *
 *   node dist/bench/orchestration-child.js [--quick] [--only w1,w4]     (BENCH_PROF=DIR: CPU profile of the server;
 *   BENCH_W1_RUNS: runs of workload 1, default 10)
 *
 * 1. 40 tasks in sequence, fib(10) each   2. 10 tasks in sequence, fib(33) each, vs the compute alone
 * 3. trigger → completion latency, one task, one run at a time   4. runs/s with 64 runs in flight
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../src/paths.js';
import { median } from './lib.js';
import { computeMs } from './fib-compute.js';

const quick = process.argv.includes('--quick');
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt > 0 ? new Set((process.argv[onlyAt + 1] ?? '').split(',')) : undefined;
const unknown = [...(only ?? [])].filter((w) => !['w1', 'w2', 'w3', 'w4'].includes(w));
if (unknown.length) {
  process.stderr.write(`orchestration-child: --only takes a comma-separated list of w1, w2, w3, w4; unknown: ${unknown.join(', ') || '(empty)'}\n`);
  process.exit(2);
}
const wanted = (w: string) => !only || only.has(w);
const workers = os.availableParallelism();
const notes: string[] = [];

interface Client {
  url: string;
  json(method: string, pathname: string, body?: unknown, type?: string): Promise<any>;
  /** Trigger a run of `flow`; resolves with its final state when its end reaches the SSE stream. */
  run(flow: string): Promise<{ id: string; state: string; ms: number }>;
  close(): Promise<void>;
}

/** CPU time so far (utime + stime, clock ticks of 10 ms) of a process (all its threads) or of one of its threads. */
function cpuMsOf(stat: string): number | undefined {
  try {
    const fields = readFileSync(stat, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

async function startTutti(home: string): Promise<{ url: string; cpuMs(thread?: 'main'): number | undefined; stop(): Promise<void> }> {
  // BENCH_PROF=DIR writes a V8 CPU profile of the server there (open it in Chrome DevTools or speedscope).
  const prof = process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`, `--cpu-prof-interval=${process.env.BENCH_PROF_US ?? 1000}`] : [];
  const child = spawn(process.execPath, [...prof, path.join(packageRoot, 'bin/tutti.mjs'), 'serve', '--port', '0', '--home', home, '--workers', String(workers)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d;
      const m = /serving on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (m) resolve(m[1]!);
    });
    child.on('exit', () => reject(new Error(`tutti serve exited: ${stderr}`)));
  });
  return {
    url,
    // CPU time of the server so far: all its threads, or its main thread (the one that schedules and commits).
    cpuMs: (thread) => cpuMsOf(thread === 'main' ? `/proc/${child.pid}/task/${child.pid}/stat` : `/proc/${child.pid}/stat`),
    stop: () =>
      new Promise<void>((r) => {
        child.on('exit', () => r());
        child.kill('SIGTERM');
      }),
  };
}

const RUN_END = new Set(['run-succeeded', 'run-failed', 'run-cancelled', 'run-skipped']);

async function connect(url: string): Promise<Client> {
  const api = `${url}/api/v1`;
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const waiting = new Map<string, (state: string) => void>();
  const ended = new Map<string, string>(); // ends seen before their trigger's response arrived
  const abort = new AbortController();
  const res = await fetch(`${api}/events`, { signal: abort.signal });
  if (!res.ok || !res.body) throw new Error(`SSE: ${res.status}`);
  // Read the stream in the background; one event per blank-line-separated block.
  void (async () => {
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const type = /^event: (.+)$/m.exec(block)?.[1];
          if (!type || !RUN_END.has(type)) continue;
          const runId = (JSON.parse(/^data: (.+)$/m.exec(block)![1]!) as { runId: string }).runId;
          const w = waiting.get(runId);
          if (w) {
            waiting.delete(runId);
            w(type.slice(4));
          } else ended.set(runId, type.slice(4));
        }
      }
    } catch {
      // aborted at close
    }
  })();
  // node:http with a keep-alive agent, as the peers' client (bench/peers/common.mjs): the client
  // shares the machine's cores with the server, and fetch costs it about twice the CPU per call.
  const json = (method: string, pathname: string, body?: unknown, type = 'application/json') =>
    new Promise<any>((resolve, reject) => {
      const data = body === undefined ? undefined : Buffer.from(type === 'application/json' ? JSON.stringify(body) : (body as Uint8Array | string));
      const req = http.request(api + pathname, { method, agent, headers: data ? { 'content-type': type, 'content-length': data.length } : {} }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode! >= 400) reject(new Error(`${method} ${pathname}: ${res.statusCode} ${text}`));
          else resolve(text ? JSON.parse(text) : undefined);
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(data);
    });
  return {
    url,
    json,
    async run(flow) {
      const t0 = performance.now();
      const { id } = (await json('POST', `/flows/${flow}/runs`, { params: {} })) as { id: string };
      const state = ended.get(id) ?? (await new Promise<string>((r) => waiting.set(id, r)));
      ended.delete(id);
      return { id, state, ms: performance.now() - t0 };
    },
    async close() {
      abort.abort();
      agent.destroy();
    },
  };
}

function chain(id: string, n: number, fibN: number): string {
  const tasks = Array.from({ length: n }, (_, i) => `  - { id: t${i + 1}, component: fib@1, params: { n: ${fibN} }${i ? `, needs: [t${i}]` : ''} }`);
  return `id: ${id}\ntasks:\n${tasks.join('\n')}\n`;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

const home = mkdtempSync(path.join(os.tmpdir(), 'tutti-orch-'));
const server = await startTutti(home);
const client = await connect(server.url);
try {
  await client.json('POST', '/components?name=fib&version=1', readFileSync(path.join(packageRoot, 'modules/dist/fib.wasm')), 'application/wasm');
  await client.json('POST', '/flows', chain('seq40', 40, 10), 'application/yaml');
  await client.json('POST', '/flows', chain('seq10', 10, 33), 'application/yaml');
  await client.json('POST', '/flows', chain('one', 1, 1), 'application/yaml');
  const ok = <R extends { state: string; id: string }>(r: R): R => {
    if (r.state !== 'succeeded') throw new Error(`run ${r.id} ${r.state}`);
    return r;
  };

  // 1. 40 light tasks in sequence
  let w1;
  if (wanted('w1')) {
    ok(await client.run('seq40'));
    const w1runs: number[] = [];
    const cpu0 = server.cpuMs();
    const main0 = server.cpuMs('main');
    for (let i = 0; i < (quick ? 3 : Number(process.env.BENCH_W1_RUNS ?? 10)); i++) w1runs.push(ok(await client.run('seq40')).ms);
    const cpu1 = server.cpuMs();
    const main1 = server.cpuMs('main');
    w1 = {
      runsMs: w1runs, medianMs: median(w1runs), minMs: Math.min(...w1runs), maxMs: Math.max(...w1runs),
      serverCpuMsPerRun: cpu0 === undefined || cpu1 === undefined ? undefined : (cpu1 - cpu0) / w1runs.length,
      // The main thread's work per step sets the pace of a chain.
      serverMainCpuMsPerRun: main0 === undefined || main1 === undefined ? undefined : (main1 - main0) / w1runs.length,
    };
  }

  // 2. 10 long tasks in sequence, against fib(33) computed by the same component without Tutti
  // around it. This VM's speed drifts by tens of percent within seconds (fib(33) alone takes 17 to
  // 35 ms in one process): each run is paired with the mean of compute measurements taken just
  // before and just after it, and the overhead is the median of the pairs (after a warm-up run, as
  // for workload 1).
  const pairs: { total: number; compute: number }[] = [];
  if (wanted('w2') && !quick) ok(await client.run('seq10'));
  let before = wanted('w2') ? 10 * (await computeMs(33, quick ? 3 : 5)) : 0;
  for (let i = 0; i < (!wanted('w2') ? 0 : quick ? 1 : 7); i++) {
    const total = ok(await client.run('seq10')).ms;
    const after = 10 * (await computeMs(33, quick ? 3 : 5));
    pairs.push({ compute: (before + after) / 2, total });
    before = after;
  }
  const w2 = !pairs.length ? undefined : {
    totalMs: median(pairs.map((p) => p.total)),
    computeMs: median(pairs.map((p) => p.compute)),
    overheadPct: median(pairs.map((p) => ((p.total - p.compute) / p.compute) * 100)),
  };

  // 3. trigger latency, one run at a time (after warm-up runs, which workload 4 uses too)
  for (let i = 0; i < (wanted('w3') || wanted('w4') ? 50 : 0); i++) ok(await client.run('one'));
  const lat: number[] = [];
  for (let i = 0; i < (!wanted('w3') ? 0 : quick ? 100 : 1000); i++) lat.push(ok(await client.run('one')).ms);
  const w3 = !lat.length ? undefined : { n: lat.length, p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99) };

  // 4. throughput: 64 runs in flight for a fixed time
  const seconds = !wanted('w4') ? 0 : quick ? 3 : 10;
  const end = performance.now() + seconds * 1000;
  let completed = 0;
  const cpu0 = server.cpuMs();
  const own0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (performance.now() < end) {
        ok(await client.run('one'));
        completed++;
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  const cpu1 = server.cpuMs();
  const own = process.cpuUsage(own0);
  // Both share the machine's cores: the client's CPU per run is part of what bounds the rate.
  const w4 = !seconds ? undefined : {
    seconds: elapsed, completed, runsPerS: completed / elapsed,
    serverCpuMsPerRun: cpu0 === undefined || cpu1 === undefined ? undefined : (cpu1 - cpu0) / completed,
    clientCpuMsPerRun: (own.user + own.system) / 1000 / completed,
  };

  notes.push(`tutti serve with ${workers} workers, embedded libSQL file (WAL; every commit fdatasynced before it is acknowledged, off the event loop); fib in a C wasm component; triggers over HTTP, ends seen on the SSE stream`);
  process.stdout.write(`${JSON.stringify({ system: 'tutti', w1, w2, w3, w4, notes })}\n`);
} finally {
  await client.close();
  await server.stop();
  rmSync(home, { recursive: true, force: true });
}
