/** `tutti inspect` says why a .wasm is not a task, for each way it can fail, and how to fix a core module. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../src/paths.js';
import { module, tempDir } from './helpers.js';

const home = tempDir('tutti-inspect-');
function inspect(file: string) {
  const res = spawnSync(process.execPath, [path.join(packageRoot, 'bin', 'tutti.mjs'), 'inspect', file, '--home', home], { encoding: 'utf8' });
  return { status: res.status, out: res.stdout + res.stderr };
}

describe('tutti inspect explains a rejection', () => {
  it('core module instead of a component: gives the jco new command', () => {
    const r = inspect(module('core-only'));
    assert.equal(r.status, 1);
    assert.match(r.out, /core WebAssembly module, not a component/);
    assert.match(r.out, /npx jco new x\.core\.wasm --wasi-command -o x\.wasm/);
  });

  it('wrong world (no run, no wasi:cli/run): lists what it exports', () => {
    const r = inspect(module('not-a-task'));
    assert.equal(r.status, 1);
    assert.match(r.out, /satisfies no task contract/);
    assert.match(r.out, /It exports: hello\./);
  });

  it('run with the wrong signature: shows the expected one', () => {
    const r = inspect(module('wrong-run'));
    assert.equal(r.status, 1);
    assert.match(r.out, /exports `run: func\(\) -> u32`/);
    assert.match(r.out, /needs `run: func\(partition, list<asset-info>, list<param>\) -> result<_, task-error>`/);
  });

  it('not WebAssembly at all', () => {
    const r = inspect(path.join(packageRoot, 'README.md'));
    assert.equal(r.status, 1);
    assert.match(r.out, /not a WebAssembly binary/);
  });
});
