/** `tutti new task NAME --lang L`: a buildable task project from templates/<lang>/, with NAME substituted. */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../paths.js';
import { UsageError } from '../errors.js';

interface Language {
  template: string;
  summary: string;
  /** Built from source by Tutti's own tests; the others have no reachable toolchain in CI. */
  builtInCi: boolean;
  /** The command that builds the scaffolded project, run inside it. */
  build: string;
  /** Shared files the template needs, copied from the repository: `[from, to]`. */
  extras: [string, string][];
}

const WIT: [string, string] = ['wit/task.wit', 'wit/task.wit'];
const TUTTI_H: [string, string] = ['guest/c/tutti.h', 'tutti.h'];

export const LANGUAGES: Record<string, Language> = {
  ts: { template: 'ts', summary: 'TypeScript, typed world with plan (componentize-js)', builtInCi: true, build: 'node build.mjs', extras: [WIT] },
  c: { template: 'c', summary: 'C, wasi:cli/command (clang + wasi-libc)', builtInCi: true, build: 'sh build.sh', extras: [] },
  'c-typed': { template: 'c-typed', summary: 'C, typed world with plan (clang + guest/c/tutti.h)', builtInCi: true, build: 'sh build.sh', extras: [TUTTI_H] },
  assemblyscript: { template: 'assemblyscript', summary: 'AssemblyScript, wasi:cli/command (asc + wasi-shim)', builtInCi: true, build: 'sh build.sh', extras: [] },
  rust: { template: 'rust', summary: 'Rust, wasi:cli/command (rustc, std only)', builtInCi: true, build: 'sh build.sh', extras: [] },
  go: { template: 'go', summary: 'Go, wasi:cli/command (Go 1.21+ GOOS=wasip1, std only)', builtInCi: true, build: 'sh build.sh', extras: [] },
  cpp: { template: 'cpp', summary: 'C++, wasi:cli/command (clang++ + libc++)', builtInCi: true, build: 'sh build.sh', extras: [] },
  'rust-cargo-component': { template: 'rust-cargo-component', summary: 'Rust, typed world with plan (cargo component)', builtInCi: false, build: 'sh build.sh', extras: [WIT] },
  'go-tinygo': { template: 'go-tinygo', summary: 'Go, wasi:cli/command (TinyGo wasip2; TinyGo is not in Debian)', builtInCi: false, build: 'sh build.sh', extras: [] },
  'python-componentize-py': { template: 'python-componentize-py', summary: 'Python, typed world (componentize-py)', builtInCi: false, build: 'sh build.sh', extras: [WIT] },
};

const ALIASES: Record<string, string> = { js: 'ts', typescript: 'ts', javascript: 'ts', as: 'assemblyscript', 'c-command': 'c', golang: 'go', 'c++': 'cpp' };

// A task name doubles as the flow id and task id of the sample flow, so it follows their rule.
const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export function languageList(): string {
  return Object.entries(LANGUAGES)
    .map(([name, l]) => `  ${name.padEnd(24)}${l.summary}${l.builtInCi ? '' : ' — not built in CI'}`)
    .join('\n');
}

function filesUnder(dir: string, rel = ''): string[] {
  return readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(dir, path.join(rel, e.name)) : [path.join(rel, e.name)],
  );
}

export function newTaskCommand(target: string, opts: { lang?: string }): number {
  const asked = opts.lang?.toLowerCase();
  const langName = asked === undefined ? undefined : (ALIASES[asked] ?? asked);
  const lang = langName === undefined ? undefined : LANGUAGES[langName];
  if (!lang) {
    const why = asked === undefined ? 'choose a language with --lang' : `unknown language "${opts.lang}"`;
    throw new UsageError(`${why}; one of:\n${languageList()}\n(aliases: ${Object.entries(ALIASES).map(([a, l]) => `${a} → ${l}`).join(', ')})`);
  }
  const dir = path.resolve(target);
  const name = path.basename(dir);
  if (!NAME.test(name)) {
    throw new UsageError(`task name "${name}" must be 1-63 characters of a-z, 0-9, "_" or "-", starting with a letter or digit`);
  }
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new UsageError(`${target} exists and is not a directory`);
    if (readdirSync(dir).length > 0) throw new UsageError(`${target} already exists and is not empty; choose another name or remove it`);
  }

  const templateDir = path.join(packageRoot, 'templates', lang.template);
  const written: string[] = [];
  const put = (rel: string, text: string, mode?: number) => {
    const out = path.join(dir, rel);
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, text);
    if (mode) chmodSync(out, mode);
    written.push(rel);
  };
  for (const rel of filesUnder(templateDir)) {
    const text = readFileSync(path.join(templateDir, rel), 'utf8').replaceAll('__NAME__', name);
    put(rel, text, rel.endsWith('.sh') ? 0o755 : undefined);
  }
  for (const [from, to] of lang.extras) {
    mkdirSync(path.dirname(path.join(dir, to)), { recursive: true });
    copyFileSync(path.join(packageRoot, from), path.join(dir, to));
    written.push(to);
  }

  const shown = path.relative(process.cwd(), dir) || '.';
  process.stdout.write(
    [
      `created ${shown}/ (${langName}${lang.builtInCi ? '' : ', not built in Tutti CI'}): ${written.sort().join(', ')}`,
      'next:',
      `  cd ${shown}`,
      `  ${lang.build}`,
      `  npx tutti run flow.yaml --input text=sample.txt`,
      '',
    ].join('\n'),
  );
  return 0;
}
