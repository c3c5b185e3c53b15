/**
 * The attacks of the security review, each replayed against a real `tutti serve`: the server must
 * answer every one with a clear 4xx (or a 503 for its own full disk), leak nothing, and live on.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { module, tempDir } from './helpers.js';
import { startServer, type Server } from './server.js';

const yaml = { 'content-type': 'application/yaml' };
const json = { 'content-type': 'application/json' };

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) / 1024;
}

/**
 * POST a body with its Content-Length through node:http. A server that refuses a body before
 * reading it answers and closes the connection while the client is still writing: the client then
 * sees the answer, or (a race in the kernel) only a reset. Either is a refusal; undefined is the reset.
 */
function postWithLength(url: string, headers: Record<string, string>, body: Uint8Array): Promise<Response | undefined> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent: false, headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(new Response(Buffer.concat(chunks), { status: res.statusCode! })));
      res.on('error', () => resolve(undefined));
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE' || e.code === 'ECONNRESET') setTimeout(() => resolve(undefined), 500);
      else reject(e);
    });
    req.end(body);
  });
}

/** A refused body: a 413 naming the limit, or a reset before the answer could be read. */
async function refused(res: Response | undefined, limit: RegExp, where: string) {
  if (res) await expectError(res, 413, limit, where);
}

async function expectError(res: Response, status: number, pattern: RegExp, where: string) {
  const text = await res.text();
  assert.equal(res.status, status, `${where}: ${text.slice(0, 300)}`);
  const body = JSON.parse(text) as { error: { code: string; message: string } };
  assert.match(`${body.error.code} ${body.error.message}`, pattern, where);
  return body;
}

/** Upload wordcount + sum and save a two-task flow `wc` that can also be triggered by webhook. */
async function wordCountFlow(s: Server) {
  for (const [name, file] of [['wordcount', 'wordcount'], ['sum', 'sum']]) {
    const res = await s.fetch(`/api/v1/components?name=${name}&version=1.0.0`, { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: readFileSync(module(file!)) });
    assert.ok(res.status < 300, await res.text());
  }
  const flow = 'id: wc\ninputs:\n  text: { type: asset }\n  n: { type: number, default: 1 }\ntriggers:\n  - { type: webhook, input: text }\ntasks:\n  - id: count\n    component: wordcount@1.0.0\n    inputs: [text]\n  - id: total\n    component: sum@1.0.0\n    needs: [count]\n';
  assert.ok((await s.fetch('/api/v1/flows', { method: 'POST', headers: yaml, body: flow })).status < 300);
}

describe('security: hostile bodies', () => {
  it('survives documents nested 200,000 deep, alias bombs and number overflows, each a 400', async () => {
    const s = await startServer({ token: 'tok-1' });
    try {
      const deep = `{"id":"d","tasks":[],"x":${'['.repeat(200_000)}${']'.repeat(200_000)}}`;
      for (let i = 0; i < 2; i++) {
        await expectError(await s.fetch('/api/v1/flows', { method: 'POST', headers: json, body: deep }), 400, /deeper than 64/, 'deep JSON flow');
        await expectError(await s.fetch('/api/v1/flows', { method: 'POST', headers: yaml, body: deep }), 400, /deeper than 64/, 'deep YAML flow');
        await expectError(await s.fetch('/api/v1/workers/heartbeat', { method: 'POST', headers: json, body: `{"worker":"r-a","leases":${'['.repeat(100_000)}` }), 400, /deeper than 64/, 'deep JSON route');
      }
      const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...'bcdefgh'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(',')}]`), 'id: x', 'tasks: []'].join('\n');
      await expectError(await s.fetch('/api/v1/flows', { method: 'POST', headers: yaml, body: bomb }), 400, /alias/i, 'alias bomb');
      // Durations a timer cannot hold (24.9 days re-fired every millisecond) are refused at their line.
      const long = await expectError(await s.fetch('/api/v1/flows', { method: 'POST', headers: yaml, body: 'id: t\ntasks:\n  - id: a\n    component: x@1\n    timeout: 25d\n' }), 400, /timeout.*too long/, 'timeout 25d');
      assert.match(long.error.message, /flow:5:/);
      const nines = '9'.repeat(400);
      await expectError(await s.fetch(`/api/v1/runs?since=${nines}`), 400, /since/, 'since');
      await expectError(await s.fetch(`/api/v1/runs?until=${nines}`), 400, /until/, 'until');
      await expectError(await s.fetch('/api/v1/workers/heartbeat', { method: 'POST', headers: json, body: '{"worker":"r-a","leases":[{"instanceId":"i","attempt":1,"progress":1e999}]}' }), 400, /1e999/, 'overflowing number');
      assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
      assert.doesNotMatch(s.stderr(), /internal error|FATAL/);
    } finally {
      assert.equal(await s.stop(), 0);
    }
  });

  it('caps every route\'s body as it streams: JSON routes at --max-json, uploads at --max-upload', async () => {
    const s = await startServer({ args: ['--max-upload', '8MiB', '--max-json', '64KiB'] });
    try {
      const big = new Uint8Array(256 << 10).fill(0x20);
      for (const [, p] of [['POST', '/api/v1/workers/heartbeat'], ['POST', '/api/v1/workers/lease'], ['POST', '/api/v1/flows/x/backfills'], ['POST', '/api/v1/flows'], ['POST', '/api/v1/workers/release']] as const) {
        await refused(await postWithLength(s.url + p, json, big), /65536/, `POST ${p} with a length`);
      }
      // Without a Content-Length: chunked, refused once the limit has streamed past, not after the whole body.
      const rssBefore = rssMiB(s.child.pid!);
      const streamed = (mib: number) => {
        let left = mib;
        return new ReadableStream<Uint8Array>({
          pull(ctl) {
            if (left-- <= 0) ctl.close();
            else ctl.enqueue(new Uint8Array(1 << 20).fill(0x20));
          },
        });
      };
      const results = await Promise.all(
        [0, 1, 2, 3].map(() =>
          s
            .fetch('/api/v1/workers/heartbeat', { method: 'POST', headers: json, body: streamed(200), duplex: 'half' } as RequestInit)
            .then((r) => r.status)
            .catch(() => 'reset'),
        ),
      );
      for (const r of results) assert.ok(r === 413 || r === 'reset', `a 200 MiB stream got ${r}`);
      assert.ok(rssMiB(s.child.pid!) - rssBefore < 150, `RSS grew by ${Math.round(rssMiB(s.child.pid!) - rssBefore)} MiB for four refused bodies`);
      // Uploads keep their own, larger limit.
      await refused(await postWithLength(`${s.url}/api/v1/components`, { 'content-type': 'application/wasm' }, new Uint8Array(9 << 20)), /8388608/, 'upload over --max-upload');
      // Under the limit it is read (and refused for what it is, not its size).
      await expectError(await s.fetch('/api/v1/components', { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: new Uint8Array(7 << 20) }), 400, /invalid_component/, 'upload under --max-upload');
      assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
    } finally {
      assert.equal(await s.stop(), 0);
    }
  });
});

describe('security: answers that leak nothing', () => {
  it('names an unversioned component without SQL, and a bad /ui path is a 404 without a stack trace', async () => {
    const s = await startServer({ token: 'tok-2' });
    try {
      const body = await expectError(await s.fetch('/api/v1/flows', { method: 'POST', headers: yaml, body: 'id: x\ntasks:\n  - id: a\n    component: sum\n' }), 400, /"sum" is neither a \.wasm path nor name@version/, 'component without version');
      assert.doesNotMatch(JSON.stringify(body), /select|from "|params:|SQLITE/i);
      for (let i = 0; i < 3; i++) assert.equal((await fetch(`${s.url}/ui/%E0%A4%A`)).status, 404);
      assert.doesNotMatch(s.stderr(), /URIError|internal error|\n\s+at /);
    } finally {
      await s.stop();
    }
  });

  it('keeps server paths out of a run whose input went missing, and out of its download', async () => {
    const s = await startServer();
    try {
      const up = await s.fetch('/api/v1/components?name=fail&version=1', { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: readFileSync(module('fail')) });
      assert.equal(up.status, 201);
      // Fails on its first attempt, copies its input through on the second (the retry below).
      const flow = 'id: f\ninputs:\n  f: { type: asset }\ntasks:\n  - id: a\n    component: fail@1\n    inputs: [f]\n    env: { SUCCEED_ON_ATTEMPT: "2" }\n';
      assert.equal((await s.fetch('/api/v1/flows', { method: 'POST', headers: yaml, body: flow })).status, 201);
      const form = new FormData();
      form.append('f', new Blob([new Uint8Array(100_000).fill(97)]), 'f.bin');
      const run = (await (await s.fetch('/api/v1/flows/f/runs', { method: 'POST', body: form })).json()) as { id: string };
      await s.fetch(`/api/v1/runs/${run.id}/events`).then((r) => r.text());
      const [input] = ((await (await s.fetch(`/api/v1/runs/${run.id}/assets`)).json()) as { items: { id: string; size: number }[] }).items;
      // The operator's mistake: the input's bytes vanish from the asset store.
      execFileSync('find', [path.join(s.home, 'assets'), '-type', 'f', '-size', '+90k', '-delete']);
      assert.equal((await s.fetch(`/api/v1/runs/${run.id}/retry`, { method: 'POST' })).status, 200);
      await s.fetch(`/api/v1/runs/${run.id}/events`).then((r) => r.text());
      const detail = await (await s.fetch(`/api/v1/runs/${run.id}`)).text();
      const instance = await (await s.fetch(`/api/v1/runs/${run.id}/tasks/a/instances/0`)).text();
      assert.match(instance, /"attempt":2/, instance);
      for (const text of [detail, instance]) {
        assert.doesNotMatch(text, new RegExp(s.home.replace(/[/.]/g, '\\$&')), text);
        assert.doesNotMatch(text, /\/tmp\//, text);
      }
      await expectError(await s.fetch(`/api/v1/assets/${input!.id}/content`), 404, /asset_missing/, 'download of a lost asset');
      assert.doesNotMatch(s.stderr(), /internal error|ENOENT/);
    } finally {
      await s.stop();
    }
  });

  it('a component whose bytes vanished from the asset store is a 503 saying so, not a crash or a 500', async () => {
    // No local workers: the run is planned, its instance waits for whoever runs it next.
    const first = await startServer({ args: ['--workers', '0'] });
    const up = await first.fetch('/api/v1/components?name=wc&version=1', { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: readFileSync(module('wordcount')) });
    assert.equal(up.status, 201);
    assert.equal((await first.fetch('/api/v1/flows', { method: 'POST', headers: yaml, body: 'id: f\ninputs:\n  f: { type: asset }\ntasks:\n  - id: a\n    component: wc@1\n    inputs: [f]\n' })).status, 201);
    const pendingForm = new FormData();
    pendingForm.append('f', new Blob(['a b c']), 'f.txt');
    const pending = (await (await first.fetch('/api/v1/flows/f/runs', { method: 'POST', body: pendingForm })).json()) as { id: string };
    await first.stop();
    // The operator's mistake; a new process has no compiled copy in memory.
    execFileSync('find', [path.join(first.home, 'assets'), '-name', '*.wasm', '-delete']);
    const s = await startServer({ home: first.home });
    try {
      const form = new FormData();
      form.append('f', new Blob(['a b c']), 'f.txt');
      const body = await expectError(await s.fetch('/api/v1/flows/f/runs', { method: 'POST', body: form }), 503, /storage_unavailable.*missing/, 'run of a lost component');
      assert.doesNotMatch(JSON.stringify(body), new RegExp(s.home.replace(/[/.]/g, '\\$&')));
      // The instance planned before: its attempts cannot be prepared, and fail (retried, then the run).
      const events = await (await s.fetch(`/api/v1/runs/${pending.id}/events`, { signal: AbortSignal.timeout(30_000) })).text();
      assert.match(events, /run-failed/);
      const run = await (await s.fetch(`/api/v1/runs/${pending.id}`)).text();
      assert.match(run, /cannot prepare the attempt: a file of the asset store is missing/, run);
      assert.doesNotMatch(run, new RegExp(s.home.replace(/[/.]/g, '\\$&')));
      assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
      assert.doesNotMatch(s.stderr(), /internal error/);
    } finally {
      assert.equal(await s.stop(), 0, 'the server died');
    }
  });

  it('a full or read-only disk under the database and assets is a 503 naming the cause, never a path, and the server lives on', async (t) => {
    const home = tempDir();
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', home], { stdio: 'ignore' });
    } catch {
      t.skip('mounting a small tmpfs needs root here');
      return;
    }
    let s: Server | undefined;
    try {
      s = await startServer({ home });
      const wasm = (name: string) => ({ method: 'POST', headers: { 'content-type': 'application/wasm' }, body: readFileSync(module(name)) });
      assert.equal((await s.fetch('/api/v1/components?name=x&version=1', wasm('adv-exit'))).status, 201);
      // The second is larger than the first: a write that fits in the WAL's old pages needs no disk.
      const flow = (id: string, size = 100_000) => `id: ${id}\ndescription: "${'d'.repeat(size)}"\ninputs:\n  f: { type: asset }\ntasks:\n  - id: a\n    component: x@1\n    inputs: [f]\n`;
      assert.equal((await s.fetch('/api/v1/flows', { method: 'POST', headers: yaml, body: flow('before') })).status, 201);
      // Fill what is left of the disk.
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${path.join(home, 'filler')}`, 'bs=64k'], { stdio: 'ignore' });
      } catch {
        // dd stops with ENOSPC: that is the point
      }
      const hostPath = new RegExp(`${home.replace(/[/.]/g, '\\$&')}|/tmp/|INSERT|SQLITE_[A-Z]+:`);
      const unavailable = async (res: Response, code: RegExp, where: string) => {
        const text = await res.text();
        assert.equal(res.status, 503, `${where}: ${text}`);
        assert.match(text, code, where);
        assert.doesNotMatch(text, hostPath, where);
      };
      await unavailable(await s.fetch('/api/v1/components?name=y&version=1', wasm('adv-log-flood')), /storage_unavailable.*no space left/, 'component upload');
      await unavailable(await s.fetch('/api/v1/flows', { method: 'POST', headers: yaml, body: flow('after', 900_000) }), /database_unavailable|storage_unavailable/, 'flow');
      const form = new FormData();
      form.append('f', new Blob([new Uint8Array(2 << 20)]), 'f.bin');
      await unavailable(await s.fetch('/api/v1/flows/before/runs', { method: 'POST', body: form }), /unavailable/, 'run trigger with an upload');
      assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
      assert.doesNotMatch(s.stderr(), /internal error/);
    } finally {
      await s?.stop();
      execFileSync('umount', ['-l', home]);
    }
    // An asset store that turns read-only (remounted after the server made its directories).
    const assets = tempDir();
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', assets]);
    let ro: Server | undefined;
    try {
      ro = await startServer({ args: ['--assets', assets] });
      execFileSync('mount', ['-o', 'remount,ro', assets]);
      const res = await ro.fetch('/api/v1/components?name=z&version=1', { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: readFileSync(module('adv-exit')) });
      const text = await res.text();
      assert.equal(res.status, 503, text);
      assert.match(text, /storage_unavailable/);
      assert.doesNotMatch(text, new RegExp(assets.replace(/[/.]/g, '\\$&')));
      assert.equal((await fetch(`${ro.url}/healthz`)).status, 200);
    } finally {
      await ro?.stop();
      execFileSync('umount', ['-l', assets]);
    }
  });
});

describe('security: smaller ones', () => {
  it('serves with a token holding "@" and "!", refuses one a header cannot carry, and 401s say why', async () => {
    const s = await startServer({ token: 'p@ss!word' });
    try {
      assert.equal((await s.fetch('/api/v1/flows')).status, 200);
      const res = await fetch(`${s.url}/api/v1/flows`, { headers: { authorization: 'Bearer p@ss!wrong' } });
      const body = await expectError(res, 401, /wrong bearer token/, 'wrong token');
      assert.doesNotMatch(body.error.message, /bad request/);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
    } finally {
      await s.stop();
    }
    const bad = spawn(process.execPath, [path.join(process.cwd(), 'bin/tutti.mjs'), 'serve', '--port', '0', '--home', tempDir(), '--token', 'has space'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    bad.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise((r) => bad.on('exit', r));
    assert.equal(code, 2, stderr);
    assert.match(stderr, /visible ASCII/);
  });

  it('ends a finished run\'s SSE stream resumed past its end; refuses a webhook number out of range and a repeated form part', async () => {
    const s = await startServer();
    try {
      await wordCountFlow(s);
      const form = new FormData();
      form.append('text', new Blob(['a b c']), 'a.txt');
      const run = (await (await s.fetch('/api/v1/flows/wc/runs', { method: 'POST', body: form })).json()) as { id: string };
      await s.fetch(`/api/v1/runs/${run.id}/events`).then((r) => r.text()); // to its end
      for (const from of ['999999', '0']) {
        const res = await s.fetch(`/api/v1/runs/${run.id}/events`, { headers: { 'last-event-id': from }, signal: AbortSignal.timeout(8000) });
        await res.text(); // throws on the timeout when the stream never ends
      }
      await expectError(await s.fetch('/api/v1/flows/wc/webhook', { method: 'POST', headers: json, body: '{"n": 1e999}' }), 400, /1e999/, 'webhook 1e999');
      const twice = new FormData();
      twice.append('text', new Blob(['first']), 'a.txt');
      twice.append('text', new Blob(['second']), 'b.txt');
      await expectError(await s.fetch('/api/v1/flows/wc/runs', { method: 'POST', body: twice }), 400, /more than one part named "text"/, 'repeated part');
    } finally {
      await s.stop();
    }
  });

  it('refuses connections past --max-connections and serves again once they close', async () => {
    const s = await startServer({ args: ['--max-connections', '8'] });
    const { port } = new URL(s.url);
    const sockets: net.Socket[] = [];
    try {
      for (let i = 0; i < 8; i++) {
        const sock = net.connect(Number(port), '127.0.0.1');
        await new Promise((r) => sock.once('connect', r));
        sockets.push(sock);
      }
      await new Promise((r) => setTimeout(r, 200));
      const refused = await fetch(`${s.url}/healthz`, { signal: AbortSignal.timeout(3000) }).then(
        () => false,
        () => true,
      );
      assert.ok(refused, 'a ninth connection was served');
    } finally {
      for (const sock of sockets) sock.destroy();
    }
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
    await s.stop();
  });
});
