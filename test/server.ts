/** A real `tutti serve` child process on 127.0.0.1 for API tests, with a small JSON client. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { packageRoot } from '../src/paths.js';
import { tempDir } from './helpers.js';

export interface Server {
  url: string;
  home: string;
  child: ChildProcess;
  stderr(): string;
  /** fetch relative to the server, with the token when it has one. */
  fetch(pathname: string, init?: RequestInit): Promise<Response>;
  /** JSON in, JSON out: { status, body }. */
  json<T = any>(method: string, pathname: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
}

export async function startServer(opts: { home?: string; token?: string; args?: string[]; env?: Record<string, string> } = {}): Promise<Server> {
  const home = opts.home ?? tempDir();
  const args = [path.join(packageRoot, 'bin/tutti.mjs'), 'serve', '--port', '0', '--home', home, '--workers', '2', ...(opts.args ?? [])];
  if (opts.token) args.push('--token', opts.token);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...opts.env } });
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d;
      const m = /serving on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (m) resolve(m[1]!);
    });
    child.on('exit', () => reject(new Error(`server exited: ${stderr}`)));
  });
  const auth: Record<string, string> = opts.token ? { authorization: `Bearer ${opts.token}` } : {};
  const doFetch = (pathname: string, init: RequestInit = {}) => fetch(url + pathname, { ...init, headers: { ...auth, ...(init.headers as Record<string, string>) } });
  return {
    url,
    home,
    child,
    stderr: () => stderr,
    fetch: doFetch,
    async json(method, pathname, body) {
      const res = await doFetch(pathname, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    stop() {
      // Gone already (also when killed by a signal: no 'exit' event would come again).
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
      const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      child.kill('SIGTERM');
      return exit;
    },
  };
}

/** Read a run's SSE stream until it ends; returns the event types in order. */
export async function followRun(server: Server, runId: string): Promise<string[]> {
  const res = await server.fetch(`/api/v1/runs/${runId}/events`);
  if (res.status !== 200 || res.headers.get('content-type')?.startsWith('text/event-stream') !== true) throw new Error(`SSE: ${res.status}`);
  const text = await res.text();
  return [...text.matchAll(/^event: (.+)$/gm)].map((m) => m[1]!);
}

/** Poll until `check` returns a value (not undefined), or fail after `ms`. */
export async function eventually<T>(check: () => Promise<T | undefined>, ms = 20_000, what = 'condition'): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface WorkerProcess {
  child: ChildProcess;
  stderr(): string;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** A real `tutti worker` child process pulling from `server`. */
export async function startWorker(server: { url: string }, opts: { token?: string; args?: string[] } = {}): Promise<WorkerProcess> {
  const args = [path.join(packageRoot, 'bin/tutti.mjs'), 'worker', '--server', server.url, '--cache-dir', tempDir('tutti-worker-'), ...(opts.args ?? [])];
  if (opts.token) args.push('--token', opts.token);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d;
      if (/pulling from/.test(stderr)) resolve();
    });
    child.on('exit', () => reject(new Error(`worker exited: ${stderr}`)));
  });
  return {
    child,
    stderr: () => stderr,
    stop() {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
      const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      child.kill('SIGTERM');
      return exit;
    },
  };
}
