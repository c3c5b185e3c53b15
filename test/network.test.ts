/**
 * Outgoing HTTP (wasi:http): a task reaches exactly the hosts its flow lists in `network.allow`.
 * The guest (modules/adversary/http-get.c) GETs http://$HTTP_AUTHORITY$HTTP_PATH and prints
 * "status: N" and the body, or "error: <error-code>".
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { taskRunInstances } from '../src/store/instances.js';
import { getRun, getTaskRuns, runAssets } from '../src/store/runs.js';
import { harness, module, type Harness } from './helpers.js';

const BIG = 'x'.repeat(1023) + '\n';

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; port: number; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url} host=${req.headers.host}`);
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, requests };
}

describe('network: outgoing HTTP to allowed hosts only', () => {
  let h: Harness;
  let api: Awaited<ReturnType<typeof listen>>;
  let other: Awaited<ReturnType<typeof listen>>;
  let closedPort: number;

  before(async () => {
    h = await harness();
    api = await listen((req, res) => {
      if (req.url === '/hello?name=tutti') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('hello from the test server\n');
      } else if (req.url === '/big') {
        res.writeHead(200).end(BIG.repeat(1024)); // 1 MiB: many reads, more than the guest's arena
      } else if (req.url === '/hang') {
        // never answers
      } else if (req.url === '/elsewhere') {
        res.writeHead(302, { location: `http://127.0.0.1:${other.port}/` }).end();
      } else {
        res.writeHead(404).end('no such page\n');
      }
    });
    other = await listen((_req, res) => res.end('you should not see this\n'));
    const closed = await listen(() => {});
    closedPort = closed.port;
    await new Promise((r) => closed.server.close(r));
  });
  after(async () => {
    api.server.closeAllConnections();
    await new Promise((r) => api.server.close(r));
    await new Promise((r) => other.server.close(r));
    await h.close();
  });

  /** Run http-get against `authority` + `path`, with `allow` as the flow's network grant (none when undefined). */
  async function get(id: string, authority: string, path: string, allow?: string[], extra = '') {
    const network = allow ? `\n    network: { allow: ${JSON.stringify(allow)} }` : '';
    const runId = await h.run(`id: ${id}
tasks:
  - id: get
    component: ${module('http-get')}
    env: { HTTP_AUTHORITY: "${authority}", HTTP_PATH: "${path}" }${network}${extra}
`);
    const db = h.tutti.database.db;
    const run = (await getRun(db, runId))!;
    const [tr] = await getTaskRuns(db, runId);
    const [inst] = await taskRunInstances(db, tr!.id);
    const asset = (await runAssets(db, runId)).find((a) => a.taskId === 'get');
    const output = asset ? await h.text(asset) : undefined;
    return { run, inst: inst!, output };
  }

  it('fetches from an allowed host:port', async () => {
    const { run, output } = await get('net-ok', `127.0.0.1:${api.port}`, '/hello?name=tutti', [`127.0.0.1:${api.port}`]);
    assert.equal(run.state, 'succeeded', run.error ?? '');
    assert.equal(output, 'status: 200\nhello from the test server\n');
    assert.ok(api.requests.includes(`GET /hello?name=tutti host=127.0.0.1:${api.port}`));
  });

  it('hands a 1 MiB body to the guest over many reads', async () => {
    const { run, output } = await get('net-big', `127.0.0.1:${api.port}`, '/big', [`127.0.0.1:${api.port}`]);
    assert.equal(run.state, 'succeeded', run.error ?? '');
    assert.equal(output, `status: 200\n${BIG.repeat(1024)}`);
  });

  it('denies a host that is not listed, with an error the guest handles; nothing is sent', async () => {
    const seen = other.requests.length;
    const { run, output } = await get('net-denied', `127.0.0.1:${other.port}`, '/', [`127.0.0.1:${api.port}`]);
    assert.equal(run.state, 'succeeded', run.error ?? '');
    assert.equal(output, 'error: HTTP-request-denied\n');
    const byName = await get('net-denied-name', `localhost:${api.port}`, '/', [`127.0.0.1:${api.port}`]);
    assert.equal(byName.output, 'error: HTTP-request-denied\n', 'another name for an allowed address is still another host');
    assert.equal(other.requests.length, seen, 'the denied server received nothing');
  });

  it('does not follow a redirect to a host that is not listed', async () => {
    const seen = other.requests.length;
    const { run, output } = await get('net-redirect', `127.0.0.1:${api.port}`, '/elsewhere', [`127.0.0.1:${api.port}`]);
    assert.equal(run.state, 'succeeded', run.error ?? '');
    assert.equal(output, 'status: 302\n', 'the guest sees the redirect itself');
    assert.equal(other.requests.length, seen);
  });

  it('allows any port of a bare host, and reports a refused connection as connection-refused', async () => {
    const ok = await get('net-any-port', `127.0.0.1:${api.port}`, '/missing', ['127.0.0.1']);
    assert.equal(ok.output, 'status: 404\nno such page\n');
    const refused = await get('net-refused', `127.0.0.1:${closedPort}`, '/', ['127.0.0.1']);
    assert.equal(refused.run.state, 'succeeded', refused.run.error ?? '');
    assert.equal(refused.output, 'error: connection-refused\n');
  });

  it('a request that never gets an answer ends with the task timeout', async () => {
    const { run, inst } = await get('net-hang', `127.0.0.1:${api.port}`, '/hang', [`127.0.0.1:${api.port}`], '\n    timeout: 1s');
    assert.equal(run.state, 'failed');
    assert.equal(inst.errorKind, 'timed-out', inst.error ?? '');
  });

  it('without a network grant, any use of wasi:http is a sandbox violation', async () => {
    const { run, inst } = await get('net-none', `127.0.0.1:${api.port}`, '/hello?name=tutti');
    assert.equal(run.state, 'failed');
    assert.equal(inst.errorKind, 'sandbox-violation', inst.error ?? '');
    assert.match(inst.error!, /wasi:http\/types#\w+ is not granted/);
  });
});
