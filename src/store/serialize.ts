/**
 * One write at a time per process, whatever the database.
 *
 * libSQL's embedded driver waits for a lock synchronously, on the event loop. If two write
 * transactions of one process overlap, the second blocks the thread while the first can never reach
 * its COMMIT: a deadlock that ends in SQLITE_BUSY (after which the driver can silently drop writes,
 * libsql-client-ts#352). A libSQL server has the same trap one level down: over one WebSocket, a
 * statement of a second transaction waiting for the write lock holds up the COMMIT of the first
 * (seen with sqld 0.24: both servers stalled, sqld spinning). Queueing writes in JS removes the
 * overlap; reads still run concurrently.
 */
import type { Client, InStatement, Transaction, TransactionMode } from '@libsql/client';

class Mutex {
  private tail: Promise<void> = Promise.resolve();

  acquire(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((r) => (release = r));
    const ready = this.tail.then(() => release);
    this.tail = this.tail.then(() => next);
    return ready;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

/** Whether a statement only reads (a plain SELECT): anything else is treated as a write. */
export function isRead(stmt: InStatement | string): boolean {
  const sql = typeof stmt === 'string' ? stmt : stmt.sql;
  return /^\s*select\b/i.test(sql);
}

export function serializeWrites(client: Client): Client {
  const lock = new Mutex();
  const wrapTx = (tx: Transaction, release: () => void): Transaction => {
    let released = false;
    const done = () => {
      if (!released) {
        released = true;
        release();
      }
    };
    return new Proxy(tx, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (prop === 'commit' || prop === 'rollback') {
          return async () => {
            try {
              return await (value as () => Promise<void>).call(target);
            } finally {
              done();
            }
          };
        }
        if (prop === 'close') {
          return () => {
            try {
              (value as () => void).call(target);
            } finally {
              done();
            }
          };
        }
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  };
  return new Proxy(client, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      switch (prop) {
        case 'execute':
          return (stmt: InStatement, args?: unknown) =>
            isRead(stmt) ? target.execute(stmt as never, args as never) : lock.run(() => target.execute(stmt as never, args as never));
        case 'batch':
        case 'executeMultiple':
        case 'migrate':
          return (...args: unknown[]) => lock.run(() => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args));
        case 'transaction':
          return async (mode?: TransactionMode) => {
            if (mode === 'read') return target.transaction(mode);
            const release = await lock.acquire();
            try {
              return wrapTx(await target.transaction(mode), release);
            } catch (e) {
              release();
              throw e;
            }
          };
        default:
          return typeof value === 'function' ? value.bind(target) : value;
      }
    },
  });
}
