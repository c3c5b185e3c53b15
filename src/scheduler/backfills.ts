/** Backfills: a scheduled flow run once for every tick of its schedule in a past time range. */
import type { AssetStore } from '../assets/store.js';
import { ticksBetween } from '../flow/index.js';
import { newId } from '../ids.js';
import type { Db } from '../store/db.js';
import { getFlow } from '../store/flows.js';
import { atomically } from '../store/batch.js';
import { createRunStep, type NewRun } from '../store/runs.js';
import { createBackfill } from '../store/triggers.js';
import type { FlowSpec } from './spec.js';
import { InputError, prepareRun } from './trigger.js';

/** Most runs one backfill may create. */
export const MAX_BACKFILL_RUNS = 10_000;

export interface BackfillRequest {
  flowId: string;
  from: number;
  to: number;
  /** Most of its runs at once (default 1: one tick after the other). */
  concurrency?: number;
  /** Which schedule trigger of the flow, by its position among the flow's triggers (default: the first schedule). */
  trigger?: number;
}

export class NotFound extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotFound';
  }
}

/** Record the backfill and all its runs (queued) in one batch. */
export async function startBackfill(db: Db, assets: AssetStore, req: BackfillRequest): Promise<{ id: string; runIds: string[]; ticks: number[] }> {
  const found = await getFlow(db, req.flowId);
  if (!found) throw new NotFound(`no flow ${req.flowId}`);
  const spec = found.current.spec as FlowSpec;
  const schedules = spec.triggers.map((t, i) => ({ t, i })).filter(({ t }) => t.type === 'schedule');
  const chosen = req.trigger === undefined ? schedules[0] : schedules.find(({ i }) => i === req.trigger);
  if (!chosen || chosen.t.type !== 'schedule') {
    throw new InputError(req.trigger === undefined ? `flow ${req.flowId} has no schedule trigger to backfill` : `trigger ${req.trigger} of flow ${req.flowId} is not a schedule`);
  }
  if (!(req.from < req.to)) throw new InputError('"from" must be before "to"');
  const { cron, timezone, params } = chosen.t;
  const ticks = ticksBetween(cron, timezone, req.from, req.to, MAX_BACKFILL_RUNS + 1);
  if (ticks.length > MAX_BACKFILL_RUNS) throw new InputError(`the range has more than ${MAX_BACKFILL_RUNS} ticks of "${cron}": split it into several backfills`);
  if (!ticks.length) throw new InputError(`no tick of "${cron}" falls between ${new Date(req.from).toISOString()} and ${new Date(req.to).toISOString()}`);
  const id = newId('b');
  const runs: NewRun[] = [];
  for (const t of ticks) {
    const run = await prepareRun(assets, { spec, revision: found.flow.revision, params, trigger: 'backfill', logicalTime: t, dedupeKey: `backfill:${id}:${t}`, backfillId: id });
    // The backfill's own concurrency paces its runs; the flow's skip policy is for live triggers.
    runs.push({ ...run, skipAbove: undefined });
  }
  await atomically(db, [
    createBackfill(db, { id, flowId: req.flowId, cron, timezone: timezone ?? null, from: req.from, to: req.to, concurrency: req.concurrency ?? 1, runCount: ticks.length, createdAt: Date.now() }),
    ...runs.flatMap((run) => createRunStep(run).items),
  ]);
  return { id, runIds: runs.map((r) => r.id), ticks };
}
