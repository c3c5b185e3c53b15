import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../src/paths.js';
import { tempDir } from './helpers.js';

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
});
