import { and, asc, eq } from 'drizzle-orm';
import type { ComponentInfo } from '../runtime/component.js';
import type { Db } from './db.js';
import { componentVersions, components } from './schema.js';

export async function saveComponent(db: Db, info: ComponentInfo): Promise<void> {
  await db
    .insert(components)
    .values({ digest: info.digest, size: info.size, contract: info.contract, hasPlan: info.hasPlan, imports: info.imports, exports: info.exports, manifest: info.manifest })
    .onConflictDoNothing();
}

export async function getComponent(db: Db, digest: string) {
  return db.query.components.findFirst({ where: eq(components.digest, digest) });
}

export async function findComponentVersion(db: Db, name: string, version: string) {
  return db.query.componentVersions.findFirst({ where: and(eq(componentVersions.name, name), eq(componentVersions.version, version)) });
}

export type ComponentRow = typeof components.$inferSelect;

/**
 * Label a component as name@version. A version never changes its bytes: returns 'exists' when it
 * already points at this digest, 'conflict' (and the other digest) when it points elsewhere.
 */
export async function saveComponentVersion(db: Db, name: string, version: string, digest: string): Promise<{ result: 'created' | 'exists' | 'conflict'; digest: string }> {
  const inserted = await db.insert(componentVersions).values({ name, version, digest }).onConflictDoNothing().returning({ digest: componentVersions.digest });
  if (inserted.length) return { result: 'created', digest };
  const found = await findComponentVersion(db, name, version);
  return found!.digest === digest ? { result: 'exists', digest } : { result: 'conflict', digest: found!.digest };
}

/** Every component with its name@version labels, newest first. */
export async function listComponents(db: Db): Promise<(ComponentRow & { versions: string[] })[]> {
  const rows = await db.select().from(components).orderBy(asc(components.createdAt));
  const labels = await db.select().from(componentVersions).orderBy(asc(componentVersions.name), asc(componentVersions.version));
  return rows.reverse().map((c) => ({ ...c, versions: labels.filter((l) => l.digest === c.digest).map((l) => `${l.name}@${l.version}`) }));
}

export async function componentVersionsOf(db: Db, digest: string): Promise<string[]> {
  const rows = await db.select().from(componentVersions).where(eq(componentVersions.digest, digest));
  return rows.map((l) => `${l.name}@${l.version}`);
}
