/** Starting a run: check the inputs against the flow, bring asset inputs into the store, record the run. */
import { existsSync, statSync } from 'node:fs';
import type { AssetStore } from '../assets/store.js';
import { newId } from '../ids.js';
import type { Db } from '../store/db.js';
import { createRun, type LoadedAsset, type NewAsset, type NewRun } from '../store/runs.js';
import type { FlowSpec } from './spec.js';

export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

export interface TriggerRequest {
  spec: FlowSpec;
  revision: number;
  /** Asset inputs from files on this machine: name → path (copied into the asset store). */
  files?: Record<string, string>;
  /**
   * Asset inputs that are assets already stored (an upload, an upstream output): a file is shared,
   * not copied; an inline asset must come with its bytes (withContent), which its new row keeps too.
   */
  assets?: Record<string, LoadedAsset[]>;
  /** Non-asset inputs: name → value. */
  params?: Record<string, unknown>;
  /** Who started it: manual, cli, api, webhook, schedule, backfill, flow. */
  trigger?: string;
  logicalTime?: number;
  /** How the caller gives an asset input, for the "missing" message; {name} is replaced. */
  assetHint?: string;
  dedupeKey?: string;
  backfillId?: string;
}

/** Check a trigger request and build the run to record (asset files are imported here). */
export async function prepareRun(assets: AssetStore, req: TriggerRequest): Promise<NewRun> {
  const { spec } = req;
  const files = req.files ?? {};
  const given = req.assets ?? {};
  const params: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const name of new Set([...Object.keys(files), ...Object.keys(given), ...Object.keys(req.params ?? {})])) {
    if (!(name in spec.inputs)) problems.push(`unknown input "${name}"; flow ${spec.id} declares: ${Object.keys(spec.inputs).join(', ') || 'none'}`);
  }
  for (const [name, input] of Object.entries(spec.inputs)) {
    if (input.type === 'asset') {
      const file = files[name];
      if (file === undefined && !given[name]?.length) {
        if (input.required) problems.push(`missing asset input "${name}"${req.assetHint ? ` (${req.assetHint.replaceAll('{name}', name)})` : ''}`);
      } else if (file !== undefined && (!existsSync(file) || !statSync(file).isFile())) {
        problems.push(`input "${name}": file not found: ${file}`);
      }
      if (req.params && name in req.params) problems.push(`input "${name}" is an asset: give a file, not a value`);
    } else {
      const value = req.params?.[name] ?? input.default;
      if (value === undefined) {
        if (input.required) problems.push(`missing ${input.type} input "${name}"`);
        continue;
      }
      if (typeof value === 'object') problems.push(`input "${name}" must be a ${input.type}, got ${JSON.stringify(value)}`);
      else if (input.type === 'number' && (value === '' || Number.isNaN(Number(value)))) problems.push(`input "${name}" must be a number, got ${JSON.stringify(value)}`);
      else if (input.type === 'boolean' && !['true', 'false', true, false].includes(value as string)) problems.push(`input "${name}" must be true or false`);
      else params[name] = input.type === 'number' ? Number(value) : input.type === 'boolean' ? String(value) === 'true' : String(value);
    }
  }
  if (problems.length) throw new InputError(problems.join('\n'));

  const runId = newId('r');
  const inputs: NewAsset[] = [];
  for (const [name, file] of Object.entries(files)) {
    const location = `runs/${runId}/inputs/${name}`;
    const stored = await assets.importFile(location, file);
    inputs.push({ id: newId('a'), name, location, mediaType: 'application/octet-stream', ...stored });
  }
  for (const [name, list] of Object.entries(given)) {
    list.forEach((a, i) => {
      if (a.inline && !a.content) throw new Error(`asset ${a.id} is inline, and its bytes were not read`);
      inputs.push({ id: newId('a'), name, location: a.location, size: a.size, sha256: a.sha256, mediaType: a.mediaType, order: list.length > 1 ? i : undefined, content: a.content });
    });
  }
  return {
    id: runId,
    flowId: spec.id,
    revision: req.revision,
    params,
    trigger: req.trigger ?? 'manual',
    taskIds: spec.tasks.map((t) => t.id),
    inputs,
    logicalTime: req.logicalTime,
    dedupeKey: req.dedupeKey,
    backfillId: req.backfillId,
    skipAbove: spec.concurrency?.policy === 'skip' ? spec.concurrency.max : undefined,
  };
}

/** Validate, import and record a run; returns its id. */
export async function triggerRun(db: Db, assets: AssetStore, req: TriggerRequest): Promise<string> {
  const run = await prepareRun(assets, req);
  if (!(await createRun(db, run)).length) throw new InputError(`flow ${run.flowId} already has a run for ${run.dedupeKey}`);
  return run.id;
}
