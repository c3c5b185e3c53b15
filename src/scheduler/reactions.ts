/**
 * Flow-to-flow triggers, driven by the event log: run and task events are read after a cursor kept
 * in the database, and the runs they fire are created in the same batch that moves the
 * cursor. A crash replays from the cursor; a run's dedupe key stops a second server from firing
 * the same upstream event twice.
 */
import type { AssetStore } from '../assets/store.js';
import type { Db } from '../store/db.js';
import { getFlow } from '../store/flows.js';
import { runAll, type Statement } from '../store/batch.js';
import { createRunStep, taskOutputAssets, withContent, type LoadedAsset, type NewRun } from '../store/runs.js';
import { latestEventId } from '../store/events.js';
import { anyFlowTriggers, cursorOf, eventsAfterId, flowTriggerChain, moveCursor, triggerRefusedEvent, triggersFrom, type FlowTriggerRow } from '../store/triggers.js';
import type { FlowSpec } from './spec.js';
import { InputError, prepareRun } from './trigger.js';

const CURSOR = 'flow-triggers';
const TYPES = new Set(['run-succeeded', 'run-failed', 'run-cancelled', 'task-succeeded']);
const POLL_MS = 1000;
/** Events read at most this often: a busy server wakes the reactor on every run's end. */
const MIN_GAP_MS = 20;
/**
 * A cursor move that fired nothing is written at most this often. Replaying events that fired
 * nothing is harmless, and one that did fire moved the cursor in its own batch; without this, every
 * run's end would cost a commit of its own.
 */
const PERSIST_MS = 5000;
/**
 * Most runs one after the other that flow triggers may start from a run started otherwise. Cycles
 * are refused when a flow is saved, but one can still be stored (two saves racing, a database
 * from before the check): its flows would start each other's runs as fast as they end, forever.
 */
export const MAX_TRIGGER_CHAIN = 32;

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
  /** Events up to here are handled; `persisted` is what the database says. */
  private cursor = 0;
  private persisted = 0;
  private persistedAt = 0;
  private lastStep = 0;

  constructor(private readonly o: ReactorOptions) {}

  /** A new database (or one from before flow triggers) starts at its newest event, not its history. */
  async init(): Promise<void> {
    const stored = await cursorOf(this.o.db, CURSOR);
    if (stored === undefined) await moveCursor(this.o.db, CURSOR, await latestEventId(this.o.db));
    this.cursor = this.persisted = stored ?? (await cursorOf(this.o.db, CURSOR)) ?? 0;
    this.persistedAt = Date.now();
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
    // Best effort: a cursor left behind only means replaying events that fire nothing.
    await this.persist().catch((e) => this.o.log?.(`flow triggers: cannot save the cursor: ${(e as Error).message}`));
  }

  /** An event was written: wake up if it is one that can fire a flow trigger. */
  onEvent(e: { type: string }): void {
    if (TYPES.has(e.type)) this.wake();
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
        const wait = this.lastStep + MIN_GAP_MS - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        this.lastStep = Date.now();
        while (await this.step());
        if (Date.now() - this.persistedAt >= PERSIST_MS) await this.persist();
      } while (this.again && this.running);
    })()
      .catch((e) => this.o.log?.(`flow triggers: ${(e as Error).message}`))
      .finally(() => (this.busy = undefined));
  }

  /** Handle every event after the cursor, now: on Workers, where nothing polls, after each step of a run. */
  async catchUp(): Promise<void> {
    if (!this.persistedAt) await this.init();
    while (await this.step());
    await this.persist();
  }

  private async persist(): Promise<void> {
    if (this.cursor > this.persisted) await moveCursor(this.o.db, CURSOR, this.cursor);
    this.persisted = Math.max(this.persisted, this.cursor);
    this.persistedAt = Date.now();
  }

  /** Handle one batch of events; true when there may be more. */
  private async step(): Promise<boolean> {
    // With no flow trigger anywhere nothing can fire: move past the events without reading them.
    // The newest id is read first, so a trigger created after the check only concerns later events.
    const latest = await latestEventId(this.o.db);
    if (!(await anyFlowTriggers(this.o.db))) {
      this.cursor = Math.max(this.cursor, latest);
      return false;
    }
    const rows = await eventsAfterId(this.o.db, this.cursor, [...TYPES], 100);
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
    const refused: Statement[] = [];
    const chains = new Map<string, number>();
    for (const f of fire) {
      let chain = chains.get(f.runId);
      if (chain === undefined) chains.set(f.runId, (chain = await flowTriggerChain(this.o.db, f.runId, MAX_TRIGGER_CHAIN)));
      if (chain >= MAX_TRIGGER_CHAIN) {
        const reason = `run ${f.runId} ends a chain of ${MAX_TRIGGER_CHAIN} runs started by flow triggers, the most one may have (do flow triggers form a cycle?)`;
        this.o.log?.(`flow ${f.trigger.targetFlowId}: not triggered by run ${f.runId} of flow ${f.trigger.sourceFlowId}: ${reason}`);
        refused.push(triggerRefusedEvent(f.runId, f.trigger.targetFlowId, f.trigger.idx, reason));
        continue;
      }
      const run = await this.prepare(f.runId, f.trigger, f.key);
      if (run) prepared.push(run);
    }
    const last = rows.at(-1)!.id;
    if (prepared.length || refused.length) {
      const steps = prepared.map((run) => createRunStep(run));
      const created = await runAll(this.o.db, [...steps, { items: [...refused, moveCursor(this.o.db, CURSOR, last)], read: () => [] }]);
      this.persisted = last;
      this.persistedAt = Date.now();
      prepared.forEach((run, i) => created[i]!.length && this.o.onRun(run.id));
    }
    this.cursor = last;
    return rows.length === 100;
  }

  private async prepare(upstreamRunId: string, t: FlowTriggerRow, dedupeKey: string): Promise<NewRun | null> {
    const found = await getFlow(this.o.db, t.targetFlowId);
    if (!found) return null;
    if (t.on === 'asset') {
      const made = (await taskOutputAssets(this.o.db, upstreamRunId, [t.task!])).some((a) => a.name === t.asset);
      if (!made) return null;
    }
    const assets: Record<string, LoadedAsset[]> = {};
    for (const [input, ref] of Object.entries(t.inputs)) {
      const [task, name] = ref.split('/') as [string, string];
      assets[input] = await withContent(this.o.db, (await taskOutputAssets(this.o.db, upstreamRunId, [task])).filter((a) => a.name === name));
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
