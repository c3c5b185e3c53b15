/** Starting a run: check the inputs against the flow, copy asset inputs into the store, record the run. */
import { existsSync, statSync } from 'node:fs';
import type { AssetStore } from '../assets/store.js';
import { newId } from '../ids.js';
import type { Db } from '../store/db.js';
import { createRun, type NewAsset } from '../store/runs.js';
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
  /** Asset inputs: name → a file on this machine. */
  files?: Record<string, string>;
  /** Non-asset inputs: name → value. */
  params?: Record<string, unknown>;
  trigger?: string;
}

export async function triggerRun(db: Db, assets: AssetStore, req: TriggerRequest): Promise<string> {
  const { spec } = req;
  const files = req.files ?? {};
  const params: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const name of [...Object.keys(files), ...Object.keys(req.params ?? {})]) {
    if (!(name in spec.inputs)) problems.push(`unknown input "${name}"; flow ${spec.id} declares: ${Object.keys(spec.inputs).join(', ') || 'none'}`);
  }
  for (const [name, input] of Object.entries(spec.inputs)) {
    if (input.type === 'asset') {
      const file = files[name];
      if (file === undefined) {
        if (input.required) problems.push(`missing asset input "${name}" (give it with --input ${name}=PATH)`);
      } else if (!existsSync(file) || !statSync(file).isFile()) {
        problems.push(`input "${name}": file not found: ${file}`);
      }
      if (req.params && name in req.params) problems.push(`input "${name}" is an asset: give a file, not a value`);
    } else {
      const value = req.params?.[name] ?? input.default;
      if (value === undefined) {
        if (input.required) problems.push(`missing ${input.type} input "${name}"`);
        continue;
      }
      if (input.type === 'number' && Number.isNaN(Number(value))) problems.push(`input "${name}" must be a number, got ${JSON.stringify(value)}`);
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
  await createRun(db, { id: runId, flowId: spec.id, revision: req.revision, params, trigger: req.trigger ?? 'manual', taskIds: spec.tasks.map((t) => t.id), inputs });
  return runId;
}
