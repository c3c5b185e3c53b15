import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { FlowError, flowJsonSchema, loadFlowFile, parseDuration, parseFlow, parseSize, topologicalOrder } from '../src/flow/index.js';
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

  it('refuses durations a timer cannot wait and sizes the runtime cannot hold, naming the field and its line', () => {
    const task = (field: string, value: string) => `id: f\ntasks:\n  - id: a\n    component: a@1\n    ${field}: ${value}\n`;
    const tooLong = /^duration .* is too long: at most 2147483647 ms \(24\.8 days\), the longest a timer can wait$/;
    const cases: [field: string, value: string, message: RegExp][] = [
      ['timeout', '25d', tooLong],
      ['timeout', '1e20', tooLong],
      ['timeout', '9999999999999999999d', tooLong],
      ['timeout', `"${'9'.repeat(30)}d"`, tooLong],
      ['timeout', '.inf', /^duration Infinity is too long/],
      ['timeout', '0', /^duration 0 is too short: at least 1 ms$/],
      ['timeout', '0.1ms', /is too short: at least 1 ms$/],
      ['timeout', '1e20ms', /^bad duration "1e20ms"/],
      ['timeout', '-5', /^bad duration -5/],
      ['timeout', '"-5s"', /^bad duration "-5s"/],
      ['timeout', '.nan', /^bad duration NaN/],
      ['timeout', `"${'1'.repeat(100_000)}x"`, /^bad duration "1{40}…": /],
      ['retry', '{ attempts: 2, delay: 30d }', tooLong],
      ['retry', '{ attempts: 2, maxDelay: 1e12 }', tooLong],
      ['memory', '5GiB', /^size "5GiB" is too large: at most 4GiB \(4294967296 bytes\); a 32-bit wasm memory holds no more$/],
      ['memory', '1e30', /^size 1e\+30 is too large: at most 4GiB/],
      ['memory', '1e30GiB', /^bad size "1e30GiB"/],
      ['memory', '99999999999999999999GiB', /is too large: at most 4GiB/],
      ['outputLimit', '9007199254740993', /^size 9007199254740992 is too large: at most 9007199254740991 bytes; byte counts are exact only up to it$/],
      ['outputLimit', '.inf', /^size Infinity is too large/],
      ['outputLimit', '9000000GiB', /is too large: at most 9007199254740991 bytes/],
      ['logLimit', '1GiB', /^size "1GiB" is too large: at most 64MiB \(67108864 bytes\); a log is held whole in memory/],
    ];
    for (const [field, value, message] of cases) {
      const started = performance.now();
      const { error, issues } = issuesOf(task(field, value));
      assert.ok(performance.now() - started < 500, `${field}: ${value.slice(0, 40)} took ${performance.now() - started} ms`);
      assert.equal(issues.length, 1, `${field}: ${value.slice(0, 40)}: ${error.message}`);
      assert.equal(issues[0]!.path[2], field, error.message);
      assert.match(issues[0]!.message, message, `${field}: ${value.slice(0, 40)}`);
      assert.equal(issues[0]!.line, 5, error.message);
      assert.match(error.message, new RegExp(`^flow\\.yaml:5:\\d+ tasks\\[0\\]\\.${field}(\\.\\w+)?: `));
    }
    // The largest of each still parse, to the unit.
    const { flow } = parseFlow(task('timeout', '2147483647ms') + '    retry: { delay: 24d, maxDelay: 24d }\n    memory: 4GiB\n    logLimit: 64MiB\n    outputLimit: 9007199254740991\n');
    const t = flow.tasks[0]!;
    assert.deepEqual([t.timeout, t.retry.delay, t.retry.maxDelay, t.memory, t.logLimit, t.outputLimit], [2 ** 31 - 1, 24 * 86_400_000, 24 * 86_400_000, 4 * 2 ** 30, 64 * 2 ** 20, 2 ** 53 - 1]);
    assert.equal(parseFlow(task('timeout', '1.5')).flow.tasks[0]!.timeout, 2, 'whole milliseconds');
  });

  it('parses durations and sizes given on the command line within the same bounds', () => {
    assert.equal(parseDuration('24d'), 24 * 86_400_000);
    for (const v of ['25d', '1e999', 1e20, Infinity, NaN, -1, '9'.repeat(400) + 'd']) assert.equal(parseDuration(v), null, String(v).slice(0, 20));
    assert.equal(parseSize('8GiB'), 8 * 2 ** 30);
    for (const v of [2 ** 53, 1e30, Infinity, -1, 1.5, '9'.repeat(400)]) assert.equal(parseSize(v), null, String(v).slice(0, 20));
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
