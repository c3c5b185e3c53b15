/**
 * Flows whose runs trigger each other, through a real `tutti serve`: a cycle is refused when a
 * flow is saved.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { module } from './helpers.js';
import { startServer, type Server } from './server.js';

async function saveFlow(s: Server, yaml: string) {
  const res = await s.fetch('/api/v1/flows', { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: yaml });
  return { status: res.status, body: (await res.json()) as any };
}

async function upload(s: Server, name: string) {
  const res = await s.fetch(`/api/v1/components?name=${name}&version=1.0.0`, { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: new Uint8Array(readFileSync(module(name))) });
  assert.equal(res.status, 201);
}

const flow = (id: string, from: string[]) =>
  `id: ${id}\n${from.length ? 'triggers:\n' : ''}${from.map((f) => `  - { type: flow, flow: ${f} }\n`).join('')}tasks:\n  - { id: count, component: counter@1.0.0 }\n`;

describe('flow trigger cycles', () => {
  it('refuses a flow whose triggers close a cycle, naming it at the trigger', { timeout: 60_000 }, async () => {
    const s = await startServer();
    try {
      await upload(s, 'counter');
      assert.equal((await saveFlow(s, flow('a', ['b']))).status, 201);
      assert.equal((await saveFlow(s, flow('c', ['a']))).status, 201);

      const two = await saveFlow(s, flow('b', ['x', 'a']));
      assert.equal(two.status, 400, JSON.stringify(two.body));
      assert.equal(two.body.error.code, 'invalid_flow');
      assert.deepEqual(two.body.error.details.map((d: any) => [d.path, d.line]), [['triggers[1].flow', 4]]);
      assert.match(two.body.error.details[0].message, /trigger cycle: flow "b" → "a" → "b"/);

      const three = await saveFlow(s, flow('b', ['c']));
      assert.equal(three.status, 400);
      assert.match(three.body.error.message, /flow:3:\d+ triggers\[0\]\.flow: trigger cycle: flow "b" → "a" → "c" → "b"/);

      // Nothing was stored: b can still be saved without the cycle, and a's trigger from it kept.
      assert.equal((await s.json('GET', '/api/v1/flows/b')).status, 404);
      assert.equal((await saveFlow(s, flow('b', ['x']))).status, 201);
      // Updating a flow on a cycle to leave the cycle is allowed.
      assert.equal((await saveFlow(s, flow('a', []))).status, 201);
      assert.equal((await saveFlow(s, flow('b', ['c']))).status, 201);
    } finally {
      await s.stop();
    }
  });

});
