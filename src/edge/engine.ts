/**
 * The run state machine on Workers. The decisions are the Node engine's (scheduler/engine.ts),
 * over the same store functions; what differs is the driving: a Worker lives for one invocation,
 * so every step is a message on the INSTANCES queue and each instance runs in a consumer
 * invocation of its own.
 *
 * - `{type: "advance", run}`: start the run, plan its ready tasks, skip doomed ones, finish it.
 * - `{type: "fan", taskRun, from, to}`: dispatch instances from..to-1; more than FAN_OUT of them
 *   become FAN_OUT sub-ranges, so no invocation sends more than FAN_OUT messages.
 * - `{type: "run", instance}`: claim one instance, run it, commit its outcome.
 */
import { publicMessage } from '../runtime/hostless.js';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { newId } from '../ids.js';
import type { Failure } from '../runtime/failures.js';
import type { Partition } from '../runtime/protocol.js';
import { backoff, outputStem, redact, runDir, taskEnvironment } from '../scheduler/jobs.js';
import { capPartitions, singlePartition, validatePartitions, type Plan } from '../scheduler/plan.js';
import type { FlowSpec, TaskSpec } from '../scheduler/spec.js';
import { Reactor } from '../scheduler/reactions.js';
import { splitByManifest } from '../scheduler/split.js';
import { isTerminal, nextStep, runOutcome } from '../scheduler/steps.js';
import type { Db } from '../store/db.js';
import type { EventRow } from '../store/events.js';
import { cancelRun } from '../store/run-control.js';
import { getFlowRevision } from '../store/flows.js';
import { claimInstance, completeInstances, failedAttempts, failInstance, getInstance, overdueInstances, type AttemptRecord } from '../store/instances.js';
import {
  assetsByIds, failTaskRunPlanning, finishRun, getRun, getTaskRun, getTaskRuns, oldestRunningRun, planTaskRun, queuedRunIds, runInputAssets, skipTaskRun, startRun, taskOutputAssets, taskRunStates,
  type AssetRow, type NewAsset, type RunRow,
} from '../store/runs.js';
import type { EdgeAssetStore } from './assets.js';
import { taskKey, type EdgeBundle, type EdgeComponent } from './bundle.js';
import { runOnEdge, type EdgeInput } from './runtime/run.js';

export type EdgeMessage = { type: 'advance'; run: string } | { type: 'fan'; taskRun: string; from: number; to: number } | { type: 'run'; instance: string };

/** The producer side of a Cloudflare Queue binding. */
export interface QueueLike {
  send(body: EdgeMessage, opts?: { delaySeconds?: number }): Promise<void>;
  sendBatch(messages: { body: EdgeMessage; delaySeconds?: number }[]): Promise<void>;
}

/** Most messages one invocation sends when fanning out (Queues take 100 per sendBatch). */
export const FAN_OUT = 100;
/** Longest delay a queue message can have (12 h); later retries wait for the cron sweep. */
const MAX_DELAY_S = 12 * 3600;
/**
 * A consumer's lease. A consumer invocation ends at its CPU limit (at most 5 min), and its message
 * comes back then; the lease only has to outlast that.
 */
const LEASE_MS = 15 * 60_000;
/** A pending instance due this long ago with no consumer on it has lost its message. */
const OVERDUE_MS = 5 * 60_000;

export class EdgeEngine {
  private readonly specs = new Map<string, Promise<FlowSpec>>();
  /** Flow-to-flow triggers: the Node server's event-log reactor, caught up after each step instead of polling. */
  private readonly reactor: Reactor;
  private readonly triggered: string[] = [];

  constructor(
    private readonly db: Db,
    private readonly assets: EdgeAssetStore,
    private readonly bundle: EdgeBundle,
    private readonly queue: QueueLike,
    /** The Worker's environment, where flows' secrets are (Worker secrets). */
    private readonly secrets: Record<string, unknown>,
  ) {
    this.reactor = new Reactor({ db, assets, onRun: (id) => this.triggered.push(id), log: (m) => console.error(`tutti: ${m}`) });
  }

  /** Fire the flow triggers of events so far; the runs they create are advanced through the queue. */
  async fireFlowTriggers(): Promise<void> {
    await this.reactor.catchUp();
    const runs = this.triggered.splice(0);
    for (let i = 0; i < runs.length; i += FAN_OUT) await this.queue.sendBatch(runs.slice(i, i + FAN_OUT).map((run) => ({ body: { type: 'advance', run } })));
  }

  /** Handle one queue message. Returns a delay when the message should come back later. */
  async handle(msg: EdgeMessage, deliveryId: string): Promise<{ retryAfterS?: number }> {
    if (msg.type === 'advance') {
      await this.advance(msg.run);
      await this.fireFlowTriggers();
    } else if (msg.type === 'fan') await this.dispatch(msg.taskRun, msg.from, msg.to);
    else return this.runInstance(msg.instance, `q:${deliveryId}`);
    return {};
  }

  /**
   * Look at runs after events: a task run that ended moves its run on; a retried run's resumed
   * task runs have pending instances again, which no message names any more.
   */
  async react(events: EventRow[]): Promise<void> {
    const runs = new Set(events.filter((e) => ['task-succeeded', 'task-failed', 'task-skipped', 'run-created', 'run-retried'].includes(e.type)).map((e) => e.runId));
    for (const e of events) {
      if (e.type !== 'run-retried') continue;
      for (const tr of await getTaskRuns(this.db, e.runId)) if (tr.state === 'running' && tr.instanceCount) await this.dispatch(tr.id, 0, tr.instanceCount);
    }
    if (runs.size) await this.queue.sendBatch([...runs].map((run) => ({ body: { type: 'advance', run } })));
  }

  /** Instances due for a while that no consumer took: their message was lost or gave up (the cron sweep). */
  async redispatchOverdue(now: number): Promise<void> {
    const ids = await overdueInstances(this.db, now - OVERDUE_MS, FAN_OUT);
    if (ids.length) await this.queue.sendBatch(ids.map((instance) => ({ body: { type: 'run', instance } })));
  }

  /** A flow revision's spec, read once per revision. */
  flowSpec(flowId: string, revision: number): Promise<FlowSpec> {
    const key = `${flowId}@${revision}`;
    let p = this.specs.get(key);
    if (!p) {
      p = getFlowRevision(this.db, flowId, revision).then((r) => {
        if (!r) throw new Error(`flow ${key} not found`);
        return r.spec as FlowSpec;
      });
      this.specs.set(key, p);
      p.catch(() => this.specs.delete(key));
    }
    return p;
  }

  /** Move one run forward, as the Node engine does; every task run it plans is fanned out through the queue. */
  async advance(runId: string): Promise<void> {
    const run = await getRun(this.db, runId);
    if (!run || !['queued', 'running'].includes(run.state)) return;
    const spec = await this.flowSpec(run.flowId, run.revision);
    if (run.state === 'queued' && !(await this.startQueued(run, spec))) return;
    const trs = new Map((await taskRunStates(this.db, runId)).map((t) => [t.taskId, t]));
    // A task planned with no instances succeeds at once, which can make the next one ready.
    for (let moved = true; moved; ) {
      moved = false;
      for (const task of spec.tasks) {
        const tr = trs.get(task.id);
        if (!tr || tr.state !== 'pending') continue;
        const step = nextStep(task, trs);
        if (step && 'skip' in step) {
          await skipTaskRun(this.db, runId, tr.id, task.id, step.skip);
          tr.state = 'skipped';
          moved = true;
        } else if (step) {
          const planned = await this.plan(run, task, tr.id);
          const now = planned ?? (await getTaskRun(this.db, tr.id))?.state ?? tr.state;
          moved ||= isTerminal(now);
          trs.set(task.id, { ...tr, state: now });
        }
      }
    }
    const outcome = runOutcome(spec, trs);
    if (!outcome) return;
    const ended = await finishRun(this.db, runId, outcome.state, outcome.error);
    // A run of the flow ended: the oldest queued ones may start now.
    if (ended.length) {
      const queued = await queuedRunIds(this.db, run.flowId, 16);
      if (queued.length) await this.queue.sendBatch(queued.map((id) => ({ body: { type: 'advance', run: id } })));
    }
  }

  /** As on Node: start a queued run if its flow's run limit allows; with `cancel-oldest`, make room. */
  private async startQueued(run: RunRow, spec: FlowSpec): Promise<boolean> {
    const limit = spec.concurrency;
    if ((await startRun(this.db, run.id, { flowMax: limit?.max })).length) return true;
    if (limit?.policy !== 'cancel-oldest' || run.backfillId) return false;
    const oldest = await oldestRunningRun(this.db, run.flowId);
    if (oldest) await cancelRun(this.db, oldest, `cancelled to make room for run ${run.id} (flow concurrency max ${limit.max}, policy cancel-oldest)`);
    return (await startRun(this.db, run.id, { flowMax: limit.max })).length > 0;
  }

  /** The deployed component of a task, or why there is none. */
  private component(run: RunRow, task: TaskSpec): EdgeComponent {
    const edgeTask = this.bundle.tasks[taskKey(run.flowId, task.id)];
    const component = edgeTask && this.bundle.components[edgeTask.component];
    if (!component || component.info.digest !== task.digest) {
      throw new Error(`task ${task.id} of flow ${run.flowId} uses component ${task.digest.slice(0, 12)}…, which this deployment does not carry: redeploy with tutti deploy cloudflare`);
    }
    return component;
  }

  private async readInputs(inputs: AssetRow[]): Promise<EdgeInput[]> {
    return Promise.all(inputs.map(async (a) => ({ name: inputName(a), mediaType: a.mediaType, bytes: await this.assets.read(a.location) })));
  }

  /**
   * What one instance reads. A command program reads its partition as stdin, so it gets only its
   * slices (ranged reads from R2), each an input of its own: an instance of a 1 GiB input cut in 64
   * holds 16 MiB, not 1 GiB. A typed task may read anywhere in its inputs, so it gets them whole.
   */
  private async instanceInputs(component: EdgeComponent, inputs: AssetRow[], partition: Partition): Promise<{ inputs: EdgeInput[]; partition: Partition }> {
    if (component.info.contract !== 'command') return { inputs: await this.readInputs(inputs), partition };
    const read = await Promise.all(
      partition.slices.map(async (sl) => {
        const a = inputs[sl.input]!;
        return { name: inputName(a), mediaType: a.mediaType, bytes: await this.assets.readRange(a.location, sl.offset, sl.length) };
      }),
    );
    return { inputs: read, partition: { ...partition, slices: read.map((r, i) => ({ input: i, offset: 0, length: r.bytes.length })) } };
  }

  private async plan(run: RunRow, task: TaskSpec, taskRunId: string): Promise<'running' | 'succeeded' | 'failed' | undefined> {
    const given = task.inputs.length ? await runInputAssets(this.db, run.id) : [];
    const upstream = task.needs.length ? await taskOutputAssets(this.db, run.id, task.needs) : [];
    const inputs = [...task.inputs.flatMap((n) => given.filter((a) => a.name === n)), ...upstream];
    let plan: Plan = singlePartition(inputs);
    let problem: string | undefined;
    try {
      const component = this.component(run, task);
      if (!component.info.hasPlan && component.info.manifest) {
        plan = await this.splitOnEdge(inputs, component);
      } else if (component.info.hasPlan) {
        const { params, env, args } = taskEnvironment(run, task, { index: 0, count: 0, slices: [] }, this.taskSecrets(task));
        const result = await runOnEdge(component, { ...this.limits(task), call: 'plan', inputs: await this.readInputs(inputs), params, env, args, scratch: false });
        if (!result.ok) problem = `${result.failure.kind}: ${result.failure.message}`;
        else {
          try {
            validatePartitions(result.plan ?? [], inputs);
            plan = { partitions: result.plan ?? [], policy: 'plan export' };
          } catch (e) {
            problem = `invalid-plan: ${(e as Error).message}`;
          }
        }
      }
    } catch (e) {
      problem = publicMessage(e);
    }
    if (problem) return (await failTaskRunPlanning(this.db, run.id, taskRunId, task.id, `plan failed: ${problem}`)).length ? 'failed' : undefined;
    plan = capPartitions(plan, task.maxInstances);
    const events = await planTaskRun(this.db, { runId: run.id, taskRunId, taskId: task.id, inputs: inputs.map((a) => a.id), ...plan, concurrency: task.concurrency });
    if (!events.length) return undefined;
    if (plan.partitions.length) await this.dispatch(taskRunId, 0, plan.partitions.length);
    return plan.partitions.length ? 'running' : 'succeeded';
  }

  /** The manifest split reads inputs by path to find record ends: this invocation's in-memory /tmp holds them. */
  private async splitOnEdge(inputs: AssetRow[], component: EdgeComponent): Promise<Plan> {
    const dir = `/tmp/tutti-split-${newId('s')}`;
    mkdirSync(dir, { recursive: true });
    try {
      const files = await Promise.all(
        inputs.map(async (a, i) => {
          const path = `${dir}/${i}`;
          writeFileSync(path, await this.assets.read(a.location));
          return { size: a.size, path };
        }),
      );
      return splitByManifest(files, component.info.manifest!);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** Send messages for instances from..to-1 of a task run: one each, or sub-ranges when there are too many. */
  async dispatch(taskRunId: string, from: number, to: number): Promise<void> {
    const n = to - from;
    if (n <= 0) return;
    if (n <= FAN_OUT) {
      await this.queue.sendBatch(Array.from({ length: n }, (_, i) => ({ body: { type: 'run', instance: `${taskRunId}.${from + i}` } })));
      return;
    }
    const step = Math.ceil(n / FAN_OUT);
    const ranges: { body: EdgeMessage }[] = [];
    for (let a = from; a < to; a += step) ranges.push({ body: { type: 'fan', taskRun: taskRunId, from: a, to: Math.min(to, a + step) } });
    await this.queue.sendBatch(ranges);
  }

  private taskSecrets(task: TaskSpec): Map<string, string> {
    const out = new Map<string, string>();
    for (const name of Object.values(task.secrets)) {
      const v = this.secrets[name];
      if (typeof v === 'string') out.set(name, v);
    }
    return out;
  }

  private limits(task: TaskSpec) {
    const edgeDefaults = { outputBytes: 64 * 2 ** 20, logBytes: 64 * 1024, planPartitions: 10_000 };
    return {
      outputBytes: task.outputLimit ?? edgeDefaults.outputBytes,
      logBytes: task.logLimit ?? edgeDefaults.logBytes,
      planPartitions: task.planLimit ?? edgeDefaults.planPartitions,
    };
  }

  /** Claim the instance a message names, run it, commit the outcome. */
  private async runInstance(instanceId: string, owner: string): Promise<{ retryAfterS?: number }> {
    const inst = await claimInstance(this.db, instanceId, owner, LEASE_MS);
    if (!inst) return this.notClaimed(instanceId, owner);
    const tr = (await getTaskRun(this.db, inst.taskRunId))!;
    const run = (await getRun(this.db, tr.runId))!;
    const task = (await this.flowSpec(run.flowId, run.revision)).tasks.find((t) => t.id === tr.taskId)!;
    const record: AttemptRecord = { instance: inst, taskId: task.id, worker: owner, startedAt: Date.now(), log: '' };
    const secrets = this.taskSecrets(task);
    const missing = Object.values(task.secrets).filter((n) => !secrets.has(n));
    if (missing.length) {
      return this.recordFailure(record, task, { kind: 'missing-secret', message: `secret(s) ${missing.map((m) => `"${m}"`).join(', ')} not set on this Worker (wrangler secret put NAME)`, retryable: false });
    }
    try {
      const component = this.component(run, task);
      const inputs = await assetsByIds(this.db, tr.inputs ?? []);
      const { params, env, args } = taskEnvironment(run, task, inst.partition as Partition, secrets);
      env.push(['TUTTI_ATTEMPT', String(inst.attempt)]);
      const job = await this.instanceInputs(component, inputs, inst.partition as Partition);
      const result = await runOnEdge(component, { ...this.limits(task), call: 'run', ...job, params, env, args, scratch: task.scratch });
      record.log = redact(result.log, task, secrets);
      if (!result.ok) return this.recordFailure(record, task, { ...result.failure, message: redact(result.failure.message, task, secrets) });
      const outputs: NewAsset[] = [];
      for (const o of result.outputs) {
        const location = `${runDir(run.id)}/${outputStem(task.id, inst.idx, inst.attempt)}${o.name}`;
        await this.assets.write(location, o.bytes);
        outputs.push({ id: newId('a'), name: o.name, location, size: o.size, sha256: o.sha256, mediaType: 'application/octet-stream' });
      }
      const { events, won } = await completeInstances(this.db, [{ record, outputs }]);
      // Lost its lease meanwhile (the run was cancelled, or the lease expired): its files are garbage.
      if (!won.length) await this.assets.removeMatching(runDir(run.id), outputStem(task.id, inst.idx, inst.attempt));
      await this.react(events);
    } catch (e) {
      return this.recordFailure(record, task, { kind: 'internal', message: publicMessage(e), retryable: true });
    }
    return {};
  }

  /**
   * Nothing to claim: done, cancelled, not due yet (a retry's backoff), at its task's concurrency
   * cap, or claimed by an earlier delivery of this very message whose invocation died (the CPU limit).
   */
  private async notClaimed(instanceId: string, owner: string): Promise<{ retryAfterS?: number }> {
    const inst = await getInstance(this.db, instanceId);
    if (!inst) return {};
    if (inst.state === 'pending') return { retryAfterS: Math.min(MAX_DELAY_S, Math.max(1, Math.ceil((inst.availableAt - Date.now()) / 1000))) };
    if (inst.state !== 'running' || inst.leaseOwner !== owner) return {};
    const tr = (await getTaskRun(this.db, inst.taskRunId))!;
    const run = (await getRun(this.db, tr.runId))!;
    const task = (await this.flowSpec(run.flowId, run.revision)).tasks.find((t) => t.id === tr.taskId)!;
    const record: AttemptRecord = { instance: inst, taskId: task.id, worker: owner, startedAt: inst.startedAt ?? Date.now(), log: '' };
    const failure: Failure = { kind: 'timed-out', message: 'the Worker invocation running it ended before it finished (CPU time limit, or evicted)', retryable: true };
    return this.recordFailure(record, task, failure);
  }

  private async recordFailure(record: AttemptRecord, task: TaskSpec, failure: Failure): Promise<{ retryAfterS?: number }> {
    // Attempts lost with a dead invocation do not use up the task's retries.
    const failed = (await failedAttempts(this.db, record.instance.id)) + 1;
    const delay = failure.retryable && failed < task.retry.attempts ? backoff(task.retry, failed) : null;
    const done = await failInstance(this.db, record, failure, delay === null ? null : Date.now() + delay);
    if (!done) return {};
    if (delay !== null) await this.queue.send({ type: 'run', instance: record.instance.id }, { delaySeconds: Math.min(MAX_DELAY_S, Math.ceil(delay / 1000)) });
    await this.react(done.events);
    return {};
  }

}

/** An input's name as the task sees it: a flow input's own, an upstream output's "task/instance/name". */
function inputName(a: AssetRow): string {
  return a.taskId ? `${a.taskId}/${a.instanceIdx}/${a.name}` : a.name;
}
