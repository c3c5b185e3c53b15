/** Auth, and bad input of every kind: always a JSON 4xx naming the problem, never a 5xx, never a crash. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startServer } from './server.js';

describe('API auth', () => {
  it('needs the bearer token on /api/v1 and /metrics when one is set; /healthz stays open', async () => {
    const s = await startServer({ token: 's3cret' });
    try {
      const bare = (p: string, headers: Record<string, string> = {}) => fetch(s.url + p, { headers });
      for (const p of ['/api/v1/flows', '/api/v1/runs', '/metrics', '/api/v1/openapi.json']) {
        const res = await bare(p);
        assert.equal(res.status, 401, p);
        assert.equal(((await res.json()) as any).error.code, 'unauthorized');
      }
      assert.equal((await bare('/api/v1/flows', { authorization: 'Bearer nope' })).status, 401);
      assert.equal((await bare('/api/v1/flows', { authorization: 'Basic czNjcmV0' })).status, 400, 'a malformed Authorization header is a bad request (RFC 6750)');
      assert.equal((await bare('/api/v1/flows', { authorization: 'Bearer s3cret' })).status, 200);
      assert.equal((await s.fetch('/metrics')).status, 200);
      assert.equal((await bare('/healthz')).status, 200);
    } finally {
      await s.stop();
    }
  });

  it('takes the token from TUTTI_API_TOKEN, and without one answers without auth', async () => {
    const s = await startServer({ env: { TUTTI_API_TOKEN: 'from-env' } });
    try {
      assert.equal((await fetch(`${s.url}/api/v1/flows`)).status, 401);
      assert.equal((await fetch(`${s.url}/api/v1/flows`, { headers: { authorization: 'Bearer from-env' } })).status, 200);
    } finally {
      await s.stop();
    }
    const open = await startServer({ env: { TUTTI_API_TOKEN: '' } });
    try {
      assert.equal((await fetch(`${open.url}/api/v1/flows`)).status, 200);
    } finally {
      await open.stop();
    }
  });
});

describe('API bad input', () => {
  it('answers every bad request with a JSON 4xx that names the problem, and survives a random fuzz', async () => {
    const s = await startServer({ args: ['--max-upload', '64KiB'] });
    try {
      const yaml = { 'content-type': 'application/yaml' };
      const json = { 'content-type': 'application/json' };
      const cases: [string, string, Record<string, string>, RequestInit['body'], number, RegExp][] = [
        ['POST', '/api/v1/flows', yaml, 'id: x\ntasks: [', 400, /invalid YAML/],
        ['POST', '/api/v1/flows', yaml, 'id: x\ntasks:\n  - id: a\n    component: nope@1\n', 400, /component nope@1 is not registered/],
        ['POST', '/api/v1/flows', yaml, 'id: x\ntasks:\n  - id: a\n    component: ./a.wasm\n', 400, /upload the component and use name@version/],
        ['POST', '/api/v1/flows', yaml, 'id: x\ntasks:\n  - id: a\n    component: a@1\n    needs: [b]\n', 400, /unknown task "b" in needs/],
        ['POST', '/api/v1/flows', yaml, 'id: x\ntriggers: [{ type: schedule, cron: "* * *" }]\ntasks:\n  - id: a\n    component: a@1\n', 400, /has 3 field/],
        ['POST', '/api/v1/flows', yaml, '[1, 2]', 400, /a flow must be a mapping/],
        ['POST', '/api/v1/flows', { 'content-type': 'text/html' }, '<p>', 415, /use application\/yaml/],
        ['POST', '/api/v1/flows', yaml, `id: x\ndescription: "${'x'.repeat(2 ** 20)}"\n`, 413, /larger than/],
        ['PUT', '/api/v1/flows/other', yaml, 'id: x\ntasks:\n  - id: a\n    component: a@1\n', 400, /URL names flow "other"/],
        ['GET', '/api/v1/flows/nope', {}, undefined, 404, /flow nope not found/],
        ['DELETE', '/api/v1/flows/nope', {}, undefined, 404, /flow nope not found/],
        ['POST', '/api/v1/flows/nope/runs', json, '{}', 404, /flow nope not found/],
        ['POST', '/api/v1/flows/nope/backfills', json, '{"from":"2026-01-01T00:00:00Z","to":"2026-01-02T00:00:00Z"}', 404, /no flow nope/],
        ['POST', '/api/v1/flows/nope/backfills', json, '{"from":"yesterday"}', 400, /from/],
        ['GET', '/api/v1/runs?limit=501', {}, undefined, 400, /limit/],
        ['GET', '/api/v1/runs?limit=abc', {}, undefined, 400, /limit/],
        ['GET', '/api/v1/runs?cursor=!!', {}, undefined, 400, /not a cursor/],
        ['GET', '/api/v1/runs?state=done', {}, undefined, 400, /unknown state\(s\) done/],
        ['GET', '/api/v1/runs?since=tomorrow', {}, undefined, 400, /ISO 8601/],
        ['GET', '/api/v1/runs/nope', {}, undefined, 404, /run nope not found/],
        ['POST', '/api/v1/runs/nope/cancel', {}, undefined, 404, /run nope not found/],
        ['POST', '/api/v1/runs/nope/retry', {}, undefined, 404, /no run nope/],
        ['GET', '/api/v1/runs/nope/events', {}, undefined, 404, /run nope not found/],
        ['GET', '/api/v1/runs/nope/tasks/t/instances?limit=0', {}, undefined, 400, /limit/],
        ['GET', '/api/v1/assets/nope/content', {}, undefined, 404, /asset nope not found/],
        ['POST', '/api/v1/components', { 'content-type': 'application/wasm' }, new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]), 400, /core module|component/i],
        ['POST', '/api/v1/components', { 'content-type': 'application/wasm' }, 'not wasm at all', 400, /invalid_component|not a WebAssembly/i],
        ['POST', '/api/v1/components', { 'content-type': 'application/wasm' }, new Uint8Array(65 * 1024), 413, /64|65536|larger/],
        ['POST', '/api/v1/components', { 'content-type': 'application/json' }, '{}', 415, /application\/wasm/],
        ['POST', '/api/v1/components?name=a', { 'content-type': 'application/wasm' }, 'x', 400, /both name and version/],
        ['POST', '/api/v1/components?name=A%20B&version=1', { 'content-type': 'application/wasm' }, 'x', 400, /name/],
        ['GET', '/api/v1/components/abc', {}, undefined, 404, /component abc not found/],
        ['GET', '/api/v1/nothing-here', {}, undefined, 404, /no route GET/],
      ];
      for (const [method, p, headers, body, status, message] of cases) {
        const res = await s.fetch(p, { method, headers, body });
        const text = await res.text();
        assert.equal(res.status, status, `${method} ${p}: ${text.slice(0, 300)}`);
        const parsed = JSON.parse(text) as any;
        assert.equal(typeof parsed.error.code, 'string', `${method} ${p}`);
        assert.match(`${parsed.error.code} ${parsed.error.message}`, message, `${method} ${p}`);
      }

      // A flow to give the fuzz something real to hit.
      const ok = await s.fetch('/api/v1/flows', { method: 'POST', headers: yaml, body: 'id: f\ninputs:\n  n: { type: number }\ntasks:\n  - id: a\n    component: a@1\n' });
      assert.equal(ok.status, 400); // a@1 is not registered: still a 4xx, the fuzz goes on with unknown flows

      let seed = 42;
      const rand = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed % n;
      };
      const pick = <T>(xs: T[]) => xs[rand(xs.length)]!;
      const paths = ['/api/v1/flows', '/api/v1/flows/f', '/api/v1/flows/f/runs', '/api/v1/flows/f/webhook', '/api/v1/flows/f/backfills', '/api/v1/runs', '/api/v1/runs/r_x', '/api/v1/runs/r_x/cancel', '/api/v1/runs/r_x/retry', '/api/v1/runs/r_x/tasks/a/instances', '/api/v1/runs/r_x/tasks/a/instances/-1/log', '/api/v1/components', '/api/v1/components/x@1', '/api/v1/assets/a_x', '/api/v1/backfills/b', '/metrics'];
      const types = ['application/json', 'application/yaml', 'multipart/form-data; boundary=zz', 'application/wasm', 'text/plain', ''];
      const bodies = ['', '{', '{}', '[]', 'null', '{"params":{"n":"x"}}', '{"params":5}', '{"assets":{"n":["a_1"]}}', '\u0000\u0001\u0002', 'id: f\ntasks: 7', '--zz\r\nContent-Disposition: form-data; name="n"\r\n\r\n1\r\n--zz--\r\n', '{"from":"2026-01-01T00:00:00Z","to":"2025-01-01T00:00:00Z"}'];
      const queries = ['', '?limit=-1', '?after=x', '?cursor=%FF', '?state=', '?since=1e999', '?q=%00', '?attempt=0', '?name=x&version=../../'];
      for (let i = 0; i < 300; i++) {
        const method = pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH']);
        const type = pick(types);
        const res = await s.fetch(pick(paths) + pick(queries), { method, headers: type ? { 'content-type': type } : {}, body: method === 'GET' ? undefined : pick(bodies) });
        const text = await res.text();
        assert.ok(res.status < 500, `${method} → ${res.status}: ${text.slice(0, 200)}`);
      }
      assert.equal((await s.fetch('/healthz')).status, 200);
      assert.doesNotMatch(s.stderr(), /internal error/);
    } finally {
      assert.equal(await s.stop(), 0);
    }
  });
});
