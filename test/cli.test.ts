import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../src/paths.js';
import { countWords, module, tempDir } from './helpers.js';

const tutti = (args: string[], cwd = packageRoot) =>
  spawnSync(process.execPath, [path.join(packageRoot, 'bin/tutti.mjs'), ...args], { cwd, encoding: 'utf8', timeout: 120_000 });

describe('tutti CLI', () => {
  it('runs the demo flow and prints the result and where the outputs are', () => {
    const home = tempDir();
    const demo = path.join(packageRoot, 'modules/demo');
    const r = tutti(['run', path.join(demo, 'word-count.yaml'), '--input', `text=${demo}/hamlet.txt`, '--input', `more=${demo}/sonnet.txt`, '--home', home]);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    const expected = countWords(readFileSync(`${demo}/hamlet.txt`, 'utf8')) + countWords(readFileSync(`${demo}/sonnet.txt`, 'utf8'));
    assert.match(r.stdout, /: succeeded in \d+ ms/);
    assert.match(r.stdout, new RegExp(`total/0/sum  \\d+ bytes  ${home}/assets/data/runs/r_\\w+/total.0-sum\\n    ${expected}\\n`));
    assert.match(r.stderr, /total: task-succeeded/);
    rmSync(home, { recursive: true, force: true });
  });

  it('exits 1 when the run fails, and prints the error', () => {
    const dir = tempDir();
    const flow = path.join(dir, 'f.yaml');
    writeFileSync(flow, `id: f\ntasks:\n  - { id: boom, component: ${module('fail')}, env: { EXIT_CODE: "9" } }\n`);
    const r = tutti(['run', flow, '--home', dir]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /error: task "boom" failed: instance 0 failed after 1 attempt\(s\): exited: exited with code 9/);
  });

  it('exits 2 with the file, line and problem for an invalid flow', () => {
    const dir = tempDir();
    const flow = path.join(dir, 'f.yaml');
    writeFileSync(flow, `id: f\ntasks:\n  - id: a\n    component: ./missing.wasm\n`);
    const r = tutti(['run', flow, '--home', dir]);
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim(), `tutti: ${flow}:4:16 tasks[0].component: component file not found: ${dir}/missing.wasm`);
  });

  it('exits 2 for a missing input and a malformed --input', () => {
    const demo = path.join(packageRoot, 'modules/demo/word-count.yaml');
    const home = tempDir();
    const missing = tutti(['run', demo, '--home', home, '--input', `text=${demo}`]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /missing asset input "more" \(give it with --input more=PATH\)/);
    const malformed = tutti(['run', demo, '--home', home, '--input', 'textonly']);
    assert.equal(malformed.status, 2);
    assert.match(malformed.stderr, /--input textonly: expected name=value/);
  });

  it('inspects a component, and explains why another is not a task', () => {
    const home = tempDir();
    const ok = tutti(['inspect', module('sum'), '--home', home]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /contract: tutti:task\/task/);
    assert.match(ok.stdout, /imports:  tutti:task\/host/);
    const bad = tutti(['inspect', module('core-only'), '--home', home]);
    assert.equal(bad.status, 1);
    assert.match(bad.stdout, /not a valid task\n  this is a core WebAssembly module, not a component/);
  });

  it('stores secrets from stdin, lists names only, deletes them', () => {
    const home = tempDir();
    const set = spawnSync(process.execPath, [path.join(packageRoot, 'bin/tutti.mjs'), 'secret', 'set', 'API_KEY', '--home', home], { input: 'sk-test-123\n', encoding: 'utf8' });
    assert.equal(set.status, 0, set.stderr);
    const list = tutti(['secret', 'list', '--home', home]);
    assert.match(list.stdout, /^API_KEY\t\d{4}-\d\d-\d\dT/);
    assert.doesNotMatch(list.stdout, /sk-test/);
    assert.equal(tutti(['secret', 'set', 'short', '--value', 'ab', '--home', home]).status, 2);
    assert.equal(tutti(['secret', 'delete', 'API_KEY', '--home', home]).status, 0);
    const again = tutti(['secret', 'delete', 'API_KEY', '--home', home]);
    assert.equal(again.status, 2);
    assert.match(again.stderr, /no secret named API_KEY/);
  });

  it('embeds and shows a scaling manifest, and rejects a bad one', () => {
    const dir = tempDir();
    const out = path.join(dir, 'wc.wasm');
    assert.equal(tutti(['manifest', 'show', module('wordcount')]).status, 1);
    const set = tutti(['manifest', 'set', module('wordcount'), '--split', 'lines', '--per', '16MiB', '--max', '8', '-o', out]);
    assert.equal(set.status, 0, set.stderr);
    const show = tutti(['manifest', 'show', out]);
    assert.equal(show.stdout, `${JSON.stringify({ split: 'lines', per: 16 * 2 ** 20, max: 8 })}\n`);
    const bad = tutti(['manifest', 'set', out, '--split', 'rows', '--per', '1MiB']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--split: .*"bytes"\|"lines"/);
  });

  it('says which database it cannot open, without a stack trace', () => {
    const r = tutti(['secret', 'list', '--db', '/etc/passwd']);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, 'tutti: cannot open the database /etc/passwd: file is not a database\n');
  });
});
