/**
 * The embedded database's client (src/store/file-client.ts) on a real libSQL file: what it returns
 * must be what @libsql/client returns for the same statements, and what it has not synced yet
 * must never be visible.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createClient, type Client } from '@libsql/client';
import { packageRoot } from '../src/paths.js';
import { FileClient } from '../src/store/file-client.js';
import { tempDir } from './helpers.js';

describe('embedded database client', () => {
  let dir: string;
  let c: FileClient;
  before(async () => {
    dir = tempDir();
    c = new FileClient(path.join(dir, 'db.sqlite'));
    await c.executeMultiple('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, n INTEGER, b BLOB); CREATE TABLE child (id INTEGER PRIMARY KEY, t_id INTEGER NOT NULL REFERENCES t(id))');
  });
  after(() => c.close());

  it('returns what @libsql/client returns: rows by name and by index, counts, last rowid', async () => {
    const reference: Client = createClient({ url: `file:${path.join(dir, 'reference.sqlite')}` });
    try {
      for (const client of [c, reference]) {
        if (client === reference) await client.executeMultiple('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, n INTEGER, b BLOB)');
        await client.execute('DELETE FROM t');
      }
      const statements = [
        { sql: 'INSERT INTO t (id, name, n, b) VALUES (?, ?, ?, ?)', args: [7, 'seven', 49, new Uint8Array([1, 2, 3])] },
        { sql: 'INSERT INTO t (name, n) VALUES (?, ?), (?, ?)', args: ['eight', 64, 'nine', null] },
        { sql: 'UPDATE t SET n = n + 1 WHERE n IS NOT NULL', args: [] },
        { sql: 'SELECT id, name, n, name AS id, length(b) AS len FROM t ORDER BY id', args: [] },
        { sql: 'INSERT INTO t (name) VALUES (:name) RETURNING id, name', args: { name: 'ten' } },
        { sql: 'SELECT b FROM t WHERE id = 7', args: [] },
      ];
      for (const s of statements) {
        const [mine, theirs] = [await c.execute(s), await reference.execute(s)];
        assert.deepEqual(mine.toJSON(), theirs.toJSON(), s.sql);
        assert.deepEqual(mine.rows.map((r) => ({ ...r })), theirs.rows.map((r) => ({ ...r })), `${s.sql}: rows by name`);
        assert.deepEqual(mine.rows.map((r) => Array.prototype.slice.call(r)), theirs.rows.map((r) => Array.prototype.slice.call(r)), `${s.sql}: rows by index`);
      }
    } finally {
      reference.close();
    }
  });

  it('keeps working past its statement cache, and reports SQL errors as LibsqlError with the message', async () => {
    for (let i = 0; i < 600; i++) {
      const r = await c.execute(`SELECT ${i} AS v, ? AS w`, [i * 2]);
      assert.deepEqual([r.rows[0]!.v, r.rows[0]!.w], [i, i * 2]);
    }
    await assert.rejects(c.execute('SELECT nope FROM t'), (e: Error) => e.name === 'LibsqlError' && /no such column: nope/.test(e.message));
  });

  it('runs a batch atomically: a failing statement leaves nothing of the batch', async () => {
    const before = (await c.execute('SELECT count(*) AS n FROM t')).rows[0]!.n;
    await assert.rejects(c.batch([{ sql: "INSERT INTO t (name) VALUES ('x')", args: [] }, { sql: 'INSERT INTO child (t_id) VALUES (123456)', args: [] }]), /FOREIGN KEY/);
    assert.equal((await c.execute('SELECT count(*) AS n FROM t')).rows[0]!.n, before, 'the first insert was rolled back');
  });

  it('shows no commit before it is synced: a read issued right after a write sees it, and runs after the sync', async () => {
    const order: string[] = [];
    const write = c.execute("INSERT INTO t (name) VALUES ('durable')").then(() => order.push('write done'));
    const read = c.execute("SELECT count(*) AS n FROM t WHERE name = 'durable'").then((r) => {
      order.push('read done');
      return r.rows[0]!.n;
    });
    assert.equal(await read, 1);
    await write;
    // The read was held until the write's sync ended, then ran before the write was reported.
    assert.deepEqual(order, ['read done', 'write done']);
  });

  it('lets a scheduler read now, during the sync, what an API read sees only once it is durable', async () => {
    const order: string[] = [];
    const write = c.execute("INSERT INTO t (name) VALUES ('pipelined')").then(() => order.push('write done'));
    const count = "SELECT count(*) AS n FROM t WHERE name = 'pipelined'";
    const strict = c.execute(count).then((r) => (order.push('strict read done'), r.rows[0]!.n));
    const now = c.readNow(count).then((r) => (order.push('read now done'), r.rows[0]!.n));
    assert.equal(await now, 1);
    assert.equal(await strict, 1);
    await write;
    // readNow did not wait for the sync; the strict read did, and still ran before the write was reported.
    assert.deepEqual(order, ['read now done', 'strict read done', 'write done']);
  });

  it('makes a commit durable only once the file syncs it was told to wait for have ended, and fails it with them', async () => {
    let release!: () => void;
    c.syncFirst(new Promise<void>((r) => (release = r)));
    let durable = false;
    const write = c.execute('INSERT INTO t (name) VALUES (?)', ['after its files']).then(() => (durable = true));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(durable, false, 'acknowledged before the files it refers to were synced');
    release();
    await write;

    const failing = new FileClient(path.join(dir, 'failing.sqlite'));
    try {
      await failing.execute('CREATE TABLE x (v)');
      failing.syncFirst(Promise.reject(new Error('EIO: i/o error, fsync')));
      await assert.rejects(failing.execute('INSERT INTO x VALUES (1)'), /cannot make the database durable \(a file the commit refers to could not be synced: EIO: i\/o error, fsync\); restart the server/);
      await assert.rejects(failing.execute('SELECT 1'), /restart the server/);
    } finally {
      failing.close();
    }
  });

  it('gives a transaction its own connection, with foreign keys enforced on it', async () => {
    const tx = await c.transaction('write');
    await tx.execute({ sql: "INSERT INTO t (name) VALUES ('in tx')", args: [] });
    assert.equal((await c.execute("SELECT count(*) AS n FROM t WHERE name = 'in tx'")).rows[0]!.n, 0, 'not visible outside before commit');
    await assert.rejects(tx.execute({ sql: 'INSERT INTO child (t_id) VALUES (987654)', args: [] }), /FOREIGN KEY/);
    await tx.commit();
    assert.equal((await c.execute("SELECT count(*) AS n FROM t WHERE name = 'in tx'")).rows[0]!.n, 1);
    assert.equal(tx.closed, true);
  });

  it('keeps its WAL checkpointed from another thread: commits never checkpoint on the event loop, and the WAL stays small', async () => {
    const file = path.join(dir, 'checkpointed.sqlite');
    const w = new FileClient(file);
    try {
      await w.execute('CREATE TABLE big (id INTEGER PRIMARY KEY, pad BLOB)');
      assert.equal((await w.execute('PRAGMA wal_autocheckpoint')).rows[0]![0], 0);
      // 40 MiB committed 64 KiB at a time: without checkpoints the WAL would hold all of it.
      const pad = new Uint8Array(64 << 10).fill(7);
      for (let i = 0; i < 640; i++) {
        await w.execute('INSERT INTO big (pad) VALUES (?)', [pad]);
        if (i % 64 === 63) await new Promise((r) => setTimeout(r, 250)); // room for a checkpoint to run
      }
      assert.ok(statSync(`${file}-wal`).size < 24 << 20, `WAL is ${statSync(`${file}-wal`).size} bytes`);
      assert.equal((await w.execute('SELECT count(*) AS n FROM big')).rows[0]!.n, 640);
    } finally {
      w.close();
    }
  });

  it('loses nothing it reported done when the process is killed right after', async () => {
    const file = path.join(dir, 'killed.sqlite');
    // A child writes 200 rows one commit at a time, prints each id once its write resolved, and is SIGKILLed.
    const script = `
      import { FileClient } from ${JSON.stringify(path.join(packageRoot, 'dist/src/store/file-client.js'))};
      const c = new FileClient(${JSON.stringify(file)});
      await c.execute('CREATE TABLE k (id INTEGER PRIMARY KEY)');
      for (let i = 1; i <= 200; i++) { await c.execute('INSERT INTO k (id) VALUES (?)', [i]); process.stdout.write(i + '\\n'); }
      process.kill(process.pid, 'SIGKILL');`;
    let out = '';
    try {
      execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    } catch (e) {
      out = (e as { stdout: string }).stdout;
    }
    const reported = out.trim().split('\n').map(Number);
    assert.equal(reported.at(-1), 200);
    const again = new FileClient(file);
    try {
      assert.equal((await again.execute('SELECT count(*) AS n FROM k')).rows[0]!.n, 200);
    } finally {
      again.close();
    }
  });
});
