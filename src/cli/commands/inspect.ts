import { readFileSync } from 'node:fs';
import { componentCacheDir } from '../../home.js';
import { ComponentCache, ComponentRejected } from '../../runtime/component.js';
import { describeManifest } from '../../runtime/manifest.js';
import { UsageError } from '../errors.js';

/** What a .wasm is as a task: contract, exports, imports, scaling policy. */
export async function inspectCommand(file: string, opts: { home?: string; json?: boolean }): Promise<number> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  const cache = new ComponentCache(componentCacheDir(opts));
  let info;
  try {
    ({ info } = await cache.prepare(bytes));
  } catch (e) {
    if (!(e instanceof ComponentRejected)) throw e;
    process.stdout.write(opts.json ? `${JSON.stringify({ valid: false, code: e.code, error: e.message })}\n` : `${file}: not a valid task\n  ${e.message}\n`);
    return 1;
  }
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
    return 0;
  }
  const world =
    info.contract === 'command'
      ? 'wasi:cli/command (stdin = partition, stdout = output, stderr = log)'
      : `tutti:task/${info.hasPlan ? 'planned-task' : 'task'}`;
  process.stdout.write(
    [
      file,
      `  contract: ${world}`,
      `  digest:   sha256:${info.digest}`,
      `  size:     ${info.size} bytes`,
      `  exports:  ${info.exports.join(', ')}`,
      `  imports:  ${info.imports.join(', ') || 'none'}`,
      `  scaling:  ${info.hasPlan ? 'its own plan export' : info.manifest ? `embedded manifest: ${describeManifest(info.manifest)}` : 'one instance (no plan export, no embedded manifest)'}`,
      '',
    ].join('\n'),
  );
  return 0;
}
