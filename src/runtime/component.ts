/**
 * Component intake: tell which contract a .wasm satisfies, transpile it with jco once per content
 * digest (cached on disk), and compile its core modules once per process.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readManifest, type ScalingManifest } from './manifest.js';
import { capMemory } from './memory-cap.js';
import { grantableInterfaces } from './wasi/imports.js';

export type Contract = 'command' | 'task';

export interface ComponentInfo {
  digest: string;
  size: number;
  contract: Contract;
  hasPlan: boolean;
  /** The embedded scaling manifest, used when there is no `plan` export. */
  manifest: ScalingManifest | null;
  imports: string[];
  exports: string[];
}

/** Core modules compiled for one memory cap; `key` names this set in worker caches. */
export interface CompiledModules {
  key: string;
  modules: Record<string, WebAssembly.Module>;
}

export interface PreparedComponent {
  info: ComponentInfo;
  /** file: URL of the transpiled ES module exporting `instantiate`. */
  moduleUrl: string;
  /** The core modules with every memory capped at `memoryBytes`, compiled once per cap. */
  compile(memoryBytes: number): Promise<CompiledModules>;
}

/** A .wasm that cannot be a task; the message says what is wrong and how to fix it. */
export class ComponentRejected extends Error {
  constructor(
    readonly code: 'not-wasm' | 'core-module' | 'no-contract' | 'unsupported-import' | 'invalid-component' | 'invalid-manifest',
    message: string,
  ) {
    super(message);
    this.name = 'ComponentRejected';
  }
}

const TRANSPILE_FORMAT = 4; // bump when transpile options or validation change, to invalidate disk caches

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function checkHeader(bytes: Uint8Array): void {
  const magic = bytes.length >= 8 && bytes[0] === 0 && bytes[1] === 0x61 && bytes[2] === 0x73 && bytes[3] === 0x6d;
  if (!magic) throw new ComponentRejected('not-wasm', 'not a WebAssembly binary (missing the \\0asm header)');
  const layer = bytes[6]! | (bytes[7]! << 8);
  if (layer === 0) {
    throw new ComponentRejected(
      'core-module',
      'this is a core WebAssembly module, not a component. Wrap a WASI command with ' +
        '`npx jco new x.core.wasm --wasi-command -o x.wasm`, or build a component for the tutti:task world (see wit/).',
    );
  }
}

function stripVersion(name: string): string {
  return name.replace(/@[^/]*$/, '');
}

/** The typed world's exports, as `jco wit` prints them with parameter names removed. */
const EXPECTED_SIGNATURES: Record<string, string> = {
  run: 'func(partition, list<asset-info>, list<param>) -> result<_, task-error>',
  plan: 'func(list<asset-info>, list<param>) -> result<list<partition>, string>',
};

/** `name -> signature` of the plain function exports in a component's WIT, parameter names dropped. */
export function exportedSignatures(wit: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of wit.matchAll(/^\s*export ([a-z][a-z0-9-]*): (func\(.*\)[^;]*);\s*$/gm)) {
    out.set(m[1]!, m[2]!.replace(/\b[a-z][a-z0-9-]*: /g, '').trim());
  }
  return out;
}

/**
 * Everything the component's root world imports, as `componentWit` prints it: interfaces by path
 * (`acme:db/query@1.0.0`) and bare world-level names (`lookup` in `import lookup: func(…)`).
 * jco lists only the imports some core module calls; a host must still satisfy the rest to
 * instantiate the component, so validation needs the declared ones.
 */
export function declaredImports(wit: string): string[] {
  const world = /^world [^{]*\{\n([\s\S]*?)^\}/m.exec(wit)?.[1] ?? '';
  // Two-space indent: the world's own items, not lines inside an inline `interface { … }`.
  return [...world.matchAll(/^ {2}import (?:([^\s;]+);|%?([a-z][a-z0-9-]*): )/gm)].map((m) => m[1] ?? m[2]!);
}

/** `tutti:task/{host, types}, wasi:cli/{…}, …`: the grantable interfaces, grouped by package. */
function describeGrantable(): string {
  const byPackage = new Map<string, string[]>();
  for (const iface of grantableInterfaces) {
    const [pkg, name] = iface.split('/') as [string, string];
    byPackage.set(pkg, [...(byPackage.get(pkg) ?? []), name]);
  }
  // Tutti's own interfaces first: they are what a typed task is built against.
  const ordered = [...byPackage].filter(([p]) => p.startsWith('tutti:')).concat([...byPackage].filter(([p]) => !p.startsWith('tutti:')));
  return ordered.map(([pkg, names]) => `${pkg}/{${names.join(', ')}}`).join(', ');
}

/** Decide the contract from what jco saw the component import and export, and its WIT signatures. */
export function classify(imports: string[], exports: [string, string][], wit: string, digest: string, size: number, manifest: ScalingManifest | null = null): ComponentInfo {
  // jco lists a command's wasi:cli/run instance twice (also as plain "run"); keep the real name.
  const hasCliRun = exports.some(([n]) => stripVersion(n) === 'wasi:cli/run');
  const exportNames = exports.map(([n]) => n).filter((n) => !(hasCliRun && n === 'run'));
  const isCommand = exportNames.some((n) => stripVersion(n) === 'wasi:cli/run');
  const runFn = exports.some(([n, kind]) => n === 'run' && kind === 'function');
  const planFn = exports.some(([n, kind]) => n === 'plan' && kind === 'function');
  // jco's names carry no version; the WIT's do, and say more, so they win.
  const declared = new Map<string, string>();
  for (const i of [...declaredImports(wit), ...imports]) if (!declared.has(stripVersion(i))) declared.set(stripVersion(i), i);
  const unsupported = [...declared].filter(([bare]) => !grantableInterfaces.includes(bare)).map(([, i]) => i);
  if (unsupported.length) {
    const names = unsupported.length === 1 ? unsupported[0]! : `${unsupported.slice(0, -1).join(', ')} and ${unsupported[unsupported.length - 1]}`;
    throw new ComponentRejected(
      'unsupported-import',
      `the component imports ${names}, which Tutti cannot provide (a task may import only: ${describeGrantable()}). ` +
        'Drop the import from its world: build against wit/task.wit (world task or planned-task), or as a wasi:cli/command program.',
    );
  }
  const signatures = exportedSignatures(wit);
  for (const name of ['run', 'plan'] as const) {
    const got = signatures.get(name);
    if (got !== undefined && got !== EXPECTED_SIGNATURES[name] && !isCommand) {
      throw new ComponentRejected(
        'no-contract',
        `the component exports \`${name}: ${got}\`, but the tutti:task world needs \`${name}: ${EXPECTED_SIGNATURES[name]}\` (see wit/task.wit)`,
      );
    }
  }
  if (!isCommand && !runFn) {
    throw new ComponentRejected(
      'no-contract',
      'the component satisfies no task contract: it must export wasi:cli/run (a wasi:cli/command program) or a ' +
        '`run` function of the tutti:task/task world (see wit/task.wit). ' +
        `It exports: ${exportNames.length ? exportNames.join(', ') : 'nothing'}.`,
    );
  }
  return {
    digest,
    size,
    contract: runFn ? 'task' : 'command',
    hasPlan: runFn && planFn,
    manifest,
    imports: imports.map(stripVersion).sort(),
    exports: exportNames.sort(),
  };
}

/** Transpiled components on disk under `dir/<digest>/`, and their compiled core modules in memory. */
export class ComponentCache {
  private readonly prepared = new Map<string, Promise<PreparedComponent>>();

  constructor(readonly dir: string) {}

  /** Validate, transpile (once per digest, ever) and compile (once per process) a component. */
  prepare(bytes: Uint8Array): Promise<PreparedComponent> {
    const digest = sha256(bytes);
    let p = this.prepared.get(digest);
    if (!p) {
      p = this.load(bytes, digest);
      this.prepared.set(digest, p);
      p.catch(() => this.prepared.delete(digest));
    }
    return p;
  }

  private async load(bytes: Uint8Array, digest: string): Promise<PreparedComponent> {
    checkHeader(bytes);
    const outDir = path.join(this.dir, `${digest}.v${TRANSPILE_FORMAT}`);
    let meta: { info: ComponentInfo; files: string[] };
    try {
      meta = JSON.parse(await readFile(path.join(outDir, 'meta.json'), 'utf8'));
    } catch {
      meta = await this.transpile(bytes, digest, outDir);
    }
    const coreBytes = new Map<string, Uint8Array>();
    for (const f of meta.files.filter((f) => f.endsWith('.wasm'))) coreBytes.set(f, await readFile(path.join(outDir, f)));
    const compiled = new Map<number, Promise<CompiledModules>>();
    const compile = (memoryBytes: number): Promise<CompiledModules> => {
      let p = compiled.get(memoryBytes);
      if (!p) {
        p = (async () => {
          const modules: Record<string, WebAssembly.Module> = {};
          for (const [f, bytes] of coreBytes) modules[f] = await WebAssembly.compile(capMemory(bytes, memoryBytes));
          return { key: `${digest}:${memoryBytes}`, modules };
        })();
        compiled.set(memoryBytes, p);
        p.catch(() => compiled.delete(memoryBytes));
      }
      return p;
    };
    return { info: meta.info, moduleUrl: new URL(`file://${path.join(outDir, 'component.js')}`).href, compile };
  }

  private async transpile(bytes: Uint8Array, digest: string, outDir: string) {
    // jco 1.10: the bindings of later versions carry component-model-async machinery that triples
    // the cost of every instantiation (~4.7 ms against ~1.4 ms for a small C command).
    const { transpile, componentWit } = await import('jco-1-10');
    let out: { files: Record<string, Uint8Array>; imports: string[]; exports: [string, string][] };
    try {
      out = (await transpile(bytes, {
        name: 'component',
        instantiation: 'async',
        noTypescript: true,
        nodejsCompat: false,
        base64Cutoff: 0,
        validLiftingOptimization: true,
      })) as typeof out;
    } catch (e) {
      throw new ComponentRejected('invalid-component', `jco cannot transpile this component: ${String((e as Error).message ?? e).split('\n')[0]}`);
    }
    let manifest: ScalingManifest | null;
    try {
      manifest = readManifest(bytes);
    } catch (e) {
      throw new ComponentRejected('invalid-manifest', (e as Error).message);
    }
    const info = classify(out.imports, out.exports, await componentWit(bytes), digest, bytes.length, manifest);
    // Write to a temporary directory and rename, so a crash never leaves a half-written cache entry.
    const tmp = `${outDir}.tmp-${process.pid}-${Date.now()}`;
    await mkdir(tmp, { recursive: true });
    const files = Object.keys(out.files).filter((f) => !f.endsWith('.d.ts'));
    await Promise.all(files.map((f) => writeFile(path.join(tmp, f), out.files[f]!)));
    // The transpiled module is ESM; a package.json makes Node treat it so wherever the cache lives.
    await writeFile(path.join(tmp, 'package.json'), '{"type":"module"}');
    const meta = { info, files };
    await writeFile(path.join(tmp, 'meta.json'), JSON.stringify(meta));
    await rename(tmp, outDir).catch(async (e) => {
      // Another process won the race: its entry is as good as ours.
      await rm(tmp, { recursive: true, force: true });
      if ((e as NodeJS.ErrnoException).code !== 'ENOTEMPTY' && (e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    });
    return meta;
  }
}
