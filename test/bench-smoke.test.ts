/**
 * A small run of every benchmark workload, so `npm run bench` cannot rot between releases. The
 * numbers are not checked (machines are noisy); that each workload runs to the end is.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../src/paths.js';
import { countWords, tempDir } from './helpers.js';

const bench = (script: string, ...args: string[]) => {
  const out = execFileSync(process.execPath, [path.join(packageRoot, 'dist/bench', script), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return JSON.parse(out.trim().split('\n').at(-1)!);
};

describe('benchmark workloads, small', () => {
  it('orchestration workloads 1–4 run over the HTTP API to the end', () => {
    const r = bench('orchestration-child.js', '--quick');
    assert.equal(r.system, 'tutti');
    assert.equal(r.w1.runsMs.length, 3);
    assert.ok(r.w1.medianMs > 0 && r.w2.totalMs > r.w2.computeMs / 10, JSON.stringify(r.w2));
    assert.equal(r.w3.n, 100);
    assert.ok(r.w4.completed > 0);
  });

  it('instance start: C and JS components, a worker thread and a child process', () => {
    const r = bench('instance-start-child.js', '--quick');
    for (const k of ['cComponent', 'jsComponent', 'workerThread', 'childProcess']) assert.ok(r[k].n > 0 && r[k].p50Ms > 0, k);
  });

  it('data scaling and fan-out children run small inputs', () => {
    const text = Array.from({ length: 20_000 }, (_, i) => `w${i} ${'x'.repeat(i % 7)}${i % 5 ? ' ' : '\n'}`).join('');
    const file = path.join(tempDir(), 'text.txt');
    writeFileSync(file, text);
    const wc = bench('wordcount-child.js', file, '1', '0.02');
    assert.equal(wc.state, 'succeeded');
    assert.ok(wc.instances > 1, `instances ${wc.instances}`);
    assert.equal(wc.words, countWords(text));
    assert.equal(wc.nativeWords, countWords(text));
    assert.equal(wc.countsAgree, true);
    assert.equal(wc.rounds.length, 1);
    const fan = bench('fanout-child.js', '300', '2');
    assert.deepEqual([fan.state, fan.instances], ['succeeded', 300]);
  });

  it('wide flows: independent tasks, and a fan-out and fan-in', () => {
    const flat = bench('wide-child.js', '40', 'flat');
    assert.deepEqual([flat.state, flat.succeeded], ['succeeded', 40]);
    const fan = bench('wide-child.js', '40', 'fan');
    assert.deepEqual([fan.state, fan.succeeded], ['succeeded', 42]);
  });
});
