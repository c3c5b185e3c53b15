import { readFileSync, writeFileSync } from 'node:fs';
import { describeManifest, embedManifest, readManifest, ScalingManifestSchema } from '../../runtime/manifest.js';
import { UsageError } from '../errors.js';

function read(file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
}

/** Embed a scaling manifest into a component (in place unless -o is given). */
export function manifestSet(file: string, opts: { split: string; per: string; max?: number; output?: string }): number {
  const wanted = { split: opts.split, per: opts.per, ...(opts.max !== undefined ? { max: opts.max } : {}) };
  const parsed = ScalingManifestSchema.safeParse(wanted);
  if (!parsed.success) throw new UsageError(parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('\n'));
  const out = opts.output ?? file;
  writeFileSync(out, embedManifest(read(file), wanted));
  process.stderr.write(`${out}: scaling manifest ${JSON.stringify(wanted)} (${describeManifest(parsed.data)})\n`);
  return 0;
}

export function manifestShow(file: string): number {
  const m = readManifest(read(file));
  process.stdout.write(m ? `${JSON.stringify(m)}\n` : 'no scaling manifest\n');
  return m ? 0 : 1;
}
