/** Cron schedules on a real server: ticks fire once each, and ticks missed while down follow the flow's policy. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { LATE_GRACE_MS } from '../src/scheduler/schedules.js';
import { module, tempDir } from './helpers.js';
import { eventually, startServer, type Server } from './server.js';

async function runsOf(s: Server, flow: string): Promise<any[]> {
  const out = [];
  let cursor: string | null = null;
  do {
    const { body }: { body: any } = await s.json('GET', `/api/v1/runs?flow=${flow}&limit=500${cursor ? `&cursor=${cursor}` : ''}`);
    out.push(...body.items);
    cursor = body.nextCursor;
  } while (cursor);
  return out;
}

describe('schedules', () => {
  it('fires every tick once, and after downtime skips or catches up missed ticks per flow', async () => {
    const home = tempDir();
    let s = await startServer({ home });
    const up = await s.fetch('/api/v1/components?name=wordcount&version=1', { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: new Uint8Array(readFileSync(module('wordcount'))) });
    assert.equal(up.status, 201);
    const flow = (id: string, missed: string) =>
      `id: ${id}\ntriggers:\n  - { type: schedule, cron: "* * * * * *", missed: ${missed} }\ntasks:\n  - id: count\n    component: wordcount@1\n`;
    for (const [id, missed] of [['every-second-skip', 'skip'], ['every-second-catch-up', 'catch-up']]) {
      const res = await s.fetch('/api/v1/flows', { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: flow(id!, missed!) });
      assert.equal(res.status, 201);
    }
    const listed = (await s.json('GET', '/api/v1/flows?q=every-second')).body.items;
    assert.equal(listed.length, 2);
    assert.ok(listed[0].nextFireAt > Date.now() - 2000);

    await eventually(async () => ((await runsOf(s, 'every-second-skip')).length >= 3 ? true : undefined), 20_000, 'three scheduled runs');
    const stoppedAt = Date.now();
    assert.equal(await s.stop(), 0);
    // Down long enough for some ticks to be older than the grace a late tick gets.
    const downFrom = Date.now();
    await new Promise((r) => setTimeout(r, LATE_GRACE_MS + 5000));
    const downTo = Date.now();
    s = await startServer({ home });
    try {
      await eventually(async () => {
        const runs = await runsOf(s, 'every-second-skip');
        return runs.some((r) => r.logicalTime > downTo) ? true : undefined;
      }, 20_000, 'schedule resumed');
      const ticksMissed = (runs: any[]) => runs.filter((r) => r.logicalTime > downFrom + 1000 && r.logicalTime < downTo - LATE_GRACE_MS - 1000);
      const skip = await runsOf(s, 'every-second-skip');
      const catchUp = await eventually(async () => {
        const runs = await runsOf(s, 'every-second-catch-up');
        return ticksMissed(runs).length ? runs : undefined;
      }, 20_000, 'catch-up runs');
      assert.equal(ticksMissed(skip).length, 0, 'skip: ticks missed while down are not run');
      // catch-up: every second of the gap has its run.
      const missedSeconds = Math.floor((downTo - LATE_GRACE_MS - 1000 - (downFrom + 1000)) / 1000) - 1;
      assert.ok(ticksMissed(catchUp).length >= missedSeconds, `catch-up ran ${ticksMissed(catchUp).length} of ~${missedSeconds} missed ticks`);
      for (const runs of [skip, catchUp]) {
        const times = runs.map((r) => r.logicalTime);
        assert.equal(new Set(times).size, times.length, 'no tick fired twice');
        assert.ok(times.every((t) => t % 1000 === 0), 'logical times are the ticks themselves');
        assert.ok(runs.every((r) => r.trigger === 'schedule'));
      }
      assert.ok(skip.some((r) => r.logicalTime < stoppedAt));
    } finally {
      assert.equal(await s.stop(), 0);
    }
  });

  it('rejects a bad cron, an unknown time zone and a schedule that cannot fill a required input, with their places', async () => {
    const s = await startServer();
    try {
      const res = await s.fetch('/api/v1/flows', {
        method: 'POST',
        headers: { 'content-type': 'application/yaml' },
        body: 'id: bad\ninputs:\n  text: { type: asset }\ntriggers:\n  - { type: schedule, cron: "61 * * * *" }\n  - { type: schedule, cron: "0 3 * * *", timezone: Mars/Olympus }\ntasks:\n  - id: t\n    component: x@1\n',
      });
      assert.equal(res.status, 400);
      const body = (await res.json()) as any;
      assert.equal(body.error.code, 'invalid_flow');
      const byPath = Object.fromEntries(body.error.details.map((d: any) => [d.path, d]));
      assert.match(byPath['triggers[0].cron'].message, /invalid cron "61 \* \* \* \*"/);
      assert.equal(byPath['triggers[0].cron'].line, 5);
      assert.match(byPath['triggers[1].timezone'].message, /unknown time zone "Mars\/Olympus"/);
      const unfillable = await s.fetch('/api/v1/flows', {
        method: 'POST',
        headers: { 'content-type': 'application/yaml' },
        body: 'id: bad\ninputs:\n  text: { type: asset }\ntriggers:\n  - { type: schedule, cron: "0 3 * * *" }\ntasks:\n  - id: t\n    component: x@1\n    inputs: [text]\n',
      });
      assert.equal(unfillable.status, 400);
      const issue = ((await unfillable.json()) as any).error.details[0];
      assert.equal(issue.path, 'triggers[0]');
      assert.match(issue.message, /a scheduled flow cannot have a required asset input \("text"\)/);
    } finally {
      await s.stop();
    }
  });
});
