import { and, desc, eq } from 'drizzle-orm';
import type { Db } from './db.js';
import { flowRevisions, flows } from './schema.js';

/**
 * Store a flow document as a new revision, unless it is identical to the current one.
 * Returns the revision runs should use.
 */
export async function saveFlowRevision(db: Db, flowId: string, source: string, spec: unknown): Promise<number> {
  return db.transaction(async (tx) => {
    const current = await tx.query.flows.findFirst({ where: eq(flows.id, flowId) });
    if (current && !current.deleted) {
      const rev = await tx.query.flowRevisions.findFirst({ where: and(eq(flowRevisions.flowId, flowId), eq(flowRevisions.revision, current.revision)) });
      if (rev && JSON.stringify(rev.spec) === JSON.stringify(spec) && rev.source === source) return current.revision;
    }
    const last = await tx.query.flowRevisions.findFirst({ where: eq(flowRevisions.flowId, flowId), orderBy: desc(flowRevisions.revision) });
    const revision = (last?.revision ?? 0) + 1;
    const now = Date.now();
    await tx.insert(flowRevisions).values({ flowId, revision, source, spec, createdAt: now });
    await tx
      .insert(flows)
      .values({ id: flowId, revision, createdAt: now, updatedAt: now })
      .onConflictDoUpdate({ target: flows.id, set: { revision, deleted: false, updatedAt: now } });
    return revision;
  });
}

export async function getFlowRevision(db: Db, flowId: string, revision: number) {
  return db.query.flowRevisions.findFirst({ where: and(eq(flowRevisions.flowId, flowId), eq(flowRevisions.revision, revision)) });
}
