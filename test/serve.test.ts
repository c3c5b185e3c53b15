import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../src/paths.js';
import { tempDir } from './helpers.js';
import { eventually, startServer } from './server.js';

describe('tutti serve', () => {
  it('serves /healthz on 127.0.0.1 and exits 0 on SIGTERM', async () => {
    const home = tempDir();
    const child = spawn(process.execPath, [path.join(packageRoot, 'bin/tutti.mjs'), 'serve', '--port', '0', '--home', home], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d;
        const m = /serving on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
        if (m) resolve(m[1]!);
      });
      child.on('exit', () => reject(new Error(stderr)));
    });
    const res = await fetch(`${url}/healthz`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { ok: boolean; workers: number };
    assert.equal(body.ok, true);
    assert.ok(body.workers >= 1);
    const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.kill('SIGTERM');
    assert.equal(await exit, 0);
  });

  it('starts on the home of a server killed with -9 whose parent has not reaped it yet (a zombie)', { timeout: 60_000 }, async () => {
    const home = tempDir();
    // The shell starts the server and becomes `sleep`, which never waits for its children: the
    // server, once killed, stays a zombie, its pid alive to kill(pid, 0), until the sleep ends.
    const tutti = [path.join(packageRoot, 'bin/tutti.mjs'), 'serve', '--port', '0', '--home', home, '--workers', '1'].map((a) => `'${a}'`).join(' ');
    const parent = spawn('sh', ['-c', `'${process.execPath}' ${tutti} & exec sleep 60`], { stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      let stderr = '';
      await new Promise<void>((resolve, reject) => {
        parent.stderr!.on('data', (d: Buffer) => {
          stderr += d;
          if (/serving on/.test(stderr)) resolve();
        });
        parent.on('exit', () => reject(new Error(stderr)));
      });
      const { pid } = JSON.parse(readFileSync(path.join(home, 'tutti.db.lock'), 'utf8')) as { pid: number };
      assert.notEqual(pid, parent.pid);
      process.kill(pid, 'SIGKILL');
      const procState = () => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[0];
      await eventually(async () => (procState() === 'Z' ? true : undefined), 5000, 'the killed server to become a zombie');

      const next = await startServer({ home });
      try {
        assert.equal((await next.fetch('/healthz')).status, 200);
      } finally {
        assert.equal(await next.stop(), 0);
      }
    } finally {
      parent.kill('SIGKILL');
    }
  });
});
