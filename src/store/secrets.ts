import { asc, eq, inArray } from 'drizzle-orm';
import type { Db } from './db.js';
import { secrets } from './schema.js';

export async function setSecret(db: Db, name: string, value: string): Promise<void> {
  const now = Date.now();
  await db.insert(secrets).values({ name, value, createdAt: now, updatedAt: now }).onConflictDoUpdate({ target: secrets.name, set: { value, updatedAt: now } });
}

export async function deleteSecret(db: Db, name: string): Promise<boolean> {
  return (await db.delete(secrets).where(eq(secrets.name, name)).returning({ name: secrets.name })).length > 0;
}

/** Names and dates only: values never leave the store except into a task's environment. */
export async function listSecrets(db: Db): Promise<{ name: string; updatedAt: number }[]> {
  return db.select({ name: secrets.name, updatedAt: secrets.updatedAt }).from(secrets).orderBy(asc(secrets.name));
}

export async function readSecrets(db: Db, names: string[]): Promise<Map<string, string>> {
  if (!names.length) return new Map();
  const rows = await db.select().from(secrets).where(inArray(secrets.name, names));
  return new Map(rows.map((r) => [r.name, r.value]));
}
