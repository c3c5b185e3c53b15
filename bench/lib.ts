/** Shared helpers for benchmarks: child processes with peak RSS, medians, tables. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../src/paths.js';

export const benchDir = path.join(packageRoot, 'dist', 'bench');

/** Run a benchmark script in a fresh Node process; it prints one JSON line last. */
export function child<T>(script: string, args: string[], env: Record<string, string> = {}): T {
  const out = execFileSync(process.execPath, [path.join(benchDir, script), ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 << 20,
  });
  // The next benchmark starts on a quiet disk: what this one wrote and deleted (a home of 100,000
  // files) is written back now, not during the next one's fsyncs.
  execFileSync('sync');
  return JSON.parse(out.trim().split('\n').at(-1)!) as T;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function machine() {
  return { cpus: os.cpus().length, cpu: os.cpus()[0]?.model ?? '?', memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}` };
}

export function table(headers: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

export function save(name: string, result: unknown): string {
  const dir = path.join(packageRoot, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}
