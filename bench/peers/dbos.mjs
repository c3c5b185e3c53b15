/**
 * DBOS Transact peer: a private PostgreSQL cluster (Debian's server binaries, initdb into a temp
 * dir, default postgresql.conf, 127.0.0.1 on a free port) and the DBOS app process (dbos-steps.mjs).
 * Each run is one HTTP call to the app, which runs the workflow and answers when it has finished.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { freePort, httpJson, installedVersion, ipcReady, ipcRequest, isMain, peerMain, peersDir, runWorkloads, tail, waitFor, watchExit } from './common.mjs';

/** Debian keeps the server binaries in /usr/lib/postgresql/<major>/bin, off PATH. */
function pgBinDir() {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root) ? readdirSync(root).filter((d) => existsSync(path.join(root, d, 'bin', 'initdb'))) : [];
  if (!majors.length) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql (run bench/peers/setup.sh)');
  return path.join(root, majors.sort((a, b) => Number(b) - Number(a))[0], 'bin');
}

/** PostgreSQL refuses to run as root: as root, run it as the `postgres` user the Debian package creates. */
function pgUser() {
  if (process.getuid() !== 0) return {};
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

export async function bench({ scope, quick, log }) {
  const bin = pgBinDir();
  const user = pgUser();
  const dir = scope.tmpDir('dbos');
  const data = path.join(dir, 'pgdata');
  const sock = path.join(dir, 'sock');
  mkdirSync(sock);
  if (user.uid !== undefined) {
    chownSync(dir, user.uid, user.gid);
    chownSync(sock, user.uid, user.gid);
  }
  const pgVersion = execFileSync(path.join(bin, 'postgres'), ['--version'], { encoding: 'utf8' }).trim();
  log(`initdb (${pgVersion})`);
  execFileSync(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-instructions'], {
    ...user,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, LC_ALL: 'C' },
    cwd: dir,
  });
  const port = await freePort();
  // Only where to listen is set; fsync, synchronous_commit and the WAL keep their defaults.
  // SIGINT is PostgreSQL's "fast" shutdown (SIGTERM would wait for clients to leave).
  const pg = scope.spawn('postgres', path.join(bin, 'postgres'), ['-D', data, '-p', String(port), '-k', sock, '-c', 'listen_addresses=127.0.0.1'], {
    ...user,
    cwd: dir,
    logDir: dir,
    stopSignal: 'SIGINT',
  });
  const died = watchExit(pg);
  died.catch(() => {});
  await Promise.race([
    died,
    waitFor('postgres to accept connections', () => {
      execFileSync(path.join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-q']);
      return true;
    }),
  ]);
  const settings = execFileSync(path.join(bin, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-Atc', "select string_agg(name || '=' || setting, ', ' order by name) from pg_settings where name in ('fsync','synchronous_commit','wal_sync_method','full_page_writes')"], { encoding: 'utf8' }).trim();
  log(`postgres on :${port} (${settings})`);

  const appPort = await freePort();
  const dbUrl = `postgresql://postgres@127.0.0.1:${port}/tutti_bench_dbos`;
  const app = scope.fork('dbos-app', path.join(peersDir, 'dbos-steps.mjs'), [String(appPort), dbUrl], { logDir: dir });
  await ipcReady(app, 120_000);
  const appDied = watchExit(app);
  appDied.catch(() => {});
  // Let the app stop DBOS (its pool, its background loops) before postgres goes away.
  scope.onClose(() => (app.connected ? ipcRequest(app, { type: 'shutdown' }, 10_000) : undefined));

  const call = async (steps, n) => {
    const r = await httpJson(`http://127.0.0.1:${appPort}/chain`, { steps, n });
    if (r.status !== 200) throw new Error(`dbos app: HTTP ${r.status} ${JSON.stringify(r.body)}\n${tail(app)}`);
    return r.body;
  };
  const compute = async (n, times) => (await ipcRequest(app, { type: 'compute', n, times })).ms;
  const result = await Promise.race([died, appDied, runWorkloads({ call, compute, quick, log })]);
  return {
    ...result,
    notes: [
      `@dbos-inc/dbos-sdk ${installedVersion('@dbos-inc/dbos-sdk')} on ${pgVersion}, fresh cluster, default postgresql.conf`,
      `durability: default; every step checkpoint is a committed PostgreSQL transaction, WAL fsynced (${settings})`,
      'one workflow, one DBOS.runStep per step; triggered by an HTTP call to the app process, which answers when the workflow returns',
      'steps run in the DBOS app process (a separate Node process from the client), as DBOS runs them in-process',
    ],
  };
}

if (isMain(import.meta.url)) await peerMain('dbos', bench);
