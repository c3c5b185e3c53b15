/** Open the libSQL database (embedded file or server URL) and bring its schema up to date. */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { createClient, type Client, type InArgs, type InStatement } from '@libsql/client';
import { drizzle, type LibSQLDatabase } from 'drizzle-orm/libsql';
import { migrate } from 'drizzle-orm/libsql/migrator';
import { packageRoot } from '../paths.js';
import * as schema from './schema.js';
import { FileClient } from './file-client.js';
import { isRead, serializeWrites } from './serialize.js';
import { acquireWriterLock, WriterLockHeld } from './writer-lock.js';

export type Db = LibSQLDatabase<typeof schema>;

export interface Database {
  db: Db;
  /**
   * The same database for the scheduler's own decisions: on an embedded file its reads do not wait
   * for a sync in flight, and may see commits not durable yet (FileClient.readNow). Never for what
   * is shown to anyone else. On a server, the same as `db`.
   */
  eager: Db;
  client: Client;
  url: string;
  /** True for an embedded file: then this process is the only writer. */
  embedded: boolean;
  /**
   * On an embedded file: the next commits become durable only once `synced` (syncs of files they
   * refer to) has settled, so the caller need not wait for it (FileClient.syncFirst). On a server,
   * absent: wait for the files before committing.
   */
  syncFirst?: (synced: Promise<unknown>) => void;
  close(): void;
}

/** The database cannot be opened or reached; the message names the URL and the cause. */
export class DatabaseUnavailable extends Error {
  constructor(url: string, cause: unknown) {
    super(`cannot open the database ${url}: ${rootCause(cause)}`);
    this.name = 'DatabaseUnavailable';
  }
}

function rootCause(e: unknown): string {
  let cur = e as { cause?: unknown; message?: string } | undefined;
  while (cur?.cause) cur = cur.cause as typeof cur;
  return String(cur?.message ?? cur).split('\n')[0]!;
}

/** `url` is a libSQL URL (file:, http:, https:, libsql:, ws:) or a plain file path. */
export async function openDatabase(url: string, opts: { authToken?: string } = {}): Promise<Database> {
  try {
    return await open(url, opts);
  } catch (e) {
    if (e instanceof WriterLockHeld) throw e;
    throw new DatabaseUnavailable(url, e);
  }
}

async function open(url: string, opts: { authToken?: string }): Promise<Database> {
  const isRemote = /^(https?|libsql|wss?):/.test(url);
  let clientUrl = url;
  let unlock = () => {};
  if (!isRemote) {
    const file = url.startsWith('file:') ? url.slice('file:'.length) : url;
    mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    clientUrl = `file:${file}`;
    unlock = acquireWriterLock(path.resolve(file));
  }
  try {
    return await connect(url, clientUrl, isRemote, opts, unlock);
  } catch (e) {
    unlock();
    throw e;
  }
}

async function connect(url: string, clientUrl: string, isRemote: boolean, opts: { authToken?: string }, unlock: () => void): Promise<Database> {
  // The busy timeout covers other processes reading the file; writes of this process are queued.
  // An embedded file gets a client that syncs commits off the event loop (file-client.ts).
  const raw = isRemote ? createClient({ url: clientUrl, authToken: opts.authToken, timeout: 5000 } as Parameters<typeof createClient>[0]) : new FileClient(clientUrl.slice('file:'.length), 5000);
  const client = serializeWrites(raw);
  const db = drizzle(client, { schema });
  const eager = raw instanceof FileClient ? drizzle(readingNow(client, raw), { schema }) : db;
  try {
    await migrate(db, { migrationsFolder: path.join(packageRoot, 'drizzle') });
  } catch (e) {
    client.close();
    throw e;
  }
  return {
    db, eager, client, url, embedded: !isRemote,
    syncFirst: raw instanceof FileClient ? (synced) => raw.syncFirst(synced) : undefined,
    close: () => {
      client.close();
      unlock();
    },
  };
}

/** `client` with its reads taken by `file.readNow`; writes keep `client`'s queue. */
function readingNow(client: Client, file: FileClient): Client {
  return new Proxy(client, {
    get(target, prop) {
      if (prop === 'execute') return (stmt: InStatement, args?: InArgs) => (isRead(stmt) ? file.readNow(stmt, args) : target.execute(stmt as never, args as never));
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
