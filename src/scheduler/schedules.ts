/**
 * Cron triggers. Each schedule row says when it fires next; firing moves it forward with a
 * compare-and-set in the same batch that creates the runs, so with several servers on one
 * database each tick fires once, and a crash between the two loses nothing.
 */
import type { AssetStore } from '../assets/store.js';
import { latestTicks, nextTick } from '../flow/index.js';
import type { Db } from '../store/db.js';
import { getFlow } from '../store/flows.js';
import type { NewRun } from '../store/runs.js';
import { advanceSchedule, dueSchedules, nextScheduleTime, type ScheduleRow } from '../store/triggers.js';
import type { FlowSpec } from './spec.js';
import { prepareRun } from './trigger.js';

/** A tick this late is late, not missed: it still fires whatever the `missed` policy says. */
export const LATE_GRACE_MS = 5000;
/** Most missed ticks one catch-up fires. */
export const MAX_CATCH_UP = 1000;
/** Re-read the table this often even when nothing is due: another server may have added schedules. */
const POLL_MS = 1000;

export interface ScheduleLoopOptions {
  db: Db;
  assets: AssetStore;
  /** A run was created: start looking at it. */
  onRun: (runId: string) => void;
  log?: (msg: string) => void;
  now?: () => number;
}

export class ScheduleLoop {
  private timer?: NodeJS.Timeout;
  private running = false;
  private busy?: Promise<void>;
  private readonly now: () => number;

  constructor(private readonly o: ScheduleLoopOptions) {
    this.now = o.now ?? Date.now;
  }

  start(): void {
    this.running = true;
    this.wake();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.busy;
  }

  /** Look now (a flow was saved). */
  wake(): void {
    if (!this.running || this.busy) return;
    clearTimeout(this.timer);
    this.busy = this.fireDue()
      .catch((e) => this.o.log?.(`schedules: ${(e as Error).message}`))
      .finally(() => {
        this.busy = undefined;
        if (this.running) void this.arm();
      });
  }

  private async arm(): Promise<void> {
    const next = await nextScheduleTime(this.o.db).catch(() => undefined);
    const wait = next === undefined ? POLL_MS : Math.max(0, Math.min(POLL_MS, next - this.now()));
    if (!this.running) return;
    this.timer = setTimeout(() => this.wake(), wait);
    this.timer.unref();
  }

  /** Fire every schedule due at `now`: the loop's own step, and on Workers the whole of a cron invocation. */
  async fireDue(now = this.now()): Promise<void> {
    for (const s of await dueSchedules(this.o.db, now)) await this.fire(s, now);
  }

  private async fire(s: ScheduleRow, now: number): Promise<void> {
    const tz = s.timezone ?? undefined;
    // Only the newest ticks can fire (the late ones, or at most MAX_CATCH_UP): after a long
    // downtime the ticks before them are never walked one by one.
    const recent = latestTicks(s.cron, tz, now, MAX_CATCH_UP).filter((t) => t >= s.nextFireAt);
    const due = recent.filter((t) => s.missed === 'catch-up' || now - t <= LATE_GRACE_MS);
    const missed = due.length < recent.length || (recent[0] ?? now) > s.nextFireAt;
    const next = nextTick(s.cron, tz, Math.max(now, s.nextFireAt));
    const found = await getFlow(this.o.db, s.flowId);
    const newRuns: NewRun[] = [];
    if (found) {
      const spec = found.current.spec as FlowSpec;
      for (const t of due) {
        try {
          newRuns.push(
            await prepareRun(this.o.assets, {
              spec, revision: found.flow.revision, params: s.params, trigger: 'schedule', logicalTime: t, dedupeKey: `schedule:${s.key}:${t}`,
            }),
          );
        } catch (e) {
          // A tick that cannot make a valid run is reported and passed over, not retried forever.
          this.o.log?.(`flow ${s.flowId}: schedule "${s.cron}" tick ${new Date(t).toISOString()}: ${(e as Error).message}`);
        }
      }
    }
    const created = await advanceSchedule(this.o.db, s, next ?? Number.MAX_SAFE_INTEGER, due.at(-1) ?? null, newRuns);
    if (!created) return;
    if (missed) this.o.log?.(`flow ${s.flowId}: schedule "${s.cron}" passed over ticks missed since ${new Date(s.nextFireAt).toISOString()} (missed: ${s.missed}, at most ${MAX_CATCH_UP} caught up)`);
    for (const id of created) this.o.onRun(id);
  }
}
