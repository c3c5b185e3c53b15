/**
 * The client for an embedded database file: @libsql/client's `Client` interface over libSQL's
 * native driver, built for a process that commits on every step of every run.
 *
 * - **Commits do not hold the event loop during fsync.** Connections run in WAL mode with
 *   synchronous=NORMAL, where a commit only writes the WAL, and this client fdatasyncs the WAL on
 *   libuv's thread pool before it reports the write done. Durability is that of
 *   synchronous=FULL: a write resolves only once it is on disk, and nothing reads it before
 *   then. While a sync is in flight, reads and further commits wait (the event loop does not);
 *   when it ends the reads run first, on exactly what is durable, then the waiting commits, which
 *   share the next sync. A crash of the process loses nothing committed either way (the WAL is
 *   in the page cache); this is about power loss and kernel crashes.
 * - **Statements are prepared once** and kept (per connection, least recently used dropped), and
 *   rows are built as instances of a class per statement instead of one property definition per
 *   value. With @libsql/client, preparing and building rows were about a sixth of the server's CPU per step.
 *
 * Interactive transactions get a connection of their own, as in @libsql/client.
 */
import { fdatasync, openSync, closeSync, existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { LibsqlError, type Client, type InArgs, type InStatement, type InValue, type ResultSet, type Transaction, type TransactionMode, type Replicated } from '@libsql/client';
import Database from 'libsql';
import { isRead } from './serialize.js';

type Native = InstanceType<typeof Database>;
type NativeStatement = ReturnType<Native['prepare']>;

const CACHED_STATEMENTS = 256;

interface Prepared {
  stmt: NativeStatement;
  reader: boolean;
  columns: string[];
  columnTypes: string[];
  Row?: new (values: unknown[]) => object;
}

/** One libSQL connection with its statement cache. */
class Connection {
  readonly db: Native;
  private readonly cache = new Map<string, Prepared>();

  constructor(file: string, timeout: number, checkpoints: 'auto' | 'elsewhere' = 'auto') {
    this.db = new Database(file, { timeout } as never);
    this.db.exec('PRAGMA journal_mode = WAL');
    this.db.exec('PRAGMA synchronous = NORMAL');
    this.db.exec('PRAGMA foreign_keys = ON');
    if (checkpoints === 'elsewhere') this.db.exec('PRAGMA wal_autocheckpoint = 0');
  }

  prepare(sql: string): Prepared {
    let p = this.cache.get(sql);
    if (p) {
      // Most recently used last, so the first entry is the one to drop.
      this.cache.delete(sql);
      this.cache.set(sql, p);
      return p;
    }
    const stmt = this.db.prepare(sql);
    const reader = stmt.reader;
    if (reader) stmt.raw(true);
    const columns = reader ? (stmt.columns() as { name: string; type: string | null }[]) : [];
    p = { stmt, reader, columns: columns.map((c) => c.name), columnTypes: columns.map((c) => c.type ?? '') };
    this.cache.set(sql, p);
    if (this.cache.size > CACHED_STATEMENTS) this.cache.delete(this.cache.keys().next().value!);
    return p;
  }

  execute(stmt: InStatement | string, args?: InArgs): ResultSet {
    const sql = typeof stmt === 'string' ? stmt : stmt.sql;
    const bound = toSqlArgs(typeof stmt === 'string' ? args : stmt.args);
    try {
      const p = this.prepare(sql);
      if (p.reader) {
        const Row = (p.Row ??= rowClass(p.columns));
        const rows = (p.stmt.all(bound) as unknown[][]).map((values) => {
          for (let i = 0; i < values.length; i++) values[i] = fromSql(values[i]);
          return new Row(values);
        });
        return new Result(p.columns, p.columnTypes, rows as ResultSet['rows'], 0, undefined);
      }
      const info = p.stmt.run(bound) as { changes: number; lastInsertRowid: number | bigint };
      return new Result([], [], [], info.changes, BigInt(info.lastInsertRowid));
    } catch (e) {
      throw asLibsqlError(e);
    }
  }

  /** `stmts` in one transaction: all of them or none. */
  batch(stmts: (InStatement | [string, InArgs?])[], mode: TransactionMode = 'deferred'): ResultSet[] {
    this.execute(mode === 'write' ? 'BEGIN IMMEDIATE' : 'BEGIN DEFERRED');
    try {
      const out = stmts.map((s) => (Array.isArray(s) ? this.execute(s[0], s[1]) : this.execute(s)));
      this.execute('COMMIT');
      return out;
    } finally {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
    }
  }

  close(): void {
    this.cache.clear();
    this.db.close();
  }
}

/** Rows read by name (enumerable, as drizzle's raw queries read them) and by index (as its builders do). */
function rowClass(columns: string[]): new (values: unknown[]) => object {
  const names = columns.map((c, i) => (columns.indexOf(c) === i && c !== 'length' && !/^\d+$/.test(c) ? c : undefined));
  class Row {
    readonly #values: unknown[];
    constructor(values: unknown[]) {
      this.#values = values;
      for (let i = 0; i < names.length; i++) if (names[i] !== undefined) (this as Record<string, unknown>)[names[i]!] = values[i];
    }
    static at(row: Row, i: number): unknown {
      return row.#values[i];
    }
  }
  for (let i = 0; i < columns.length; i++) {
    Object.defineProperty(Row.prototype, i, { get(this: Row) { return Row.at(this, i); } });
  }
  Object.defineProperty(Row.prototype, 'length', { value: columns.length });
  return Row;
}

class Result implements ResultSet {
  constructor(readonly columns: string[], readonly columnTypes: string[], readonly rows: ResultSet['rows'], readonly rowsAffected: number, readonly lastInsertRowid: bigint | undefined) {}
  toJSON() {
    return { columns: this.columns, columnTypes: this.columnTypes, rows: this.rows.map((r) => Array.prototype.map.call(r, toJson)), rowsAffected: this.rowsAffected, lastInsertRowid: this.lastInsertRowid === undefined ? null : String(this.lastInsertRowid) };
  }
}

/** As @libsql/client serializes values (integers never come back as bigint here). */
function toJson(v: unknown): unknown {
  return v instanceof ArrayBuffer ? Buffer.from(v).toString('base64') : v;
}

function toSqlArgs(args: InArgs | undefined): unknown[] | Record<string, unknown> {
  if (args === undefined) return [];
  if (Array.isArray(args)) return args.map(toSql);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args)) out[/^[@$:]/.test(k) ? k.slice(1) : k] = toSql(v);
  return out;
}

function toSql(v: InValue): unknown {
  if (typeof v === 'number' && !Number.isFinite(v)) throw new RangeError('Only finite numbers (not Infinity or NaN) can be passed as arguments');
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v instanceof ArrayBuffer) return Buffer.from(v);
  if (v instanceof Date) return v.valueOf();
  if (v === undefined) throw new TypeError('undefined cannot be passed as argument to the database');
  return v;
}

/** Integers come back as doubles (the driver's default): the schema holds none beyond 2^53. Blobs as ArrayBuffer, as @libsql/client returns them. */
function fromSql(v: unknown): unknown {
  return Buffer.isBuffer(v) ? v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength) : v;
}

function asLibsqlError(e: unknown): unknown {
  if (e instanceof LibsqlError || !(e instanceof Error)) return e;
  const code = (e as { code?: unknown }).code;
  return new LibsqlError(e.message, typeof code === 'string' ? code : 'SQLITE_UNKNOWN', undefined, (e as { rawCode?: number }).rawCode, e);
}

/**
 * Makes commits durable off the event loop, and keeps what is not durable yet out of sight.
 * `read` and `write` run their function synchronously when no sync is in flight; otherwise they
 * wait for its end. A write resolves once a sync that started after its commit has ended.
 */
class Durability {
  private syncing = false;
  private failed?: Error;
  /** Reads and commits that arrived during the sync in flight, to run when it ends (or fail with it). */
  private readonly heldReads: Held[] = [];
  private readonly heldWrites: Held[] = [];
  /** Writes committed and waiting for the next sync. */
  private committed: { resolve(): void; reject(e: Error): void }[] = [];
  /** File syncs the next sync of the WAL waits for (syncFirst). */
  private readonly first: Promise<unknown>[] = [];
  private fd?: number;
  private closing = false;

  /**
   * `maintain`: called after each sync of the WAL that succeeded, with commits and reads still held;
   * it either returns false, or true and calls `resume` once its work is done (see Checkpointer).
   */
  constructor(private readonly file: string, private readonly maintain: (resume: () => void) => boolean = () => false) {}

  read<T>(fn: () => T): Promise<T> {
    if (this.failed) return Promise.reject(this.failed);
    if (!this.syncing) return settle(fn);
    return this.afterSync(fn);
  }

  /** A read that runs at once, sync or not: it may see commits that are not durable yet. */
  readNow<T>(fn: () => T): Promise<T> {
    if (this.failed) return Promise.reject(this.failed);
    return settle(fn);
  }

  private afterSync<T>(fn: () => T): Promise<T> {
    return new Promise((resolve, reject) =>
      this.heldReads.push({
        run: () => {
          try {
            resolve(fn());
          } catch (e) {
            reject(e);
          }
        },
        reject,
      }),
    );
  }

  write<T>(fn: () => T): Promise<T> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise<T>((resolve, reject) => {
      const run = () => {
        let result: T;
        try {
          result = fn();
        } catch (e) {
          reject(e);
          return;
        }
        this.committed.push({ resolve: () => resolve(result), reject });
      };
      if (this.syncing) this.heldWrites.push({ run, reject });
      else {
        run();
        this.sync();
      }
    });
  }

  /**
   * Syncs of files that commits about to be made refer to (an instance's output files): the next
   * sync of the WAL waits for them, so no row is durable before the bytes it names are. Their
   * failure fails that sync, like a failed fdatasync of the WAL.
   */
  syncFirst(synced: Promise<unknown>): void {
    synced.catch(() => {});
    this.first.push(synced);
  }

  private sync(): void {
    if (this.syncing || !this.committed.length) return;
    const batch = this.committed;
    this.committed = [];
    this.syncing = true;
    const first = this.first.splice(0);
    if (!first.length) this.syncWal(batch);
    else {
      Promise.all(first).then(
        () => this.syncWal(batch),
        (e: Error) => {
          this.syncing = false;
          this.fail(batch, `a file the commit refers to could not be synced: ${e.message}`);
        },
      );
    }
  }

  private syncWal(batch: Durability['committed']): void {
    const { fd, path, temporary } = this.target();
    fdatasync(fd, (err) => {
      if (temporary) closeSync(fd);
      else if (this.closing) this.closeWal();
      // The kernel may have dropped the pages it failed to write: nothing can be trusted after this.
      if (err) {
        this.syncing = false;
        return this.fail(batch, `fdatasync of ${path} failed: ${err.message}`);
      }
      // Reads first: they see exactly what is durable. Then the commits that waited, together
      // (after a checkpoint, when one is due: see Checkpointer).
      for (const r of this.heldReads.splice(0)) r.run();
      const resume = () => {
        this.syncing = false;
        for (const r of this.heldReads.splice(0)) r.run();
        for (const w of this.heldWrites.splice(0)) w.run();
        this.sync();
      };
      if (this.closing || !this.maintain(resume)) resume();
      for (const w of batch) w.resolve();
    });
  }

  private fail(batch: Durability['committed'], cause: string): void {
    this.failed = new Error(`cannot make the database durable (${cause}); restart the server`);
    for (const w of [...batch, ...this.heldReads.splice(0), ...this.heldWrites.splice(0)]) w.reject(this.failed);
  }

  /** The WAL, kept open from the first commit that made it on; before that, the database file itself. */
  private target(): { fd: number; path: string; temporary: boolean } {
    const wal = `${this.file}-wal`;
    if (this.fd === undefined && existsSync(wal)) this.fd = openSync(wal, 'r');
    return this.fd !== undefined ? { fd: this.fd, path: wal, temporary: false } : { fd: openSync(this.file, 'r'), path: this.file, temporary: true };
  }

  /** Closed now, or when the sync in flight ends. */
  close(): void {
    this.closing = true;
    if (!this.syncing) this.closeWal();
  }

  private closeWal(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

interface Held {
  run(): void;
  reject(e: Error): void;
}

function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (e) {
    return Promise.reject(e);
  }
}

/** Checkpoints of the WAL, at most this often while commits keep coming. */
const CHECKPOINT_EVERY_MS = 250;
/** A checkpoint that has not answered by then is given up on (commits wait for it). */
const CHECKPOINT_TIMEOUT_MS = 2000;

/**
 * Checkpoints of the WAL on a worker thread with a connection of its own (see checkpointer.ts),
 * between two commits: it runs right after a sync of the WAL, while further commits wait as they
 * do for a sync. So the WAL is fully copied when the next commit starts, and SQLite starts it
 * over from its beginning (it does so only then: with commits landing during a checkpoint, the
 * file would grow without end). If the worker cannot run, `fallback` gives the job back to
 * SQLite's automatic checkpoints.
 */
class Checkpointer {
  private worker?: Worker;
  /** Started at the first commit (a client that only reads never starts one), usable once online. */
  private state: 'idle' | 'starting' | 'online' | 'gone' = 'idle';
  private last = performance.now();
  private waiting?: () => void;
  private timer?: NodeJS.Timeout;

  constructor(private readonly file: string, private readonly fallback: () => void) {}

  /** After a sync (commits held): checkpoint now, calling `resume` when done, unless one ran lately. */
  run(resume: () => void): boolean {
    if (this.state === 'idle') this.start();
    const now = performance.now();
    if (this.state !== 'online' || this.waiting || now - this.last < CHECKPOINT_EVERY_MS) return false;
    this.last = now;
    this.waiting = resume;
    this.timer = setTimeout(() => this.lost(`a checkpoint did not end within ${CHECKPOINT_TIMEOUT_MS} ms`), CHECKPOINT_TIMEOUT_MS);
    this.worker!.postMessage('checkpoint');
    return true;
  }

  close(): void {
    const w = this.worker;
    this.worker = undefined;
    this.state = 'gone';
    this.done();
    w?.postMessage('close');
  }

  private start(): void {
    this.state = 'starting';
    const worker = new Worker(new URL('./checkpointer.js', import.meta.url), { workerData: { file: this.file } });
    worker.unref();
    worker.on('online', () => {
      if (this.state === 'starting') this.state = 'online';
    });
    worker.on('message', (m: { ok: boolean; error?: string }) => {
      if (!m.ok) console.error(`tutti: checkpoint of ${this.file}-wal failed, retrying later: ${m.error}`);
      this.done();
    });
    worker.on('error', (e) => this.lost(`the checkpoint worker failed (${e.message})`));
    worker.on('exit', () => this.lost('the checkpoint worker exited'));
    this.worker = worker;
  }

  private done(): void {
    clearTimeout(this.timer);
    const resume = this.waiting;
    this.waiting = undefined;
    resume?.();
  }

  private lost(why: string): void {
    const w = this.worker;
    if (!w) return;
    this.worker = undefined;
    this.state = 'gone';
    console.error(`tutti: ${why}; SQLite checkpoints the WAL itself from now on`);
    this.fallback();
    this.done();
    void w.terminate();
  }
}

export class FileClient implements Client {
  closed = false;
  readonly protocol = 'file';
  private readonly main: Connection;
  private readonly spare: Connection[] = [];
  private readonly durability: Durability;
  private readonly checkpointer: Checkpointer;

  constructor(private readonly file: string, private readonly timeout = 5000) {
    this.main = new Connection(file, timeout, 'elsewhere');
    this.checkpointer = new Checkpointer(file, () => {
      if (!this.closed) this.main.db.exec('PRAGMA wal_autocheckpoint = 1000');
    });
    this.durability = new Durability(file, (resume) => this.checkpointer.run(resume));
  }

  execute(stmt: InStatement | string, args?: InArgs): Promise<ResultSet> {
    this.checkOpen();
    const run = () => this.main.execute(stmt, args);
    return isRead(stmt) ? this.durability.read(run) : this.durability.write(run);
  }

  /**
   * A read for a scheduler's own decisions: it runs at once, even while a sync is in flight, and
   * may see commits that are not durable yet. Safe for what decides the next writes, which commit
   * after those and are acknowledged only once durable themselves (a crash loses a suffix of the
   * WAL, never a middle); never for what is shown to anyone else.
   */
  /** See Durability.syncFirst: the next commits are durable only once `synced` has settled well. */
  syncFirst(synced: Promise<unknown>): void {
    this.durability.syncFirst(synced);
  }

  readNow(stmt: InStatement | string, args?: InArgs): Promise<ResultSet> {
    this.checkOpen();
    return this.durability.readNow(() => this.main.execute(stmt, args));
  }

  batch(stmts: (InStatement | [string, InArgs?])[], mode?: TransactionMode): Promise<ResultSet[]> {
    this.checkOpen();
    return this.durability.write(() => this.main.batch(stmts, mode));
  }

  migrate(stmts: InStatement[]): Promise<ResultSet[]> {
    this.checkOpen();
    return this.durability.write(() => {
      this.main.db.exec('PRAGMA foreign_keys = OFF');
      try {
        return this.main.batch(stmts);
      } finally {
        this.main.db.exec('PRAGMA foreign_keys = ON');
      }
    });
  }

  executeMultiple(sql: string): Promise<void> {
    this.checkOpen();
    return this.durability.write(() => {
      this.main.db.exec(sql);
    });
  }

  async transaction(mode: TransactionMode = 'write'): Promise<Transaction> {
    this.checkOpen();
    // Begun when nothing is waiting for a sync, so it starts from durable state.
    const conn = await this.durability.read(() => {
      const c = this.spare.pop() ?? new Connection(this.file, this.timeout);
      try {
        c.execute(mode === 'write' ? 'BEGIN IMMEDIATE' : 'BEGIN DEFERRED');
      } catch (e) {
        this.spare.push(c);
        throw e;
      }
      return c;
    });
    return new FileTransaction(conn, this.durability, (c) => (this.closed ? c.close() : this.spare.push(c)));
  }

  sync(): Promise<Replicated> {
    return Promise.reject(new LibsqlError('sync() is for embedded replicas', 'SYNC_NOT_SUPPORTED'));
  }

  reconnect(): void {}

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.checkpointer.close();
    this.main.close();
    for (const c of this.spare.splice(0)) c.close();
    this.durability.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new LibsqlError('The client is closed', 'CLIENT_CLOSED');
  }
}

class FileTransaction implements Transaction {
  private conn?: Connection;

  constructor(conn: Connection, private readonly durability: Durability, private readonly release: (c: Connection) => void) {
    this.conn = conn;
  }

  get closed(): boolean {
    return !this.conn;
  }

  async execute(stmt: InStatement): Promise<ResultSet> {
    return this.open().execute(stmt);
  }

  async batch(stmts: InStatement[]): Promise<ResultSet[]> {
    const c = this.open();
    return stmts.map((s) => c.execute(s));
  }

  async executeMultiple(sql: string): Promise<void> {
    this.open().db.exec(sql);
  }

  async commit(): Promise<void> {
    const c = this.open();
    await this.durability.write(() => {
      try {
        c.execute('COMMIT');
      } finally {
        this.close();
      }
    });
  }

  async rollback(): Promise<void> {
    this.close();
  }

  close(): void {
    const c = this.conn;
    if (!c) return;
    this.conn = undefined;
    try {
      if (c.db.open && c.db.inTransaction) c.db.exec('ROLLBACK');
      this.release(c);
    } catch {
      c.close();
    }
  }

  private open(): Connection {
    if (!this.conn) throw new LibsqlError('The transaction is closed', 'TRANSACTION_CLOSED');
    return this.conn;
  }
}
