import { text } from 'node:stream/consumers';
import { SecretName } from '../../flow/schema.js';
import { deleteSecret, listSecrets, setSecret } from '../../store/secrets.js';
import { openDatabase } from '../../store/db.js';
import { UsageError } from '../errors.js';
import { databaseUrl, type HomeOptions } from '../../home.js';

type DbOptions = HomeOptions;

async function withDb<T>(opts: DbOptions, fn: (db: Awaited<ReturnType<typeof openDatabase>>['db']) => Promise<T>): Promise<T> {
  const database = await openDatabase(databaseUrl(opts), { authToken: process.env.TUTTI_DB_AUTH_TOKEN });
  try {
    return await fn(database.db);
  } finally {
    database.close();
  }
}

/** Shorter values would be redacted from logs as fragments of ordinary words. */
export const MIN_SECRET_LENGTH = 4;

export async function secretSet(name: string, opts: DbOptions & { value?: string }): Promise<number> {
  if (!SecretName.safeParse(name).success) throw new UsageError(`secret name "${name}": use letters, digits and "_", not starting with a digit`);
  // Read from stdin by default, so the value stays out of shell history and process listings.
  const value = opts.value ?? (await text(process.stdin)).replace(/\r?\n$/, '');
  if (value.length < MIN_SECRET_LENGTH) throw new UsageError(`secret "${name}": a value needs at least ${MIN_SECRET_LENGTH} characters`);
  await withDb(opts, (db) => setSecret(db, name, value));
  process.stderr.write(`secret ${name} set\n`);
  return 0;
}

export async function secretList(opts: DbOptions): Promise<number> {
  const list = await withDb(opts, (db) => listSecrets(db));
  for (const s of list) process.stdout.write(`${s.name}\t${new Date(s.updatedAt).toISOString()}\n`);
  return 0;
}

export async function secretDelete(name: string, opts: DbOptions): Promise<number> {
  const found = await withDb(opts, (db) => deleteSecret(db, name));
  if (!found) throw new UsageError(`no secret named ${name}`);
  process.stderr.write(`secret ${name} deleted\n`);
  return 0;
}
