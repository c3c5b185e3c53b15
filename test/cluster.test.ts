/**
 * Several machines' worth of Tutti on one real libSQL server (sqld on 127.0.0.1): two `tutti serve`
 * processes and three `tutti worker` processes share the work. Runs triggered on either server all
 * complete, even when one server is killed half-way; no instance runs to completion twice; a
 * schedule fires once per tick although both servers watch it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { createClient } from '@libsql/client';
import { module, tempDir } from './helpers.js';
import { eventually, startServer, startWorker, type Server, type WorkerProcess } from './server.js';
import { startSqld, type Sqld } from './sqld.js';

const RUNS = 1000;

describe('two servers and three workers on sqld', () => {
  let sqld: Sqld;
  const servers: Server[] = [];
  const workers: WorkerProcess[] = [];
  after(async () => {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    for (const s of servers) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
    await sqld?.stop();
  });

  it(`${RUNS} runs across both servers complete once each, one server killed half-way; a schedule fires once per tick`, async () => {
    sqld = await startSqld();
    const shared = tempDir('tutti-shared-assets-');
    const serverArgs = ['--db', sqld.url.replace(/^http:/, 'ws:'), '--assets', shared, '--lease', '3s'];
    // A only coordinates (its instances go to remote workers); B also runs instances itself. A
    // server with idle workers of its own runs what it plans at once, so with both running
    // instances, remote workers would see little of this short work.
    const a = await startServer({ args: [...serverArgs, '--workers', '0'] });
    const b = await startServer({ args: [...serverArgs, '--workers', '1'] });
    servers.push(a, b);
    for (const [s, n] of [[a, 1], [b, 2], [b, 2]] as const) workers.push(await startWorker(s, { args: ['--concurrency', String(n)] }));

    const up = await a.fetch('/api/v1/components?name=counter&version=1.0.0', { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: readFileSync(module('counter')) });
    assert.equal(up.status, 201);
    const flow = 'id: once\ntasks:\n  - { id: count, component: counter@1.0.0 }\n';
    assert.equal((await b.fetch('/api/v1/flows', { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: flow })).status, 201, 'a flow saved on B uses a component uploaded on A');

    // Every second, on both servers: each tick must make exactly one run.
    const tick = 'id: tick\ntriggers:\n  - { type: schedule, cron: "* * * * * *" }\ntasks:\n  - { id: count, component: counter@1.0.0 }\n';
    assert.equal((await a.fetch('/api/v1/flows', { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: tick })).status, 201);
    const scheduleStarted = Date.now();

    const ids: string[] = [];
    let next = 0;
    const trigger = async (lane: number) => {
      while (next < RUNS) {
        const n = next++;
        // Half-way, B dies: what it had accepted must still finish, through A.
        const s = n % 2 === 0 || b.child.signalCode !== null ? a : b;
        const res = await s.json('POST', '/api/v1/flows/once/runs', {}).catch(() => undefined);
        if (res?.status === 201) ids.push(res.body.id);
        else next--;
        if (n >= RUNS / 2 && b.child.signalCode === null) b.child.kill('SIGKILL');
      }
    };
    await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map(trigger));
    assert.equal(ids.length, RUNS);
    const tickStopped = Date.now();
    assert.equal((await a.fetch('/api/v1/flows/tick', { method: 'DELETE' })).status, 204);

    const db = createClient({ url: sqld.url });
    try {
      // A trigger whose answer died with server B may have created a run the test retried: every run
      // the database holds must succeed, and at least the ${RUNS} the test was told about.
      const total = await eventually(async () => {
        const r = await db.execute("SELECT count(*) AS n, sum(state IN ('queued', 'running')) AS active FROM runs WHERE flow_id = 'once'");
        return Number(r.rows[0]!.active) === 0 ? Number(r.rows[0]!.n) : undefined;
      }, 240_000, `all ${RUNS} runs to finish`);
      assert.ok(total >= RUNS && total <= RUNS + 8, `${total} runs`);
      const states = await db.execute("SELECT state, count(*) AS n FROM runs WHERE flow_id = 'once' GROUP BY state");
      assert.deepEqual(states.rows.map((r) => [r.state, Number(r.n)]), [['succeeded', total]]);
      const known = new Set((await db.execute("SELECT id FROM runs WHERE flow_id = 'once'")).rows.map((r) => String(r.id)));
      for (const id of ids) assert.ok(known.has(id), `run ${id} accepted by a server is in the database`);
      const twice = await db.execute("SELECT instance_id, count(*) AS n FROM attempts WHERE outcome = 'succeeded' GROUP BY instance_id HAVING count(*) > 1");
      assert.equal(twice.rows.length, 0, 'no instance ran to completion twice');
      const done = await db.execute("SELECT count(*) AS n FROM instances i JOIN runs r ON r.id = i.run_id WHERE r.flow_id = 'once' AND i.state = 'succeeded'");
      assert.equal(Number(done.rows[0]!.n), total);
      // Every output exists once, and says 1: each instance ran in a fresh sandbox. A server keeps
      // it in its row (it is small); one a remote worker uploaded is a file.
      const outs = await db.execute("SELECT a.location, a.content FROM assets a JOIN runs r ON r.id = a.run_id WHERE r.flow_id = 'once' AND a.task_id = 'count'");
      assert.equal(outs.rows.length, total);
      const bytes = (row: (typeof outs.rows)[number]) =>
        row.content ? Buffer.from(row.content as ArrayBuffer).toString('utf8') : readFileSync(path.join(shared, 'data', String(row.location)), 'utf8');
      for (const row of outs.rows) assert.equal(bytes(row), '1\n');
      assert.ok(outs.rows.some((r) => r.content) && outs.rows.some((r) => !r.content), 'outputs both inline (servers) and as files (remote workers)');
      const byWorker = await db.execute("SELECT worker, count(*) AS n FROM attempts a JOIN instances i ON i.id = a.instance_id JOIN runs r ON r.id = i.run_id WHERE r.flow_id = 'once' AND a.outcome = 'succeeded' GROUP BY worker");
      const remote = byWorker.rows.filter((r) => String(r.worker).startsWith('r-'));
      assert.ok(remote.length >= 2, `remote workers took part: ${JSON.stringify(byWorker.rows)}`);

      const ticks = await db.execute("SELECT logical_time AS t, count(*) AS n FROM runs WHERE flow_id = 'tick' GROUP BY logical_time ORDER BY logical_time");
      const seconds = (tickStopped - scheduleStarted) / 1000;
      assert.ok(ticks.rows.length >= seconds / 2, `${ticks.rows.length} ticks fired in ${seconds.toFixed(1)} s`);
      for (const r of ticks.rows) assert.equal(Number(r.n), 1, `tick ${new Date(Number(r.t)).toISOString()} fired ${r.n} times`);
    } finally {
      db.close();
    }
    for (const w of workers) assert.equal(await w.stop(), 0);
    assert.equal(await a.stop(), 0);
  });
});
