import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { FlowError, flowJsonSchema, loadFlowFile, parseFlow, topologicalOrder } from '../src/flow/index.js';
import { packageRoot } from '../src/paths.js';
import { tempDir } from './helpers.js';

function issuesOf(yaml: string, baseDir?: string) {
  try {
    parseFlow(yaml, 'flow.yaml', baseDir);
  } catch (e) {
    assert.ok(e instanceof FlowError, `expected a FlowError, got ${e}`);
    return { error: e, issues: e.issues };
  }
  assert.fail('the flow was accepted');
}

describe('flow files', () => {
  it('parses a valid flow and applies defaults and units', () => {
    const { flow } = parseFlow(
      `id: wc
inputs:
  text: { type: asset }
tasks:
  - id: count
    component: count@1.0.0
    inputs: [text]
    timeout: 1m
    memory: 64MiB
    retry: { attempts: 3, delay: 250ms }
  - id: total
    component: sum@1.0.0
    needs: [count]
`,
    );
    const count = flow.tasks[0]!;
    assert.equal(count.timeout, 60_000);
    assert.equal(count.memory, 64 * 1024 * 1024);
    assert.deepEqual(count.retry, { attempts: 3, backoff: 'exponential', delay: 250, maxDelay: 300_000 });
    assert.deepEqual(flow.tasks[1]!.retry.attempts, 1);
    assert.deepEqual(topologicalOrder(flow), ['count', 'total']);
  });

  it('names an unknown task in needs, with its line', () => {
    const { error, issues } = issuesOf(`id: f
tasks:
  - id: a
    component: a@1
  - id: b
    component: b@1
    needs: [a, nope]
`);
    assert.equal(issues.length, 1);
    assert.deepEqual(issues[0]!.path, ['tasks', 1, 'needs', 1]);
    assert.match(issues[0]!.message, /unknown task "nope" in needs; tasks are: a, b/);
    assert.equal(issues[0]!.line, 7);
    assert.match(error.message, /^flow\.yaml:7:\d+ tasks\[1\]\.needs\[1\]: unknown task "nope"/);
  });

  it('reports a cycle with its members', () => {
    const { issues } = issuesOf(`id: f
tasks:
  - { id: a, component: a@1, needs: [c] }
  - { id: b, component: b@1, needs: [a] }
  - { id: c, component: c@1, needs: [b] }
  - { id: d, component: d@1 }
`);
    assert.equal(issues.length, 1);
    assert.match(issues[0]!.message, /^cycle between tasks: (a -> c -> b -> a|a -> b -> c -> a|c -> b -> a -> c)$/);
  });

  it('reports a task that needs itself', () => {
    const { issues } = issuesOf(`id: f\ntasks:\n  - { id: a, component: a@1, needs: [a] }\n`);
    assert.match(issues[0]!.message, /task "a" needs itself/);
  });

  it('reports a missing component file with the resolved path', () => {
    const dir = tempDir();
    const { issues } = issuesOf(`id: f\ntasks:\n  - id: a\n    component: ./nowhere/x.wasm\n`, dir);
    assert.deepEqual(issues[0]!.path, ['tasks', 0, 'component']);
    assert.equal(issues[0]!.message, `component file not found: ${path.join(dir, 'nowhere/x.wasm')}`);
    assert.equal(issues[0]!.line, 4);
  });

  it('reports a bad duration and a bad size', () => {
    const { issues } = issuesOf(`id: f\ntasks:\n  - id: a\n    component: a@1\n    timeout: 10 parsecs\n    memory: lots\n`);
    assert.equal(issues.length, 2);
    const byField = Object.fromEntries(issues.map((i) => [i.path.at(-1), i]));
    assert.match(byField.timeout!.message, /bad duration "10 parsecs"/);
    assert.equal(byField.timeout!.line, 5);
    assert.match(byField.memory!.message, /bad size "lots"/);
  });

  it('reports unknown fields, missing fields and wrong types together', () => {
    const { issues } = issuesOf(`id: f\ntasks:\n  - id: a\n    componnet: a@1\n    retry: { attempts: zero }\n`);
    const messages = issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    assert.ok(messages.some((m) => /^tasks\.0: unknown field "componnet"/.test(m)), messages.join('\n'));
    assert.ok(messages.some((m) => /^tasks\.0\.component: required field is missing/.test(m)), messages.join('\n'));
    assert.ok(messages.some((m) => /^tasks\.0\.retry\.attempts: /.test(m)), messages.join('\n'));
  });

  it('reports duplicate ids, unknown inputs and bad ids', () => {
    const { issues } = issuesOf(`id: f\ninputs: { text: {} }\ntasks:\n  - { id: a, component: a@1, inputs: [txt] }\n  - { id: a, component: a@1 }\n`);
    const messages = issues.map((i) => i.message);
    assert.ok(messages.some((m) => /duplicate task id "a"/.test(m)));
    assert.ok(messages.some((m) => /unknown flow input "txt"; inputs are: text/.test(m)));
    const bad = issuesOf(`id: "Bad Id"\ntasks:\n  - { id: a, component: a@1 }\n`);
    assert.deepEqual(bad.issues[0]!.path, ['id']);
    assert.match(bad.issues[0]!.message, /must be 1-63 characters/);
  });

  it('reports invalid YAML with its line', () => {
    const { issues } = issuesOf(`id: f\ntasks:\n  - id: a\n   component: [\n`);
    assert.match(issues[0]!.message, /^invalid YAML/);
    assert.ok(issues[0]!.line! >= 3);
  });

  it('rejects a component reference that is neither a path nor name@version', () => {
    const { issues } = issuesOf(`id: f\ntasks:\n  - { id: a, component: justaname }\n`, tempDir());
    assert.match(issues[0]!.message, /"justaname" is neither a \.wasm path nor name@version/);
  });

  it('reports an unreadable flow file by name', () => {
    assert.throws(() => loadFlowFile('/nonexistent/flow.yaml'), /\/nonexistent\/flow\.yaml: cannot read flow file: ENOENT/);
  });

  it('accepts JSON, resolves component paths against the flow file', () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'c'));
    writeFileSync(path.join(dir, 'c', 'x.wasm'), 'not checked here');
    writeFileSync(path.join(dir, 'f.json'), JSON.stringify({ id: 'j', tasks: [{ id: 'a', component: './c/x.wasm' }] }));
    const parsed = loadFlowFile(path.join(dir, 'f.json'));
    assert.equal(parsed.baseDir, dir);
  });

  it('exports a JSON Schema generated from the zod schema', () => {
    const schema = flowJsonSchema() as { properties: Record<string, unknown>; required: string[] };
    assert.ok(schema.properties.tasks);
    assert.deepEqual([...schema.required].sort(), ['id', 'tasks']);
  });

  it('ships the same JSON Schema in schema/flow.schema.json (regenerate with `tutti schema`)', () => {
    const shipped = JSON.parse(readFileSync(path.join(packageRoot, 'schema/flow.schema.json'), 'utf8'));
    assert.deepEqual(shipped, flowJsonSchema());
  });
});
