/** The README's HTTP walkthrough, run as written against a real server: every call answers as documented. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../src/paths.js';
import { startServer } from './server.js';

describe('README', () => {
  it('runs the HTTP API walkthrough as written', async () => {
    const readme = readFileSync(path.join(packageRoot, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## HTTP API'));
    const block = /```sh\n([\s\S]*?)```/.exec(section)![1]!;
    const s = await startServer();
    try {
      // Only the address differs from the README; curl reports each status on stderr.
      const script = `set -e\ncurl() { command curl -w '%{stderr}STATUS %{http_code} %{method} %{url_effective}\\n' "$@"; }\n${block.replaceAll('http://127.0.0.1:8080', s.url)}`;
      const res = spawnSync('bash', ['-c', script], { cwd: packageRoot, encoding: 'utf8', timeout: 120_000 });
      assert.equal(res.status, 0, `the walkthrough failed:\n${res.stderr}\n${res.stdout.slice(-2000)}`);
      const stdout = res.stdout;
      const statuses = res.stderr.split('\n').filter((l) => l.startsWith('STATUS '));
      const calls = statuses.map((l) => l.split(' '));
      assert.ok(calls.length >= 18, `only ${calls.length} calls ran`);
      for (const [, code, method, url] of calls) {
        const expected = method === 'POST' && /\/(cancel|retry)$/.test(url!) ? '409' : /\/components\?name=/.test(url!) && code === '200' ? '200' : undefined;
        if (expected) assert.equal(code, expected, `${method} ${url}`);
        else assert.match(code!, /^20[01]$/, `${method} ${url} answered ${code}`);
      }
      assert.match(stdout, /"created":true/);
      assert.match(stdout, /event: run-succeeded/);
      assert.match(stdout, /tutti_runs\{flow="wc",state="succeeded"\}/);
    } finally {
      await s.stop();
    }
  });
});
