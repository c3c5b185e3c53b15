import { and, eq } from 'drizzle-orm';
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
