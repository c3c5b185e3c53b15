/**
 * Crash safety, proven by killing: a real `tutti serve` on an embedded database file is killed with
 * SIGKILL at random moments while runs of a fan-out flow are triggered and running, and restarted
 * each time. In the end every run the server accepted has completed, and every output exists once,
 * with the right bytes, and no file of an abandoned attempt is left behind. The parts are small
 * outputs, kept in their rows; the whole copy is large enough to be a file.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { embedManifest } from '../src/runtime/manifest.js';
import { INLINE_OUTPUT_BYTES } from '../src/runtime/sinks.js';
import { countWords, module, tempDir } from './helpers.js';
import { eventually, startServer, type Server } from './server.js';
import { freePort } from './sqld.js';

const RUNS = 60;
const KILLS = 12;

/**
 * A deterministic text per run: lines of words, ~12 KiB, so each run fans out to several instances,
 * and one long line that takes it past the size of an output kept inline.
 */
function textFor(n: number): string {
  const lines: string[] = [];
  for (let i = 0; i < 300; i++) lines.push(`run ${n} line ${i} ${'w'.repeat((n * 7 + i) % 23)} end`);
  lines.push('x'.repeat(INLINE_OUTPUT_BYTES / 2 + n));
  return `${lines.join('\n')}\n`;
}

describe('chaos', () => {
  it(`${RUNS} fan-out runs survive ${KILLS} kill -9s of the server at random moments`, async (t) => {
    const home = tempDir();
    const port = await freePort();
    const args = ['--port', String(port), '--grace', '0s'];
    let server: Server = await startServer({ home, args });
    // A failed assertion must not leave the server running (and the test process waiting for it).
    t.after(() => void server.child.kill('SIGKILL'));

    const copy = embedManifest(readFileSync(module('sleep')), { split: 'lines', per: '2KiB', max: 1000 });
    for (const [name, bytes] of [['copy', copy], ['whole', readFileSync(module('sleep'))], ['wordcount', readFileSync(module('wordcount'))]] as const) {
      const res = await server.fetch(`/api/v1/components?name=${name}&version=1.0.0`, { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: bytes });
      assert.equal(res.status, 201);
    }
    const yaml = [
      'id: chaos',
      'inputs:',
      '  text: { type: asset }',
      'tasks:',
      '  - id: copy',
      '    component: copy@1.0.0',
      '    inputs: [text]',
      '    env: { SLEEP_MS: "30" }',
      '  - id: whole',
      '    component: whole@1.0.0',
      '    inputs: [text]',
      '    env: { SLEEP_MS: "0" }',
      '  - id: count',
      '    component: wordcount@1.0.0',
      '    needs: [copy]',
      '',
    ].join('\n');
    assert.equal((await server.fetch('/api/v1/flows', { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: yaml })).status, 201);

    // Triggers keep coming while the server dies and comes back; a refused connection is retried.
    const accepted = new Map<string, number>();
    const base = `http://127.0.0.1:${port}`;
    const triggering = (async () => {
      for (let n = 0; n < RUNS; n++) {
        for (;;) {
          const form = new FormData();
          form.set('text', new Blob([textFor(n)]), 'text.txt');
          const res = await fetch(`${base}/api/v1/flows/chaos/runs`, { method: 'POST', body: form }).catch(() => undefined);
          if (res?.status === 201) {
            accepted.set(((await res.json()) as { id: string }).id, n);
            break;
          }
          await new Promise((r) => setTimeout(r, 50));
        }
        await new Promise((r) => setTimeout(r, 40));
      }
    })();

    let kills = 0;
    const killing = (async () => {
      for (; kills < KILLS; kills++) {
        await new Promise((r) => setTimeout(r, 200 + Math.random() * 1500));
        server.child.kill('SIGKILL');
        await new Promise((r) => server.child.once('exit', r));
        server = await startServer({ home, args });
      }
    })();
    await Promise.all([triggering, killing]);
    assert.equal(kills, KILLS);
    assert.equal(accepted.size, RUNS);

    // Every run the server knows of, accepted or not (a 201 may have died with the server), must end well.
    const runs = await eventually(async () => {
      const { body } = await server.json('GET', '/api/v1/runs?flow=chaos&limit=200');
      const items = body.items as { id: string; state: string; error: string | null }[];
      return items.length >= RUNS && items.every((r) => !['queued', 'running'].includes(r.state)) ? items : undefined;
    }, 240_000, 'every run to finish');
    for (const id of accepted.keys()) assert.ok(runs.some((r) => r.id === id), `accepted run ${id} is listed`);
    for (const r of runs) assert.equal(r.state, 'succeeded', `run ${r.id}: ${r.error}`);

    let instancesChecked = 0;
    for (const r of runs) {
      const { body: assets } = await server.json('GET', `/api/v1/runs/${r.id}/assets`);
      const input = assets.items.find((a: { taskId: string | null }) => a.taskId === null);
      const text = await (await server.fetch(input.url)).text();
      const n = accepted.get(r.id);
      if (n !== undefined) assert.equal(text, textFor(n));

      const { body: detail } = await server.json('GET', `/api/v1/runs/${r.id}`);
      const copyRun = detail.tasks.find((t: { taskId: string }) => t.taskId === 'copy');
      const parts = assets.items
        .filter((a: { taskId: string | null }) => a.taskId === 'copy')
        .sort((a: { instanceIdx: number }, b: { instanceIdx: number }) => a.instanceIdx - b.instanceIdx);
      assert.ok(copyRun.instanceCount > 1, 'the task fanned out');
      assert.deepEqual(parts.map((a: { instanceIdx: number }) => a.instanceIdx), [...Array(copyRun.instanceCount).keys()], `run ${r.id}: one output per instance`);
      const copied = await Promise.all(parts.map(async (a: { url: string }) => (await server.fetch(a.url)).text()));
      assert.equal(copied.join(''), text, `run ${r.id}: the partitions' outputs are the input, byte for byte`);
      const total = assets.items.filter((a: { taskId: string | null }) => a.taskId === 'count');
      assert.equal(total.length, 1);
      assert.equal(await (await server.fetch(total[0].url)).text(), `${countWords(text)}\n`);
      const whole = assets.items.filter((a: { taskId: string | null }) => a.taskId === 'whole');
      assert.equal(whole.length, 1);
      assert.ok(whole[0].size > INLINE_OUTPUT_BYTES);
      assert.equal(await (await server.fetch(whole[0].url)).text(), text);

      // On disk, exactly the committed files: an attempt lost in a crash leaves nothing behind.
      // (Files only: small outputs are in their rows.)
      const files = readdirSync(path.join(home, 'assets', 'data', 'runs', r.id)).filter((f) => f !== 'inputs');
      const asFiles = [...parts, ...whole].filter((a: { size: number }) => a.size > INLINE_OUTPUT_BYTES);
      assert.equal(files.length, asFiles.length, `run ${r.id}: ${files.join(', ')}`);
      assert.ok(files.every((f) => f.startsWith('whole.')), `run ${r.id}: ${files.join(', ')}`);
      instancesChecked += parts.length;
    }
    assert.ok(instancesChecked > RUNS * 3);
    assert.equal(await server.stop(), 0);
  });
});
