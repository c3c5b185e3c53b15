import { and, asc, desc, eq } from 'drizzle-orm';
import type { Db } from './db.js';
import { atomically, returned, type Statement } from './batch.js';
import { q, readRows } from './statement.js';
import { flowRevisions, flowTriggers, flows, schedules } from './schema.js';

export type FlowRow = typeof flows.$inferSelect;
export type FlowRevisionRow = typeof flowRevisions.$inferSelect;

/**
 * Store a flow document as a new revision, unless it is identical to the current one.
 * Returns the revision runs should use. The revision, the flow row and `sync` (statements that
 * bring the flow's trigger rows in line) are one batch; a concurrent save of the same flow takes
 * the revision number first, and then this one reads again and takes the next.
 */
export async function saveFlowRevision(
  db: Db,
  flowId: string,
  source: string,
  spec: unknown,
  sync: (q: Db) => Statement[] = () => [],
): Promise<{ revision: number; created: boolean }> {
  for (let tries = 1; ; tries++) {
    const current = await db.query.flows.findFirst({ where: eq(flows.id, flowId) });
    if (current && !current.deleted) {
      const rev = await getFlowRevision(db, flowId, current.revision);
      if (rev && JSON.stringify(rev.spec) === JSON.stringify(spec) && rev.source === source) return { revision: current.revision, created: false };
    }
    const last = await db.query.flowRevisions.findFirst({ where: eq(flowRevisions.flowId, flowId), orderBy: desc(flowRevisions.revision) });
    const revision = (last?.revision ?? 0) + 1;
    const now = Date.now();
    try {
      await atomically(db, [
        db.insert(flowRevisions).values({ flowId, revision, source, spec, createdAt: now }),
        db
          .insert(flows)
          .values({ id: flowId, revision, createdAt: now, updatedAt: now })
          .onConflictDoUpdate({ target: flows.id, set: { revision, deleted: false, updatedAt: now } }),
        ...sync(db),
      ]);
      return { revision, created: true };
    } catch (e) {
      const taken = await getFlowRevision(db, flowId, revision).catch(() => undefined);
      if (!taken || tries >= 5) throw e;
    }
  }
}

/** A live flow (not deleted) with its current revision. */
export async function getFlow(db: Db, flowId: string): Promise<{ flow: FlowRow; current: FlowRevisionRow } | undefined> {
  const [row] = await db
    .select({ flow: flows, current: flowRevisions })
    .from(flows)
    .innerJoin(flowRevisions, and(eq(flowRevisions.flowId, flows.id), eq(flowRevisions.revision, flows.revision)))
    .where(and(eq(flows.id, flowId), eq(flows.deleted, false)));
  return row;
}

/** The current revision of a live flow, without its document: revisions never change, callers cache their specs. */
export async function currentRevision(db: Db, flowId: string): Promise<number | undefined> {
  // Text, not a drizzle query: it is read on every trigger.
  const [row] = await readRows<{ revision: number }>(db, q`SELECT revision FROM flows WHERE id = ${flowId} AND deleted = 0`);
  return row?.revision;
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
  // The deletes are harmless when the flow was deleted already: its trigger rows went with it.
  const [rows] = await atomically(db, [
    db
      .update(flows)
      .set({ deleted: true, updatedAt: Date.now() })
      .where(and(eq(flows.id, flowId), eq(flows.deleted, false)))
      .returning({ id: flows.id }),
    db.delete(schedules).where(eq(schedules.flowId, flowId)),
    db.delete(flowTriggers).where(eq(flowTriggers.targetFlowId, flowId)),
  ]);
  return returned(rows).length > 0;
}

export async function getFlowRevision(db: Db, flowId: string, revision: number) {
  return db.query.flowRevisions.findFirst({ where: and(eq(flowRevisions.flowId, flowId), eq(flowRevisions.revision, revision)) });
}
