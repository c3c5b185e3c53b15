import { and, asc, desc, eq } from 'drizzle-orm';
import type { Db } from './db.js';
import type { DbOrTx } from './runs.js';
import { flowRevisions, flowTriggers, flows, schedules } from './schema.js';

export type FlowRow = typeof flows.$inferSelect;
export type FlowRevisionRow = typeof flowRevisions.$inferSelect;

/**
 * Store a flow document as a new revision, unless it is identical to the current one.
 * Returns the revision runs should use.
 */
export async function saveFlowRevision(
  db: Db,
  flowId: string,
  source: string,
  spec: unknown,
  /** Brings the flow's trigger rows in line with this revision, in the same transaction. */
  sync?: (tx: DbOrTx) => Promise<void>,
): Promise<{ revision: number; created: boolean }> {
  return db.transaction(async (tx) => {
    const current = await tx.query.flows.findFirst({ where: eq(flows.id, flowId) });
    if (current && !current.deleted) {
      const rev = await tx.query.flowRevisions.findFirst({ where: and(eq(flowRevisions.flowId, flowId), eq(flowRevisions.revision, current.revision)) });
      if (rev && JSON.stringify(rev.spec) === JSON.stringify(spec) && rev.source === source) return { revision: current.revision, created: false };
    }
    const last = await tx.query.flowRevisions.findFirst({ where: eq(flowRevisions.flowId, flowId), orderBy: desc(flowRevisions.revision) });
    const revision = (last?.revision ?? 0) + 1;
    const now = Date.now();
    await tx.insert(flowRevisions).values({ flowId, revision, source, spec, createdAt: now });
    await tx
      .insert(flows)
      .values({ id: flowId, revision, createdAt: now, updatedAt: now })
      .onConflictDoUpdate({ target: flows.id, set: { revision, deleted: false, updatedAt: now } });
    await sync?.(tx);
    return { revision, created: true };
  });
}

/** A live flow (not deleted) with its current revision. */
export async function getFlow(db: Db, flowId: string): Promise<{ flow: FlowRow; current: FlowRevisionRow } | undefined> {
  const flow = await db.query.flows.findFirst({ where: and(eq(flows.id, flowId), eq(flows.deleted, false)) });
  if (!flow) return undefined;
  const current = await getFlowRevision(db, flowId, flow.revision);
  return current && { flow, current };
}

export async function listFlows(db: Db): Promise<{ flow: FlowRow; current: FlowRevisionRow }[]> {
  const rows = await db
    .select({ flow: flows, current: flowRevisions })
    .from(flows)
    .innerJoin(flowRevisions, and(eq(flowRevisions.flowId, flows.id), eq(flowRevisions.revision, flows.revision)))
    .where(eq(flows.deleted, false))
    .orderBy(asc(flows.id));
  return rows;
}

export async function listFlowRevisions(db: Db, flowId: string) {
  return db
    .select({ revision: flowRevisions.revision, createdAt: flowRevisions.createdAt })
    .from(flowRevisions)
    .where(eq(flowRevisions.flowId, flowId))
    .orderBy(desc(flowRevisions.revision));
}

/** Delete a flow: it stops firing and cannot be run; its revisions stay for the runs that used them. */
export async function deleteFlow(db: Db, flowId: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    const rows = await tx
      .update(flows)
      .set({ deleted: true, updatedAt: Date.now() })
      .where(and(eq(flows.id, flowId), eq(flows.deleted, false)))
      .returning({ id: flows.id });
    if (!rows.length) return false;
    await tx.delete(schedules).where(eq(schedules.flowId, flowId));
    await tx.delete(flowTriggers).where(eq(flowTriggers.targetFlowId, flowId));
    return true;
  });
}

export async function getFlowRevision(db: Db, flowId: string, revision: number) {
  return db.query.flowRevisions.findFirst({ where: and(eq(flowRevisions.flowId, flowId), eq(flowRevisions.revision, revision)) });
}
