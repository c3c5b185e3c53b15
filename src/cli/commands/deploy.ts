/** `tutti deploy cloudflare FLOW…`: build the Workers bundle for a set of flows and hand it to wrangler. */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { buildEdgeBundle } from '../../edge/build/bundle.js';
import { componentCacheDir } from '../../home.js';
import { UsageError } from '../errors.js';

export interface DeployOptions {
  dryRun?: boolean;
  out: string;
  config: string;
  home?: string;
}

/**
 * What the bundle cannot work without, as it reads in a wrangler.toml (the checks also accept
 * wrangler.json spellings), and why, for the error that names them.
 */
const REQUIRED_CONFIG: [RegExp, string][] = [
  [/find_additional_modules"?\s*[=:]\s*true\b/, 'find_additional_modules = true'],
  [/"components\/\*\*\/\*\.js"/, 'rules = [{ type = "ESModule", globs = ["components/**/*.js"] }]'],
  [/"nodejs_compat"/, 'compatibility_flags = ["nodejs_compat"]'],
];

function checkConfig(file: string): void {
  if (!existsSync(file)) {
    throw new UsageError(`no wrangler configuration at ${file}: start from the wrangler.toml at the root of the Tutti repository, or pass --config`);
  }
  const text = readFileSync(file, 'utf8');
  const missing = REQUIRED_CONFIG.filter(([re]) => !re.test(text)).map(([, line]) => line);
  if (missing.length) {
    throw new UsageError(
      `${file} lacks what the Tutti bundle needs (component bindings are modules imported at run time, the sandbox uses node:fs):\n` +
        missing.map((l) => `  ${l}`).join('\n'),
    );
  }
}

/** wrangler's CLI script: the project's own first, else the one installed next to Tutti. */
function wranglerScript(): string {
  for (const from of [path.join(process.cwd(), 'package.json'), import.meta.url]) {
    try {
      const pkgFile = createRequire(from).resolve('wrangler/package.json');
      const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { bin: Record<string, string> };
      return path.join(path.dirname(pkgFile), pkg.bin.wrangler!);
    } catch {
      // not installed there
    }
  }
  throw new UsageError('wrangler is not installed: npm install --save-dev --save-exact wrangler@4.86.0 (the last release that runs on Node 20)');
}

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

export async function deployCloudflare(flowFiles: string[], opts: DeployOptions): Promise<number> {
  const config = path.resolve(opts.config);
  checkConfig(config);
  const script = wranglerScript();
  const out = path.resolve(opts.out);
  const build = await buildEdgeBundle({ flowFiles, dir: path.join(out, 'bundle'), cacheDir: componentCacheDir(opts) });
  const lines = [`bundle: ${build.dir}`];
  for (const c of build.components) {
    const tasks = Object.values(build.tasks).filter((t) => t.component === c.key).map((t) => `${t.flow}/${t.task}`);
    lines.push(`  ${c.info.digest.slice(0, 12)}  ${c.info.contract.padEnd(7)}  ${(c.memoryBytes / 2 ** 20).toString().padStart(3)} MiB cap  ${kib(c.size).padStart(11)}  ${tasks.join(', ')}`);
  }
  for (const note of build.notes) lines.push(`note: ${note}`);
  process.stdout.write(`${lines.join('\n')}\n`);

  const args = [script, 'deploy', build.entry, '--config', config];
  if (opts.dryRun) args.push('--dry-run', '--outdir', path.join(out, 'dist'));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}
