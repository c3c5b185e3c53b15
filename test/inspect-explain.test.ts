/** `tutti inspect` says why a .wasm is not a task, for each way it can fail, and how to fix a core module. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { componentEmbed, componentNew, parse } from '@bytecodealliance/jco';
import { packageRoot } from '../src/paths.js';
import { module, tempDir } from './helpers.js';
import { startServer, type Server } from './server.js';

const home = tempDir('tutti-inspect-');
function inspect(file: string, ...args: string[]) {
  const res = spawnSync(process.execPath, [path.join(packageRoot, 'bin', 'tutti.mjs'), 'inspect', file, '--home', home, ...args], { encoding: 'utf8' });
  return { status: res.status, out: res.stdout + res.stderr };
}

/**
 * A typed task (world tutti:task/task) in a hand-written core module, made a component with jco's
 * embed + new, as a C or Rust toolchain would. With `withDb` its world also imports `acme:db/query`
 * and `run` calls `get` from it, so the import is a real, used one.
 */
async function typedTask(withDb: boolean): Promise<Uint8Array> {
  const taskWit = readFileSync(path.join(packageRoot, 'wit', 'task.wit'), 'utf8').replace(/^package [^;]+;$/m, '');
  const witSource = `package acme:jobs;

${withDb ? 'package acme:db {\n  interface query {\n    get: func(key: string) -> string;\n  }\n}\n' : ''}
world db-task {
  ${withDb ? 'import acme:db/query;' : ''}
  include tutti:task/task@0.1.0;
}

package tutti:task@0.1.0 {
${taskWit}
}
`;
  // Canonical ABI: `run` takes partition (4 flat values), inputs and params (2 each) and returns a
  // pointer to its result<_, task-error>, here ok (tag 0 at address 0). `get` takes the key's
  // (ptr, len) and a pointer where it writes the returned string.
  const core = await parse(`(module
    ${withDb ? '(import "acme:db/query" "get" (func $get (param i32 i32 i32)))' : ''}
    (memory (export "memory") 1)
    (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) i32.const 1024)
    (func (export "run") (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
      ${withDb ? 'i32.const 0 i32.const 0 i32.const 64 call $get' : ''}
      i32.const 0 i32.const 0 i32.store8
      i32.const 0))`);
  return componentNew(await componentEmbed({ binary: core, witSource, world: 'db-task' }));
}

/**
 * A wasi:cli/command component written directly, so it can declare `acme:db/query` without calling
 * it (no core module lowers it): jco's transpile drops such an import from the list it returns,
 * yet a host must still supply it to instantiate the component.
 */
function command(withDb: boolean): Promise<Uint8Array> {
  return parse(`(component
    ${withDb ? '(import "acme:db/query" (instance (export "get" (func (param "key" string) (result string)))))' : ''}
    (core module $m (func (export "run") (result i32) i32.const 0))
    (core instance $i (instantiate $m))
    (func $run (result (result)) (canon lift (core func $i "run")))
    (instance $cli (export "run" (func $run)))
    (export "wasi:cli/run@0.2.0" (instance $cli)))`);
}

describe('tutti inspect explains a rejection', () => {
  const files: Record<string, string> = {};
  before(async () => {
    const built = { 'db-task': typedTask(true), 'plain-task': typedTask(false), 'db-command': command(true), 'plain-command': command(false) };
    for (const [name, bytes] of Object.entries(built)) {
      files[name] = path.join(home, `${name}.wasm`);
      writeFileSync(files[name], await bytes);
    }
  });

  it('core module instead of a component: gives the jco new command', () => {
    const r = inspect(module('core-only'));
    assert.equal(r.status, 1);
    assert.match(r.out, /core WebAssembly module, not a component/);
    assert.match(r.out, /npx jco new x\.core\.wasm --wasi-command -o x\.wasm/);
  });

  it('wrong world (no run, no wasi:cli/run): lists what it exports', () => {
    const r = inspect(module('not-a-task'));
    assert.equal(r.status, 1);
    assert.match(r.out, /satisfies no task contract/);
    assert.match(r.out, /It exports: hello\./);
  });

  it('run with the wrong signature: shows the expected one', () => {
    const r = inspect(module('wrong-run'));
    assert.equal(r.status, 1);
    assert.match(r.out, /exports `run: func\(\) -> u32`/);
    assert.match(r.out, /needs `run: func\(partition, list<asset-info>, list<param>\) -> result<_, task-error>`/);
  });

  it('not WebAssembly at all', () => {
    const r = inspect(path.join(packageRoot, 'README.md'));
    assert.equal(r.status, 1);
    assert.match(r.out, /not a WebAssembly binary/);
  });

  it('the same components without the acme:db/query import are valid tasks', () => {
    const task = inspect(files['plain-task']!);
    assert.equal(task.status, 0, task.out);
    assert.match(task.out, /contract: tutti:task\/task\n/);
    const cmd = inspect(files['plain-command']!);
    assert.equal(cmd.status, 0, cmd.out);
    assert.match(cmd.out, /contract: wasi:cli\/command/);
  });

  it('an import Tutti cannot provide (a typed task calling acme:db/query): names it and what a task may import', () => {
    const r = inspect(files['db-task']!);
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /not a valid task\n/);
    assert.match(r.out, /the component imports acme:db\/query, which Tutti cannot provide/);
    assert.match(r.out, /a task may import only: tutti:task\/\{host, types\}, wasi:cli\/\{environment, exit, stdin, stdout, stderr,/);
    assert.match(r.out, /wasi:io\/\{error, poll, streams\}/);
    const json = JSON.parse(inspect(files['db-task']!, '--json').out);
    assert.equal(json.valid, false);
    assert.equal(json.code, 'unsupported-import');
    assert.match(json.error, /imports acme:db\/query,/);
  });

  it('an import declared but never called (a command importing acme:db/query) is refused too', () => {
    const r = inspect(files['db-command']!);
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /the component imports acme:db\/query, which Tutti cannot provide \(a task may import only: tutti:task\//);
  });
});

describe('POST /api/v1/components refuses an import Tutti cannot provide', () => {
  let server: Server;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.stop();
  });

  for (const [name, build] of [
    ['typed task calling it', () => typedTask(true)],
    ['command declaring it', () => command(true)],
  ] as const) {
    it(`${name}: 400 naming acme:db/query`, async () => {
      const res = await server.fetch('/api/v1/components?name=db-task&version=1.0.0', {
        method: 'POST',
        headers: { 'content-type': 'application/wasm' },
        body: await build(),
      });
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(body.error.code, 'invalid_component');
      assert.match(body.error.message, /imports acme:db\/query, which Tutti cannot provide \(a task may import only: tutti:task\/\{host, types\}/);
      const list = await server.json<{ items: unknown[] }>('GET', '/api/v1/components');
      assert.deepEqual(list.body.items, []);
    });
  }

  it('and accepts the same typed task without it', async () => {
    const res = await server.fetch('/api/v1/components?name=plain-task&version=1.0.0', {
      method: 'POST',
      headers: { 'content-type': 'application/wasm' },
      body: await typedTask(false),
    });
    const body = (await res.json()) as { contract?: string };
    assert.equal(res.status, 201, JSON.stringify(body));
    assert.equal(body.contract, 'task');
  });
});
