/**
 * Flows whose runs trigger each other, through a real `tutti serve`: a cycle is refused when a
 * flow is saved, and one that is in the database anyway (saved by an earlier version, or by two
 * saves racing) stops after a bounded chain of runs instead of running forever.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseFlow } from '../src/flow/index.js';
import { resolveFlow, triggerRows } from '../src/scheduler/flows.js';
import { runEvents } from '../src/store/events.js';
import { saveFlowRevision } from '../src/store/flows.js';
import { syncTriggers } from '../src/store/triggers.js';
import { openTutti } from '../src/tutti.js';
import { module } from './helpers.js';
import { eventually, startServer, type Server } from './server.js';

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

  it('a cycle already in the database stops after a bounded chain of runs, saying why', { timeout: 120_000 }, async () => {
    let s = await startServer();
    const home = s.home;
    try {
      await upload(s, 'counter');
      assert.equal((await saveFlow(s, flow('ping', ['pong']))).status, 201);
      assert.equal((await saveFlow(s, flow('pong', []))).status, 201);
      assert.equal(await s.stop(), 0);

      // pong's revision that closes the cycle, stored as a version of Tutti without the check did.
      const tutti = await openTutti({ home, workers: 1 });
      try {
        const source = flow('pong', ['ping']);
        const spec = await resolveFlow(tutti.database.db, tutti.registry, parseFlow(source), 'pong');
        await saveFlowRevision(tutti.database.db, 'pong', source, spec, (q) => syncTriggers(q, 'pong', triggerRows(spec, Date.now())));
      } finally {
        await tutti.close();
      }

      s = await startServer({ home });
      const first = await s.json('POST', '/api/v1/flows/ping/runs', {});
      assert.equal(first.status, 201, JSON.stringify(first.body));
      const count = async () => (await s.json('GET', '/api/v1/runs?limit=500')).body.items as { id: string; flowId: string; state: string; createdAt: number }[];
      // The first run and 32 runs started by a trigger, one after the other.
      const runs = await eventually(async () => {
        const items = await count();
        return items.length >= 33 && items.every((r) => !['queued', 'running'].includes(r.state)) ? items : undefined;
      }, 60_000, '33 runs to end');
      await new Promise((r) => setTimeout(r, 2000));
      assert.equal((await count()).length, 33, 'no run is started after the chain reached its bound');
      assert.equal(runs.length, 33);
      assert.deepEqual(
        runs.map((r) => r.flowId).reverse(),
        Array.from({ length: 33 }, (_, i) => (i % 2 ? 'pong' : 'ping')),
      );
      assert.match(s.stderr(), /flow pong: not triggered by run r_\w+ of flow ping: .*32 runs/);
      assert.equal(await s.stop(), 0);

      const tutti2 = await openTutti({ home, workers: 1 });
      try {
        const last = runs[0]!;
        const events = await runEvents(tutti2.database.db, last.id);
        const refused = events.find((e) => e.type === 'trigger-refused');
        assert.ok(refused, `the last run records why it started nothing: ${JSON.stringify(events.map((e) => e.type))}`);
        assert.equal(refused.data?.flow, 'pong');
        assert.match(String(refused.data?.reason), /32 runs/);
      } finally {
        await tutti2.close();
      }
    } finally {
      await s.stop();
    }
  });
});
