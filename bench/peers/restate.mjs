/**
 * Restate peer: `restate-server` (the binary inside @restatedev/restate-server) with a fresh base
 * dir and its documented defaults, plus a service endpoint process (restate-steps.mjs). Each run is
 * one HTTP call to Restate's ingress, which answers when the handler has finished.
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { freePort, httpJson, installedVersion, ipcReady, ipcRequest, isMain, peerMain, peersDir, runWorkloads, sleep, tail, waitFor, watchExit } from './common.mjs';

export async function bench({ scope, quick, log }) {
  const require = createRequire(path.join(peersDir, 'package.json'));
  const bin = require.resolve(`@restatedev/restate-server-${process.platform}-${process.arch}/bin/restate-server`);
  const dir = scope.tmpDir('restate');
  const [ingress, admin, node, endpoint] = [await freePort(), await freePort(), await freePort(), await freePort()];
  // Only addresses are set: every storage and durability option keeps its default.
  // Telemetry is off because this machine has no network to send it to.
  const config = path.join(dir, 'restate.toml');
  writeFileSync(
    config,
    [
      `bind-address = "127.0.0.1:${node}"`,
      `advertised-address = "http://127.0.0.1:${node}/"`,
      'disable-telemetry = true',
      '[ingress]',
      `bind-address = "127.0.0.1:${ingress}"`,
      '[admin]',
      `bind-address = "127.0.0.1:${admin}"`,
      '',
    ].join('\n'),
  );
  log(`starting restate-server ${installedVersion('@restatedev/restate-server')} (ingress :${ingress}, admin :${admin})`);
  const server = scope.spawn('restate-server', bin, ['--config-file', config, '--base-dir', path.join(dir, 'data'), '--node-name', 'bench', '--no-logo'], { logDir: dir });
  const died = watchExit(server);
  died.catch(() => {});
  await Promise.race([died, waitFor('restate admin API', async () => (await httpJson(`http://127.0.0.1:${admin}/health`)).status === 200, 120_000)]);

  const steps = scope.fork('restate-steps', path.join(peersDir, 'restate-steps.mjs'), [String(endpoint)], { logDir: dir });
  await ipcReady(steps);
  const reg = await waitFor('deployment registration', async () => {
    const r = await httpJson(`http://127.0.0.1:${admin}/deployments`, { uri: `http://127.0.0.1:${endpoint}/` });
    if (r.status >= 300) throw new Error(`HTTP ${r.status}: ${JSON.stringify(r.body)}`);
    return r;
  });
  log(`registered deployment ${reg.body?.id ?? ''}`);

  const call = async (stepsN, n) => {
    const r = await httpJson(`http://127.0.0.1:${ingress}/bench/chain`, { steps: stepsN, n });
    if (r.status !== 200) throw new Error(`restate ingress: HTTP ${r.status} ${JSON.stringify(r.body)}\n${tail(server)}`);
    return r.body;
  };
  // The ingress learns the new deployment asynchronously: the first calls may 404.
  await waitFor('restate ingress to route bench/chain', () => Promise.race([call(1, 1), sleep(5000).then(() => false)]), 60_000);

  const compute = async (n, times) => (await ipcRequest(steps, { type: 'compute', n, times })).ms;
  const result = await Promise.race([died, runWorkloads({ call, compute, quick, log })]);
  return {
    ...result,
    notes: [
      `restate-server ${installedVersion('@restatedev/restate-server')}, @restatedev/restate-sdk ${installedVersion('@restatedev/restate-sdk')}, default configuration (only addresses set), fresh base dir`,
      'durability: default; journal and log in RocksDB with the WAL fsynced (rocksdb-disable-wal-fsync = false)',
      'one service handler, one ctx.run per step; triggered by an HTTP call to the ingress that answers on completion',
      'steps run in a separate Node process (the service endpoint, HTTP/2); the client is the benchmark process',
      'restate-sdk 1.17 needs Promise.withResolvers (Node >= 22): the step process adds the standard method on Node 20',
    ],
  };
}

if (isMain(import.meta.url)) await peerMain('restate', bench);
