/**
 * Flow-to-flow triggers, driven by the event log: run and task events are read after a cursor kept
 * in the database, and the runs they fire are created in the same batch that moves the
 * cursor. A crash replays from the cursor; a run's dedupe key stops a second server from firing
 * the same upstream event twice.
 */
import type { AssetStore } from '../assets/store.js';
import type { Db } from '../store/db.js';
import { getFlow } from '../store/flows.js';
import { atomically } from '../store/batch.js';
import { runsCreated, runStatements, taskOutputAssets, type AssetRow, type NewRun } from '../store/runs.js';
import { latestEventId } from '../store/events.js';
import { eventsAfterCursor, hasCursor, moveCursor, triggersFrom, type FlowTriggerRow } from '../store/triggers.js';
import type { FlowSpec } from './spec.js';
import { InputError, prepareRun } from './trigger.js';

const CURSOR = 'flow-triggers';
const TYPES = ['run-succeeded', 'run-failed', 'run-cancelled', 'task-succeeded'];
const POLL_MS = 1000;

export interface ReactorOptions {
  db: Db;
  assets: AssetStore;
  onRun: (runId: string) => void;
  log?: (msg: string) => void;
}

export class Reactor {
  private timer?: NodeJS.Timeout;
  private running = false;
  private busy?: Promise<void>;
  private again = false;

  constructor(private readonly o: ReactorOptions) {}

  /** A new database (or one from before flow triggers) starts at its newest event, not its history. */
  async init(): Promise<void> {
    if (!(await hasCursor(this.o.db, CURSOR))) await moveCursor(this.o.db, CURSOR, await latestEventId(this.o.db));
  }

  async start(): Promise<void> {
    await this.init();
    this.running = true;
    this.timer = setInterval(() => this.wake(), POLL_MS);
    this.timer.unref();
    this.wake();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.timer);
    await this.busy;
  }

  wake(): void {
    if (!this.running) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = (async () => {
      do {
        this.again = false;
        while (await this.step());
      } while (this.again && this.running);
    })()
      .catch((e) => this.o.log?.(`flow triggers: ${(e as Error).message}`))
      .finally(() => (this.busy = undefined));
  }

  /** Handle every event after the cursor, now: on Workers, where nothing polls, after each step of a run. */
  async catchUp(): Promise<void> {
    while (await this.step());
  }

  /** Handle one batch of events; true when there may be more. */
  private async step(): Promise<boolean> {
    const { rows } = await eventsAfterCursor(this.o.db, CURSOR, TYPES, 100);
    if (!rows.length) return false;
    const fire: { runId: string; trigger: FlowTriggerRow; key: string }[] = [];
    const bySource = new Map<string, FlowTriggerRow[]>();
    for (const e of rows) {
      if (!bySource.has(e.flowId)) bySource.set(e.flowId, await triggersFrom(this.o.db, e.flowId));
      for (const t of bySource.get(e.flowId)!) {
        if (matches(t, e)) fire.push({ runId: e.runId, trigger: t, key: `flow:${e.runId}:${t.idx}` });
      }
    }
    const prepared: NewRun[] = [];
    for (const f of fire) {
      const run = await this.prepare(f.runId, f.trigger, f.key);
      if (run) prepared.push(run);
    }
    const results = await atomically(this.o.db, [...prepared.flatMap((run) => runStatements(this.o.db, run)), moveCursor(this.o.db, CURSOR, rows.at(-1)!.id)]);
    for (const id of runsCreated(results.slice(0, -1), prepared)) this.o.onRun(id);
    return rows.length === 100;
  }

  private async prepare(upstreamRunId: string, t: FlowTriggerRow, dedupeKey: string): Promise<NewRun | null> {
    const found = await getFlow(this.o.db, t.targetFlowId);
    if (!found) return null;
    if (t.on === 'asset') {
      const made = (await taskOutputAssets(this.o.db, upstreamRunId, [t.task!])).some((a) => a.name === t.asset);
      if (!made) return null;
    }
    const assets: Record<string, AssetRow[]> = {};
    for (const [input, ref] of Object.entries(t.inputs)) {
      const [task, name] = ref.split('/') as [string, string];
      assets[input] = (await taskOutputAssets(this.o.db, upstreamRunId, [task])).filter((a) => a.name === name);
    }
    try {
      return await prepareRun(this.o.assets, { spec: found.current.spec as FlowSpec, revision: found.flow.revision, assets, trigger: 'flow', dedupeKey });
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      this.o.log?.(`flow ${t.targetFlowId}: not triggered by run ${upstreamRunId}: ${e.message}`);
      return null;
    }
  }
}

function matches(t: FlowTriggerRow, e: { type: string; taskId: string | null }): boolean {
  switch (t.on) {
    case 'succeeded':
      return e.type === 'run-succeeded';
    case 'failed':
      return e.type === 'run-failed';
    case 'finished':
      return e.type === 'run-succeeded' || e.type === 'run-failed' || e.type === 'run-cancelled';
    case 'asset':
      return e.type === 'task-succeeded' && e.taskId === t.task;
    default:
      return false;
  }
}
