/**
 * API fuzz, driven by the OpenAPI document: every path and method the server documents gets seeded
 * pseudo-random hostile input, so a new endpoint is covered without an edit here.
 *
 * Two real `tutti serve` children: A with a token and local workers (the fixtures upload components,
 * save flows, run one to the end, fail one, backfill one), B without a token and without local workers
 * (its run's instance is leased by the test, so the remote-worker routes are reached with a live lease).
 * Phases: (1) random cases per operation (hostile path params, boundary numbers in every query param and
 * JSON number field, malformed / truncated / invalid UTF-8 / binary / nested bodies, unicode, wrong or
 * no content type, wrong or no token) plus a deterministic sweep of every query param, path param and
 * JSON number field with each boundary value, plus /healthz, /metrics, /ui, /api/v1/docs and token
 * bypass probes; (2) 100,000-deep JSON and YAML, YAML alias and merge-key bombs and odd YAML, one at a
 * time; (3) bodies over --max-upload, with and without a Content-Length, on every route taking a body.
 *
 * Asserted: no 5xx; every /api/v1 4xx is `{error: {code, message}}` with a JSON content type; no body
 * shows a stack trace, SQL or a host path; no 2xx without the token; 2xx statuses are documented ones;
 * bodies over the limit get 413; requests end in time (SSE and long polls are dropped after a moment,
 * only their status checked) and no heavy one costs the server over 2 s of CPU; the servers never die (a dead one is reported
 * with what was in flight and started again), stay healthy with RSS under 1.5 GiB, log no
 * `internal error` / FATAL, and exit 0 on SIGTERM. All failures are reported at once, grouped by route
 * and kind, each with a reproducer.
 *
 * Deterministic per seed (every request is generated before any is sent): TUTTI_FUZZ_SEED=n replays
 * one. TUTTI_FUZZ_REPORT=file also writes the report there; TUTTI_FUZZ_TRACE=1 logs every request.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../src/paths.js';
import { module } from './helpers.js';
import { eventually, startServer, type Server } from './server.js';

const SEED = process.env.TUTTI_FUZZ_SEED ? Number(process.env.TUTTI_FUZZ_SEED) >>> 0 : 20260101;
const TOKEN = 'fuzz-token-123';
const CONCURRENCY = 8;
const MAX_UPLOAD = 4 * 2 ** 20;
const RSS_LIMIT = 1.5 * 2 ** 30;
/** Cases per documented operation: server A (token), server B (no token, remote workers). */
const PER_OP_A = 32;
const PER_OP_B = 12;
const REQUEST_MS = 10_000;
const HEAVY_MS = 30_000;
/** SSE and long polls: only the status is checked, then the request is dropped. */
const STREAM_MS = 1_500;
/**
 * Server CPU one heavy request may cost (measured alone, so the machine's load does not count).
 * Not a speed target: it catches work that grows with the square of the input (a 10,000-task flow
 * cost 150 s of planning, a 100,000-deep body seconds of parsing), far above honest work's ~2 s.
 */
const CPU_MS = 8_000;

// ---------------------------------------------------------------------------------------------
// Seeded randomness

function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = mulberry32(SEED);
const int = (n: number) => Math.floor(rnd() * n);
const chance = (p: number) => rnd() < p;
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
const between = (lo: number, hi: number) => lo + int(hi - lo + 1);

// ---------------------------------------------------------------------------------------------
// Hostile values

/** Text a JSON number field gets verbatim (not all are valid JSON numbers: that is the point of some). */
const RAW_NUMBERS = [
  '0', '-0', '1', '-1', '1e999', '-1e999', '1E400', '9007199254740993', '-9007199254740993', '9'.repeat(400), `-${'9'.repeat(400)}`,
  '1.5', '0.0000001', '1e-999', '5e-324', '18446744073709551616', '-9223372036854775809', '2147483648', '4294967296', '1e21', '0.1e1',
];
/** Values that are not numbers where a number belongs. */
const NOT_NUMBERS = ['"NaN"', '"Infinity"', '"-Infinity"', '"1"', '"-0"', '"1e999"', 'null', 'true', 'false', '[]', '{}', '"0x10"', '""'];
/** The same as query or path text (already URL-safe, or deliberately not). */
const NUMBER_TEXT = [
  ...RAW_NUMBERS, 'NaN', 'Infinity', '-Infinity', '0x10', '0b1', '1_000', '%201', '1%20', '+1', '01', '', 'abc', '1e2', '1.0', '%00', '1%00', '-', '.', 'e',
];

const RTL = '\u202eevil\u202c \u05e9\u05dc\u05d5\u05dd \u0627\u0644\u0633\u0644\u0627\u0645';
const EMOJI = '\u{1F600}\u{1F469}\u200d\u{1F467}\u200d\u{1F466}\u{1F3F3}\uFE0F\u200d\u{1F308}';
const ZALGO = 'Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f';
/** Strings for JSON string fields and YAML scalars (none of them contains a pattern the leak checks look for). */
const HOSTILE_STRINGS = [
  '', ' ', 'x', 'nope', '\u0000', 'a\u0000b', RTL, EMOJI, ZALGO, '\ud800', '\udfff', 'a\ud800b', '\ufeff', '\uffff', '\u2028\u2029',
  "'; DROP TABLE runs; --", '" OR 1=1 --', '../../../../etc/passwd', '..\\..\\..\\windows', '%s%n%x', '${7*7}', '{{7*7}}', '<script>alert(1)</script>',
  '__proto__', 'constructor', 'prototype', 'NaN', '-0', '1e999', 'null', 'true', '[]', '{}', '\r\n\r\nHTTP/1.1 200 OK', 'a'.repeat(300), 'x'.repeat(100_000),
  '\t\n\r\u000b\u000c', '\\', '"', "'", '`', '@', 'a@b@c', '@1', 'x@', '*', '?', '#', '&', '=', '%', '%00', '%E0%A4%A', 'A'.repeat(64), 'r-', 'r-x', '0'.repeat(64), 'f'.repeat(65),
];
/** Path segments and query values, as they go on the wire (some are invalid percent-encoding on purpose). */
const RAW_SEGMENTS = [
  '%00', 'a%00b', '..%2F..%2F..%2Fetc%2Fpasswd', '..%2f..%2fpackage.json', '%2e%2e', '..', '%2E', '%E0%A4%A', '%FF', '%C0%AE%C0%AE', '%ED%A0%80', '%', '%%', '%zz', '%2', '%u0041',
  'x'.repeat(4000), encodeURIComponent('\u{1F600}'.repeat(200)), encodeURIComponent(RTL), encodeURIComponent(ZALGO), '%EF%BB%BF', '%20', '+', '%2B', ';', ';x=1', '%3B', '@', 'a@b@c', '%40', 'x@', '@1',
  '__proto__', 'constructor', '-1', '0', '1e999', '9007199254740993', '9'.repeat(400), 'NaN', '1.5', '%0A', '%0D%0A', '%09', '%5C..%5C', '%2F', '~', "'", '%22', '%3Cscript%3E', 'nope', 'x',
];
const CONTENT_TYPES_WRONG = [
  'text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data', 'application/json; charset=utf-16', 'application/yaml', '*/*',
  'application/json, text/plain', ';', 'APPLICATION/JSON', 'application/json;;;', 'application/wasm', 'application/octet-stream', 'text/html', 'image/png',
  'multipart/form-data; boundary=', 'multipart/form-data; boundary="', `application/${'x'.repeat(2000)}`, 'application/json; boundary=x; charset=utf-8',
];

function encodeText(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    // A lone surrogate: as its (invalid) UTF-8 bytes.
    return [...s].map((ch) => (/[\ud800-\udfff]/.test(ch) ? '%ED%A0%80' : encodeURIComponent(ch))).join('');
  }
}

function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = int(256);
  return b;
}
const INVALID_UTF8 = [[0xff], [0xfe, 0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe0, 0xa4], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80], [0xf4, 0x90, 0x80, 0x80]];

const te = new TextEncoder();
const concat = (...parts: (string | Uint8Array | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? te.encode(p) : Uint8Array.from(p))));

// ---------------------------------------------------------------------------------------------
// JSON text with raw (possibly invalid) tokens

class Raw {
  constructor(readonly text: string) {}
}
type J = Raw | string | number | boolean | null | J[] | { [k: string]: J };

function ser(v: J): string {
  if (v instanceof Raw) return v.text;
  if (Array.isArray(v)) return `[${v.map(ser).join(',')}]`;
  if (v !== null && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${ser(x)}`).join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}
/** A plain object that takes "__proto__" as a key like any other. */
const obj = (): { [k: string]: J } => Object.create(null) as { [k: string]: J };

const nested = (depth: number, open = '[', close = ']', inner = '0') => open.repeat(depth) + inner + close.repeat(depth);
const nestedObj = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

// ---------------------------------------------------------------------------------------------
// The OpenAPI document

type Schema = { [k: string]: any };
interface Param {
  name: string;
  in: 'path' | 'query' | 'header';
  schema?: Schema;
  required?: boolean;
}
interface Op {
  method: string;
  template: string; // e.g. /runs/{id}
  params: Param[];
  body?: { required: boolean; content: Record<string, { schema?: Schema }> };
  responses: Record<string, any>;
}

function operations(doc: any): Op[] {
  const ops: Op[] = [];
  for (const [template, item] of Object.entries<any>(doc.paths)) {
    for (const [method, op] of Object.entries<any>(item)) {
      if (!['get', 'post', 'put', 'delete', 'patch'].includes(method)) continue;
      const params = [...(item.parameters ?? []), ...(op.parameters ?? [])] as Param[];
      // Path params the generator leaves out of `parameters` are still in the template.
      for (const m of template.matchAll(/\{(\w+)\}/g)) if (!params.some((p) => p.in === 'path' && p.name === m[1])) params.push({ name: m[1]!, in: 'path', schema: { type: 'string' } });
      ops.push({ method: method.toUpperCase(), template, params, body: op.requestBody, responses: op.responses ?? {} });
    }
  }
  return ops;
}

function deref(doc: any, s: Schema | undefined): Schema {
  let cur = s ?? {};
  for (let i = 0; i < 20 && typeof cur.$ref === 'string'; i++) {
    const parts = (cur.$ref as string).replace(/^#\//, '').split('/');
    cur = parts.reduce((o: any, k) => o?.[k], doc) ?? {};
  }
  return cur;
}
const types = (s: Schema): string[] => (Array.isArray(s.type) ? s.type : s.type ? [s.type] : []);

// ---------------------------------------------------------------------------------------------
// What the fixtures made: real ids, so the fuzz reaches the handlers past their lookups

interface Ctx {
  /** Values by the literal path segment before a param (flows, runs, assets, ...) or by param name. */
  ids: Record<string, string[]>;
  worker: string;
  instanceId: string;
  attempt: number;
  flowIds: string[];
  assetIds: string[];
}

/** Plausible values of a string field, by its name. */
function namedString(name: string, s: Schema, ctx: Ctx): string {
  if (s.enum) return pick(s.enum);
  switch (name) {
    case 'worker':
      return ctx.worker;
    case 'instanceId':
      return ctx.instanceId || 'i_nope';
    case 'sha256':
      return '0'.repeat(64);
    case 'from':
      return pick(['2025-12-31T00:00:00Z', '2026-11-01T00:00:00Z', '1970-01-01T00:00:00Z']);
    case 'to':
      return pick(['2026-01-02T00:00:00Z', '2026-11-02T00:00:00Z', '2025-01-01T00:00:00Z']);
    case 'kind':
      return 'task-error';
    case 'name':
      return pick(['stdout', 'out', 'x']);
  }
  if (s.format === 'date-time') return new Date(Date.UTC(2026, 0, 1)).toISOString();
  if (s.example !== undefined && typeof s.example === 'string') return s.example;
  return pick(['x', 'abc', 'a b', ...ctx.assetIds.slice(0, 1)]);
}

/** A value the schema accepts (as far as a plain walk can tell). */
function generate(doc: any, schema: Schema | undefined, ctx: Ctx, name = '', depth = 0): J {
  const s = deref(doc, schema);
  if (s.const !== undefined) return s.const as J;
  if (s.anyOf || s.oneOf) return generate(doc, pick((s.anyOf ?? s.oneOf) as Schema[]), ctx, name, depth + 1);
  const t = types(s).filter((x) => x !== 'null');
  const type = t.length ? pick(t) : s.properties ? 'object' : s.items ? 'array' : 'string';
  switch (type) {
    case 'object': {
      const o = obj();
      if (depth > 6) return o;
      for (const [k, ps] of Object.entries<Schema>(s.properties ?? {})) {
        if ((s.required ?? []).includes(k) || chance(0.6)) o[k] = generate(doc, ps, ctx, k, depth + 1);
      }
      if (s.additionalProperties && typeof s.additionalProperties === 'object') {
        const keys = name === 'assets' ? ['text'] : name === 'params' ? ['n', 'text', 'x'] : ['k'];
        for (let i = int(3); i > 0; i--) {
          const k = pick(keys);
          o[k] = name === 'assets' && ctx.assetIds.length ? pick(ctx.assetIds) : generate(doc, s.additionalProperties, ctx, k, depth + 1);
        }
      }
      return o;
    }
    case 'array': {
      const n = int(Math.min(3, s.maxItems ?? 3) + 1);
      return Array.from({ length: n }, () => generate(doc, s.items, ctx, name, depth + 1));
    }
    case 'integer':
    case 'number': {
      if (name === 'attempt') return ctx.attempt;
      if (name === 'waitMs') return int(300);
      const lo = typeof s.minimum === 'number' ? s.minimum : 0;
      const hi = typeof s.maximum === 'number' ? Math.min(s.maximum, lo + 1000) : lo + 1000;
      const v = between(Math.ceil(lo), Math.floor(hi));
      return type === 'number' && hi - lo <= 1 ? rnd() * (hi - lo) + lo : v;
    }
    case 'boolean':
      return chance(0.5);
    default:
      return namedString(name, s, ctx);
  }
}

type Leaf = { parent: { [k: string]: J } | J[]; key: string | number; value: J; path: string[] };
function leaves(v: J, out: Leaf[] = [], pathSoFar: string[] = []): Leaf[] {
  if (v instanceof Raw || v === null || typeof v !== 'object') return out;
  for (const [k, x] of Object.entries(v)) {
    const key = Array.isArray(v) ? Number(k) : k;
    out.push({ parent: v, key, value: x, path: [...pathSoFar, k] });
    leaves(x, out, [...pathSoFar, k]);
  }
  return out;
}
const setLeaf = (l: Leaf, v: J) => ((l.parent as any)[l.key] = v);

/** Damage a valid body a little: boundary numbers, wrong types, hostile strings, missing and extra fields. */
function mutate(body: J): { body: J; how: string } {
  const hows: string[] = [];
  let root = body;
  const n = chance(0.15) ? 0 : between(1, 3);
  for (let i = 0; i < n; i++) {
    const ls = leaves(root);
    const numeric = ls.filter((l) => typeof l.value === 'number');
    const strings = ls.filter((l) => typeof l.value === 'string');
    const r = rnd();
    if (r < 0.3 && numeric.length) {
      const l = pick(numeric);
      const raw = chance(0.75) ? pick(RAW_NUMBERS) : pick(NOT_NUMBERS);
      setLeaf(l, new Raw(raw));
      hows.push(`${l.path.join('.')}=${raw.slice(0, 20)}`);
    } else if (r < 0.5 && strings.length) {
      const l = pick(strings);
      setLeaf(l, pick(HOSTILE_STRINGS));
      hows.push(`${l.path.join('.')}=hostile-string`);
    } else if (r < 0.6 && ls.length) {
      const l = pick(ls);
      const v = pick<J>([new Raw(pick(RAW_NUMBERS)), pick(HOSTILE_STRINGS), null, true, [], obj(), [[[]]], new Raw(nested(between(50, 3000)))]);
      setLeaf(l, v);
      hows.push(`${l.path.join('.')}=wrong-type`);
    } else if (r < 0.75 && ls.length) {
      const l = pick(ls);
      if (Array.isArray(l.parent)) l.parent.splice(l.key as number, 1);
      else delete l.parent[l.key as string];
      hows.push(`-${l.path.join('.')}`);
    } else if (r < 0.9) {
      const objs = [root, ...ls.map((l) => l.value)].filter((x): x is { [k: string]: J } => x !== null && typeof x === 'object' && !Array.isArray(x) && !(x instanceof Raw));
      if (objs.length) {
        const o = pick(objs);
        const k = pick(['__proto__', 'constructor', 'extra', '', '\u0000', EMOJI, 'x'.repeat(1000), 'toString']);
        o[k] = pick<J>([1, 'x', null, { polluted: true }, [], new Raw('1e999')]);
        hows.push(`+${JSON.stringify(k).slice(0, 20)}`);
      }
    } else {
      root = pick<J>([[], null, 0, 'x', true, new Raw('1e999'), [root], new Raw('"\\ud800"')]);
      hows.push('root-replaced');
    }
  }
  return { body: root, how: hows.join(',') || 'valid' };
}

// ---------------------------------------------------------------------------------------------
// Flow documents (YAML and JSON) for POST /flows and PUT /flows/{id}

function flowYaml(id: string): { text: string; how: string } {
  const hows: string[] = [];
  const num = (dflt: string) => {
    if (!chance(0.25)) return dflt;
    const v = pick([...RAW_NUMBERS, '.nan', '.inf', '-.inf', '0x10', '0o7', '1_000', '~', 'null', '"1"', '[]', '{}']);
    hows.push(`num=${v.slice(0, 12)}`);
    return v;
  };
  const str = (dflt: string) => {
    if (!chance(0.2)) return dflt;
    hows.push('hostile-string');
    return JSON.stringify(pick(HOSTILE_STRINGS));
  };
  const dur = () => (chance(0.2) ? pick(['1e999s', '-1s', '0s', '9999999999999999999h', '1.5.5s', 's', '""', '99999999999999999999ms', 'NaNs']) : '30s');
  const size = () => (chance(0.2) ? pick(['1e999MiB', '-1MiB', '0', '9'.repeat(400) + 'GiB', 'MiB', '1.5KiB', '"1ZiB"']) : '64MiB');
  const cron = pick(['"0 0 1 1 *"', '"61 * * * *"', '"* * *"', '""', '"0 0 31 2 *"', '"@reboot"', JSON.stringify('*/0 * * * *'), JSON.stringify(RTL)]);
  const task = (tid: string, needs: string[]) =>
    `  - id: ${tid}\n    component: ${pick(['wordcount@1', 'wordcount@1', 'add@1', 'nope@1', '"@"', '"a@b@c"', '"./x.wasm"', '"/etc/passwd"', '""', 'fail@1', 'wordcount', 'nope'])}\n` +
    (needs.length ? `    needs: [${needs.join(', ')}]\n` : '') +
    (chance(0.5) ? `    inputs: [text]\n` : '') +
    (chance(0.3) ? `    timeout: ${dur()}\n` : '') +
    (chance(0.3) ? `    memory: ${size()}\n` : '') +
    (chance(0.3) ? `    retry: { attempts: ${num('2')}, delay: ${dur()} }\n` : '') +
    (chance(0.2) ? `    maxInstances: ${num('4')}\n` : '') +
    (chance(0.2) ? `    concurrency: ${num('2')}\n` : '') +
    (chance(0.2) ? `    planLimit: ${num('100')}\n` : '') +
    (chance(0.2) ? `    params: { k: ${num('1')}, s: ${str('"v"')} }\n` : '') +
    (chance(0.1) ? `    env: { K: ${str('"v"')} }\n` : '');
  let text =
    `id: ${id}\n` +
    `description: ${str('"fuzzed flow"')}\n` +
    `inputs:\n  text: { type: asset${chance(0.3) ? ', required: false' : ''} }\n  n: { type: ${pick(['number', 'number', 'string', 'boolean', 'asset', 'nope'])}, required: false${chance(0.3) ? `, default: ${num('1')}` : ''} }\n` +
    (chance(0.3) ? `concurrency: { max: ${num('2')}, policy: ${pick(['queue', 'skip', 'cancel-oldest', 'nope'])} }\n` : '') +
    (chance(0.3) ? `triggers:\n  - { type: ${pick(['schedule', 'webhook', 'flow', 'asset', 'nope'])}, cron: ${cron}, missed: ${pick(['skip', 'catch-up', 'x'])} }\n` : '') +
    `tasks:\n${task('count', [])}${chance(0.4) ? task('more', chance(0.8) ? ['count'] : ['nope']) : ''}`;
  if (chance(0.15)) {
    const cut = int(text.length);
    text = text.slice(0, cut);
    hows.push(`truncated@${cut}`);
  }
  if (chance(0.1)) {
    text += `${pick(['extra', 'id', 'tasks', '__proto__', '<<'])}: ${pick(['1', '*x', '&x [1]', '!!js/function "x"', '!!binary AAAA', '!!python/object:os.system x', '{ <<: *x }', '!!set { a }'])}\n`;
    hows.push('extra-key');
  }
  return { text, how: hows.join(',') || 'valid' };
}

function flowJson(id: string): { text: string; how: string } {
  const doc = obj();
  doc.id = id;
  doc.inputs = { text: { type: 'asset' } };
  doc.tasks = [{ id: 'count', component: 'wordcount@1', inputs: ['text'] }];
  const m = mutate(doc);
  return { text: ser(m.body), how: `json:${m.how}` };
}

/** Nesting for YAML: flow style (cheap at any depth) and block style (quadratic in size, so shallower). */
const yamlDeep = {
  flowSeq: (d: number) => `id: deep\ntasks: ${'['.repeat(d)}${']'.repeat(d)}\n`,
  flowMap: (d: number) => `id: deep\ntasks: ${'{a: '.repeat(d)}1${'}'.repeat(d)}\n`,
  blockSeq: (d: number) => `id: deep\ntasks:\n${'- '.repeat(d)}x\n`,
  blockMap: (d: number) => `id: deep\ntasks:\n${Array.from({ length: d }, (_, i) => `${' '.repeat(i + 1)}a${i}:`).join('\n')} 1\n`,
  aliasBomb: () => {
    let y = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n';
    const names = 'abcdefghijk';
    for (let i = 1; i < names.length; i++) y += `${names[i]}: &${names[i]} [${Array(9).fill(`*${names[i - 1]}`).join(',')}]\n`;
    return `${y}id: bomb\ndescription: *k\ntasks:\n  - id: t\n    component: wordcount@1\n    params: *k\n`;
  },
  mergeBomb: () => {
    let y = 'x0: &x0 {a: 1, b: 2, c: 3}\n';
    for (let i = 1; i < 30; i++) y += `x${i}: &x${i} {<<: [*x${i - 1}, *x${i - 1}], k${i}: ${i}}\n`;
    return `${y}id: merge\ntasks: *x29\n`;
  },
};

// ---------------------------------------------------------------------------------------------
// Multipart bodies for POST /flows/{id}/runs

function multipart(): { type: string; body: Uint8Array; how: string } {
  const boundary = chance(0.1) ? pick(['', '"', 'x'.repeat(200), '--', EMOJI]) : `fz${int(1e9)}`;
  const hows: string[] = [];
  const parts: Uint8Array[] = [];
  const nParts = int(4);
  for (let i = 0; i < nParts; i++) {
    const name = chance(0.8) ? pick(['text', 'n', 'text', 'x']) : pick(['', '__proto__', '../../x', 'a"b', 'x'.repeat(500), EMOJI]);
    const file = chance(0.5);
    const filename = file ? (chance(0.8) ? 'a.txt' : pick(['../../../etc/passwd', '', 'a\u0000b', 'x'.repeat(1000), RTL])) : undefined;
    const value = file ? (chance(0.7) ? 'some words here\n' : Buffer.from(randomBytes(between(0, 2000)))) : chance(0.6) ? pick(['1', '2.5', '-1']) : pick(NUMBER_TEXT);
    parts.push(
      concat(
        `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${filename !== undefined ? `; filename="${filename}"` : ''}\r\n`,
        file ? 'Content-Type: text/plain\r\n' : '',
        '\r\n',
        typeof value === 'string' ? value : value,
        '\r\n',
      ),
    );
  }
  let body = concat(...parts, chance(0.85) ? `--${boundary}--\r\n` : '');
  if (chance(0.15)) {
    body = body.subarray(0, int(body.length + 1));
    hows.push('truncated');
  }
  if (chance(0.05)) {
    body = concat(body, INVALID_UTF8.flat());
    hows.push('junk-tail');
  }
  const type = chance(0.9) ? `multipart/form-data; boundary=${boundary}` : pick(['multipart/form-data', 'multipart/form-data; boundary=other', 'multipart/mixed; boundary=' + boundary]);
  return { type, body, how: `multipart:${nParts}parts${hows.length ? `,${hows.join(',')}` : ''}` };
}

// ---------------------------------------------------------------------------------------------
// Wasm bodies for POST /components

const WASM: Record<string, Uint8Array> = {};
function wasmBody(): { body: Uint8Array; how: string } {
  const name = pick(['wordcount', 'add', 'core-only', 'not-a-task', 'wrong-run', 'fail']);
  const bytes = (WASM[name] ??= new Uint8Array(readFileSync(module(name))));
  const r = rnd();
  if (r < 0.2) return { body: bytes, how: `${name}.wasm` };
  if (r < 0.45) {
    const b = Uint8Array.from(bytes);
    const flips = between(1, 8);
    for (let i = 0; i < flips; i++) b[int(b.length)] = int(256);
    return { body: b, how: `${name}.wasm with ${flips} random bytes` };
  }
  if (r < 0.65) {
    const cut = int(bytes.length);
    return { body: bytes.subarray(0, cut), how: `${name}.wasm truncated at ${cut}` };
  }
  if (r < 0.8) return { body: concat([0, 0x61, 0x73, 0x6d], pick([[1, 0, 0, 0], [0x0d, 0, 1, 0], [0xff, 0xff, 0xff, 0xff]]), randomBytes(between(0, 500))), how: 'wasm magic + junk' };
  return { body: randomBytes(between(0, 3000)), how: 'binary junk' };
}

// ---------------------------------------------------------------------------------------------
// Requests and their checks

type Body = Uint8Array | string | (() => ReadableStream<Uint8Array>);
interface Case {
  server: 'A' | 'B';
  /** Where failures are grouped: "METHOD /template". */
  route: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Body;
  /** What the body is, for the report. */
  how: string;
  /** 'token': the right bearer token (server A); 'none' / 'bad': expect no 2xx. */
  auth: 'token' | 'none' | 'bad' | 'open';
  /** SSE or a long poll: the status is checked, then the request is dropped. */
  stream?: 'sse' | 'longpoll';
  /** The 2xx statuses the document gives the operation (a different 2xx is a finding). */
  documented2xx?: string[];
  timeoutMs?: number;
  /** Statuses that alone are acceptable (e.g. [413] for an oversized body). */
  expect?: { statuses: number[]; kind: string };
}

interface Failure {
  route: string;
  kind: string;
  repro: string;
}

const LEAK_PATTERNS: [string, RegExp][] = [
  ['stack trace', /\n\s+at \S+|\bat (?:async )?[\w$.<>[\] ]*\(?(?:file:\/\/|node:|\/)[^\s)]*:\d+:\d+/],
  ['source position', /\.(?:[cm]?[jt]s|tsx?):\d+(?::\d+)?\b/],
  ['SQL text', /\b(?:SELECT\b[^\n]{0,300}?\bFROM|INSERT\s+INTO|UPDATE\s+[`"\w]+\s+SET|DELETE\s+FROM)\b|SQLITE_[A-Z]+|LibsqlError|Drizzle\w*Error|Failed query|no such (?:table|column)|near "[^"]*": syntax error/],
  // As drizzle writes it: lower case, identifiers quoted.
  ['SQL text', /\b(?:select|insert into|update|delete from)\b[^\n]{0,300}?\b(?:from|into|set|where)\s+"\w+"|\binsert into\s+"\w+"/i],
];

function hostPatterns(servers: Server[]): [string, RegExp][] {
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const paths = new Set([packageRoot, path.dirname(packageRoot), ...servers.map((s) => s.home), path.join(tmpdir(), '/'), '/tmp/', 'node_modules']);
  const home = homedir();
  if (home && home !== '/' && home.length > 4) paths.add(home);
  // A directory, not a prefix of a word: /work must not match "/workers" in a route.
  return [...paths].filter((p) => p && p !== '/').map((p) => ['host path', new RegExp(p.endsWith('/') ? esc(p) : `${esc(p)}(?![\\w.-])`)]);
}

const show = (b: Body | undefined, n = 200): string => {
  if (b === undefined) return '(none)';
  if (typeof b === 'function') return '(streamed, no content-length)';
  const text = typeof b === 'string' ? b : Buffer.from(b.subarray(0, n)).toString('latin1');
  return JSON.stringify(text.slice(0, n)) + ((typeof b === 'string' ? b.length : b.length) > n ? `… (${typeof b === 'string' ? te.encode(b).length : b.length} bytes)` : '');
};

function reproOf(c: Case, outcome: string): string {
  const type = c.headers['content-type'];
  const p = c.path.length > 300 ? `${c.path.slice(0, 300)}…(${c.path.length} chars)` : c.path;
  const auth = c.auth === 'none' ? ', no token' : c.auth === 'bad' ? `, authorization: ${JSON.stringify((c.headers.authorization ?? 'Bearer wrong-token').slice(0, 60))}` : '';
  return `[${c.server}${auth}] ${c.method} ${p}  content-type: ${type === undefined ? '(none)' : JSON.stringify(type.slice(0, 80))}  body: ${show(c.body)}  [${c.how}]\n        → ${outcome}`;
}

async function readSome(res: Response, max: number, deadline?: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const next = reader.read();
      const r = deadline === undefined ? await next : await Promise.race([next, new Promise<'late'>((ok) => setTimeout(() => ok('late'), Math.max(0, deadline - Date.now())))]);
      if (r === 'late' || r.done) break;
      chunks.push(r.value);
      size += r.value.byteLength;
      if (size >= max) break;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).toString('utf8');
}

class Fuzzer {
  readonly failures: Failure[] = [];
  requests = 0;
  private hostLeaks: [string, RegExp][] = [];
  /** Servers that exited under the fuzz, with what was in flight then. */
  readonly deaths: string[] = [];
  /** Every server started, restarts included (their stderr is checked at the end). */
  readonly all: [string, Server][] = [];
  private restarting: Partial<Record<'A' | 'B', Promise<void>>> = {};
  private restarts = { A: 0, B: 0 };
  constructor(
    readonly servers: Record<'A' | 'B', Server>,
    private restart: Record<'A' | 'B', () => Promise<Server>>,
  ) {
    for (const [name, s] of Object.entries(servers) as ['A' | 'B', Server][]) this.watch(name, s);
  }

  private watch(name: 'A' | 'B', s: Server) {
    this.all.push([name, s]);
    this.hostLeaks = hostPatterns(this.all.map(([, x]) => x));
    s.child.once('exit', (code, signal) => {
      if (this.stopping) return;
      const tail = s.stderr().split('\n').slice(-30).join('\n      ');
      this.deaths.push(
        `server ${name} died during the fuzz (exit code ${code}, signal ${signal}); in flight:\n    ${[...this.inFlight].filter((c) => c.server === name).map((c) => reproOf(c, '')).join('\n    ')}\n    its stderr ends:\n      ${tail}`,
      );
    });
  }

  /** A dead server is started again (twice at most), so one crash does not hide the rest. */
  private async revive(name: 'A' | 'B'): Promise<boolean> {
    const dead = (x: Server) => x.child.exitCode !== null || x.child.signalCode !== null;
    if (!dead(this.servers[name])) return true;
    if (!this.restarting[name]) {
      if (this.restarts[name] >= 2) return false;
      this.restarts[name]++;
      this.restarting[name] = this.restart[name]().then(
        (fresh) => {
          this.servers[name] = fresh;
          this.watch(name, fresh);
          this.restarting[name] = undefined;
        },
        () => undefined,
      );
    }
    await this.restarting[name];
    return !dead(this.servers[name]);
  }

  /** Set once the test stops the servers itself. */
  stopping = false;

  fail(route: string, kind: string, repro: string) {
    this.failures.push({ route, kind, repro });
  }

  /** Requests that met a connection error once and were sent again (a keep-alive race, most likely). */
  retried: string[] = [];
  /** What is being sent now, and the highest RSS seen with what was in flight then. */
  private inFlight = new Set<Case>();
  peak = { rss: 0, server: '', during: [] as string[] };

  sample() {
    for (const [name, s] of Object.entries(this.servers)) {
      const rss = rssOf(s.child.pid);
      if (rss > this.peak.rss) this.peak = { rss, server: name, during: [...this.inFlight].map((c) => `${c.method} ${c.path.slice(0, 80)} [${c.how}]`) };
    }
  }

  private async attempt(c: Case): Promise<{ res: Response; text: string; ms: number; bodyError?: string; cpuMs?: number } | { error: string; timedOut: boolean; expected?: boolean }> {
    const server = this.servers[c.server];
    const headers: Record<string, string> = { ...c.headers };
    if (c.auth === 'token') headers.authorization = `Bearer ${TOKEN}`;
    if (c.auth === 'bad' && headers.authorization === undefined) headers.authorization = 'Bearer wrong-token';
    const stopper = new AbortController();
    // A long poll may hold its answer: it is dropped after STREAM_MS, answered or not. An SSE stream
    // answers at once and is read for STREAM_MS.
    const timeoutMs = c.stream === 'longpoll' ? STREAM_MS : (c.timeoutMs ?? REQUEST_MS);
    const timer = setTimeout(() => stopper.abort(new Error('timeout')), timeoutMs + (c.stream === 'sse' ? STREAM_MS : 0));
    const started = Date.now();
    // Heavy cases go one at a time: the server's CPU time across one is that request's cost.
    const cpu0 = c.timeoutMs === HEAVY_MS ? cpuOf(server.child.pid) : undefined;
    const body = typeof c.body === 'function' ? c.body() : c.body;
    let res: Response;
    try {
      res = await fetch(server.url + c.path, { method: c.method, headers, body, signal: stopper.signal, redirect: 'manual', ...(typeof c.body === 'function' ? { duplex: 'half' } : {}) } as RequestInit);
    } catch (e) {
      clearTimeout(timer);
      const err = e as Error & { cause?: Error & { code?: string } };
      if (c.stream === 'longpoll' && stopper.signal.aborted) return { error: '', timedOut: true, expected: true };
      return { error: stopper.signal.aborted ? `no response within ${timeoutMs} ms` : `${err.message}${err.cause ? `: ${err.cause.code ?? ''} ${err.cause.message}` : ''}`, timedOut: stopper.signal.aborted };
    }
    let text = '';
    let bodyError: string | undefined;
    try {
      // Streams: whatever arrives in STREAM_MS, then drop the request.
      text = await readSome(res, 1 << 20, c.stream ? started + STREAM_MS : undefined);
    } catch (e) {
      if (!c.stream) bodyError = stopper.signal.aborted ? `no full body within ${timeoutMs} ms` : (e as Error).message;
    } finally {
      clearTimeout(timer);
      stopper.abort();
    }
    return { res, text, ms: Date.now() - started, bodyError, cpuMs: cpu0 === undefined ? undefined : cpuOf(server.child.pid) - cpu0 };
  }

  /** Requests not sent because their server had died (its death is the finding). */
  skipped = 0;

  async send(c: Case): Promise<void> {
    if (!(await this.revive(c.server))) {
      this.skipped++;
      return;
    }
    this.requests++;
    this.inFlight.add(c);
    const target = this.servers[c.server];
    const died = () => target.child.exitCode !== null || target.child.signalCode !== null;
    let r = await this.attempt(c);
    // Lost with a server that died: the death is the finding, reported with what was in flight.
    await new Promise((ok) => setTimeout(ok, 'error' in r ? 200 : 0));
    if ('error' in r && died()) return void this.inFlight.delete(c);
    if ('error' in r && !r.timedOut) {
      // Sent again once on a new try: a connection the server closed while idle is no finding;
      // failing twice is.
      this.retried.push(`${c.method} ${c.path.slice(0, 80)}: ${r.error}`);
      this.requests++;
      r = await this.attempt(c);
    }
    this.sample();
    this.inFlight.delete(c);
    if ('error' in r) {
      if (r.expected || died()) return;
      this.fail(c.route, r.timedOut ? 'timeout (no response headers)' : 'connection error (twice)', reproOf(c, r.error));
      return;
    }
    if (r.bodyError) this.fail(c.route, r.bodyError.startsWith('no full body') ? 'timeout (body not finished)' : 'body read error', reproOf(c, `status ${r.res.status}, then ${r.bodyError}`));
    if (r.cpuMs !== undefined && r.cpuMs > CPU_MS) {
      this.fail(c.route, `over ${CPU_MS / 1000} s of server CPU for one request`, reproOf(c, `${r.res.status} after ${r.ms} ms, ${r.cpuMs} ms of the server's CPU`));
    }
    this.check(c, r.res, r.text);
    if (process.env.TUTTI_FUZZ_TRACE) {
      const rss = Object.values(this.servers).map((sv) => `${(rssOf(sv.child.pid) / 2 ** 20).toFixed(0)}M`).join('/');
      console.log(`trace ${r.ms} ms${r.cpuMs !== undefined ? ` (cpu ${r.cpuMs} ms)` : ''} ${r.res.status} rss ${rss} ${c.method} ${c.path.slice(0, 80)} [${c.how}]`);
    }
  }

  check(c: Case, res: Response, text: string) {
    const status = res.status;
    const snippet = JSON.stringify(text.slice(0, 200));
    const outcome = `${status} ${res.headers.get('content-type') ?? ''} ${snippet}`;
    const isApi = c.path.startsWith('/api/v1');
    if (status >= 500) this.fail(c.route, `status ${status}`, reproOf(c, outcome));
    if ((c.auth === 'none' || c.auth === 'bad') && status < 300 && (isApi || c.path.startsWith('/metrics'))) this.fail(c.route, 'answered without the right token', reproOf(c, outcome));
    if (c.expect && !c.expect.statuses.includes(status) && status < 500) this.fail(c.route, `${c.expect.kind} (got ${status}, want ${c.expect.statuses.join('/')})`, reproOf(c, outcome));
    if (isApi && status >= 400 && status < 500 && c.method !== 'HEAD') {
      let ok = false;
      try {
        const e = JSON.parse(text) as any;
        ok = typeof e?.error?.code === 'string' && typeof e.error.message === 'string';
      } catch {
        // not JSON
      }
      if (!ok) this.fail(c.route, `error body is not {error:{code,message}} (status ${status})`, reproOf(c, outcome));
      else if (!/^application\/json/.test(res.headers.get('content-type') ?? '')) this.fail(c.route, `error body without a JSON content type (status ${status})`, reproOf(c, outcome));
    }
    // Bytes a client uploaded or a task wrote are not the server's to check, nor static files.
    const type = res.headers.get('content-type') ?? '';
    const opaque = /wasm|octet-stream|javascript|css|image\//.test(type) || c.path.includes('/content') || c.path.startsWith('/ui/') || c.path.startsWith('/api/v1/docs');
    if (!opaque || status >= 400) {
      for (const [kind, re] of [...LEAK_PATTERNS, ...this.hostLeaks]) {
        const m = re.exec(text);
        if (m) this.fail(c.route, `body shows ${kind}`, reproOf(c, `${outcome}\n        (matched ${JSON.stringify(text.slice(Math.max(0, m.index - 60), m.index + 100))})`));
      }
    }
    if (status >= 200 && status < 300 && c.documented2xx && !c.documented2xx.includes(String(status))) {
      this.fail(c.route, `undocumented ${status} (the document has ${c.documented2xx.join(', ') || 'no 2xx'})`, reproOf(c, outcome));
    }
    if (status >= 200 && status < 300 && /^application\/json/.test(type) && c.method !== 'HEAD' && text.length < 1 << 20) {
      try {
        JSON.parse(text);
      } catch {
        this.fail(c.route, 'a 2xx application/json body that is not JSON', reproOf(c, outcome));
      }
    }
    if (c.path.startsWith('/ui/') && status === 200 && /"name":\s*"tutti"|"compilerOptions"|root:x:0:0/.test(text)) this.fail(c.route, 'file outside dashboard/ served', reproOf(c, outcome));
  }

  async runAll(cases: Case[], concurrency = CONCURRENCY) {
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < cases.length) await this.send(cases[next++]!);
      }),
    );
  }

  report(total: number, ms: number, extra: string[]): string {
    const groups = new Map<string, Map<string, string[]>>();
    for (const f of this.failures) {
      const g = groups.get(f.route) ?? new Map<string, string[]>();
      groups.set(f.route, g);
      const list = g.get(f.kind) ?? [];
      g.set(f.kind, list);
      list.push(f.repro);
    }
    const lines = [
      `API fuzz, seed ${SEED} (replay: TUTTI_FUZZ_SEED=${SEED}): ${this.failures.length + extra.length} failure(s) in ${total} requests, ${(ms / 1000).toFixed(1)} s`,
      ...extra.map((e) => `* ${e}`),
    ];
    if (this.skipped) lines.push(`(${this.skipped} request(s) not sent: their server had died too often)`);
    if (this.retried.length) lines.push(`(not failures: ${this.retried.length} request(s) met a connection error once and were sent again, e.g. ${this.retried.slice(0, 3).join('; ')})`);
    for (const [route, kinds] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
      lines.push(`== ${route}`);
      for (const [kind, repros] of kinds) {
        lines.push(`  - ${kind}: ${repros.length}×`);
        // Every distinct 5xx is worth a look; of the rest, a few show the pattern.
        const shown = kind.startsWith('status 5') ? repros.slice(0, 10) : repros.slice(0, 3);
        for (const r of shown) lines.push(`      ${r}`);
        if (repros.length > shown.length) lines.push(`      … and ${repros.length - shown.length} more`);
      }
    }
    return lines.join('\n');
  }
}

// ---------------------------------------------------------------------------------------------
// Case generation

const STREAMING = (template: string): Case['stream'] => (/\/events$/.test(template) ? 'sse' : /^\/workers\/lease$/.test(template) ? 'longpoll' : undefined);

/** Values for one path param: mostly real ids (to get past the lookups), else plausible or hostile. */
function pathValue(op: Op, p: Param, ctx: Ctx): { text: string; hostile: boolean } {
  const segs = op.template.split('/');
  const i = segs.indexOf(`{${p.name}}`);
  const before = segs[i - 1] ?? '';
  // A DELETE gets the ids set aside for it (the fuzz must not delete what the rest of it needs).
  const key = before.startsWith('{') ? p.name : before;
  const real = (op.method === 'DELETE' ? ctx.ids[`${key}:DELETE`] : undefined) ?? ctx.ids[key] ?? ctx.ids[p.name];
  const isInt = types(p.schema ?? {}).some((t) => t === 'integer' || t === 'number');
  const r = rnd();
  if (real?.length && r < 0.5) return { text: encodeText(pick(real)), hostile: false };
  if (r < 0.6) return { text: isInt ? String(between(0, 3)) : pick(['nope', 'x', 'r_x', 'a_x', 'i_x']), hostile: false };
  if (isInt && chance(0.6)) return { text: encodeText(pick(NUMBER_TEXT)), hostile: true };
  return { text: chance(0.6) ? pick(RAW_SEGMENTS) : encodeText(pick(HOSTILE_STRINGS).slice(0, 5000)), hostile: true };
}

function queryValue(p: Param, ctx: Ctx): string {
  const s = p.schema ?? {};
  const isNum = types(s).some((t) => t === 'integer' || t === 'number');
  const r = rnd();
  if (r < 0.35) {
    // In range, or a real value.
    if (isNum) return String(between(typeof s.minimum === 'number' ? s.minimum : 0, Math.min(typeof s.maximum === 'number' ? s.maximum : 100, 100)));
    if (s.enum) return encodeText(pick(s.enum as string[]));
    if (p.name === 'worker') return ctx.worker;
    if (p.name === 'flow') return pick(ctx.flowIds);
    if (p.name === 'cursor') return Buffer.from(JSON.stringify(pick<unknown>([[1767225600000, 'r_x'], [1e999, 'x'], ['1', 2], [], {}, null, [-0, ''], [9007199254740993, 'x']]))).toString('base64url');
    if (p.name === 'state') return pick(['failed,cancelled', 'queued', 'succeeded,,', ',', 'running,running']);
    if (typeof s.example === 'string') return encodeText(s.example);
    return pick(['x', 'a', '']);
  }
  if (isNum || r < 0.6) return encodeText(pick(NUMBER_TEXT)).replace(/%25/g, '%');
  if (r < 0.8) return pick(RAW_SEGMENTS);
  return encodeText(pick(HOSTILE_STRINGS).slice(0, 8000));
}

function buildQuery(op: Op, ctx: Ctx): string {
  const q: string[] = [];
  for (const p of op.params.filter((x) => x.in === 'query')) {
    if (p.required || chance(0.55)) q.push(`${p.name}=${queryValue(p, ctx)}`);
    if (chance(0.05)) q.push(`${p.name}=${queryValue(p, ctx)}`); // twice
    if (chance(0.03)) q.push(p.name); // no '='
    if (chance(0.03)) q.push(`${p.name}[]=1`);
  }
  if (chance(0.1)) q.push(pick(['extra=1', '%00=1', '=x', '&&&', '__proto__[x]=1', `${'k'.repeat(2000)}=v`, '%E0%A4%A=1', 'a=%E0%A4%A', 'constructor=1']));
  return q.length ? `?${q.join('&')}` : chance(0.05) ? '?' : '';
}

function bodyFor(op: Op, doc: any, ctx: Ctx, pathIds: Record<string, string>): { headers: Record<string, string>; body?: Body; how: string } {
  const cts = Object.keys(op.body?.content ?? {});
  const jsonSchema = op.body?.content['application/json']?.schema;
  const isFlow = cts.some((t) => t.includes('yaml'));
  const r = rnd();
  // Body-less operations: mostly none, now and then something anyway.
  if (!op.body) {
    if (op.method === 'GET' || op.method === 'HEAD' || chance(0.6)) return { headers: {}, how: 'no body' };
    if (chance(0.5)) {
      const o = obj();
      o.n = new Raw(pick(RAW_NUMBERS));
      o.s = pick(HOSTILE_STRINGS);
      if (chance(0.3)) o[pick(['text', 'payload'])] = 'hello';
      return { headers: { 'content-type': pick(['application/json', 'application/json', 'text/plain', 'application/octet-stream']) }, body: ser(o), how: 'json object' };
    }
    return junkBody();
  }
  if (r < 0.45) {
    if (isFlow) {
      const id = op.template.includes('{id}') && chance(0.7) ? (pathIds.id ?? 'fz-a') : pick(['fz-a', 'fz-b', 'fz-c', 'Bad Id', '', EMOJI, 'x'.repeat(70)]);
      const f = chance(0.8) ? flowYaml(JSON.stringify(decodeSafe(id))) : flowJson(decodeSafe(id));
      const type = f.how.startsWith('json') ? 'application/json' : pick(cts.filter((t) => t.includes('yaml')));
      return { headers: { 'content-type': type }, body: f.text, how: f.how };
    }
    if (cts.includes('multipart/form-data') && chance(0.4)) {
      const m = multipart();
      return { headers: { 'content-type': m.type }, body: m.body, how: m.how };
    }
    if (cts.includes('application/wasm')) {
      const w = wasmBody();
      return { headers: { 'content-type': pick(['application/wasm', 'application/wasm', 'application/octet-stream']) }, body: w.body, how: w.how };
    }
    if (jsonSchema) {
      const m = mutate(generate(doc, jsonSchema, ctx));
      return { headers: { 'content-type': chance(0.95) ? 'application/json' : 'application/json; charset=utf-8' }, body: ser(m.body), how: `schema:${m.how}` };
    }
    if (cts.includes('application/octet-stream')) return { headers: { 'content-type': 'application/octet-stream' }, body: randomBytes(between(0, 5000)), how: 'octets' };
  }
  if (r < 0.55 && jsonSchema) {
    // Unicode everywhere a string goes.
    const v = generate(doc, jsonSchema, ctx);
    for (const l of leaves(v)) if (typeof l.value === 'string') setLeaf(l, pick([RTL, EMOJI, ZALGO, '\u0000', '\ud800', 'x'.repeat(100_000), '\ufeff' + String(l.value)]));
    return { headers: { 'content-type': 'application/json' }, body: ser(v), how: 'schema with unicode strings' };
  }
  if (r < 0.65) {
    // Valid-looking body under the wrong content type, or none.
    const base = jsonSchema ? ser(generate(doc, jsonSchema, ctx)) : isFlow ? flowYaml('"fz-a"').text : 'hello';
    return chance(0.3) ? { headers: {}, body: base, how: 'no content-type' } : { headers: { 'content-type': pick(CONTENT_TYPES_WRONG) }, body: base, how: 'wrong content-type' };
  }
  if (r < 0.75) {
    const base = jsonSchema ? ser(generate(doc, jsonSchema, ctx)) : isFlow ? flowYaml('"fz-a"').text : '{"params":{"n":1}}';
    const cut = int(base.length);
    return { headers: { 'content-type': pick(cts.length ? cts : ['application/json']) }, body: base.slice(0, cut), how: `truncated at ${cut}` };
  }
  if (r < 0.82) {
    const depth = pick([100, 1000, 5000, 20_000]);
    const text = isFlow && chance(0.5) ? pick([yamlDeep.flowSeq, yamlDeep.flowMap, yamlDeep.blockSeq])(depth) : chance(0.5) ? nested(depth) : `{"params":{"n":${nested(depth)}},"worker":${nestedObj(depth)}}`;
    return { headers: { 'content-type': isFlow && !text.startsWith('{') && !text.startsWith('[') ? 'application/yaml' : 'application/json' }, body: text, how: `nested ${depth}` };
  }
  if (r < 0.9) {
    const t = pick(cts.length ? cts : ['application/json']);
    return { headers: { 'content-type': t.startsWith('multipart') ? 'multipart/form-data; boundary=zz' : t }, body: concat('{"worker":"r-', pick(INVALID_UTF8), '","params":{"n":"', pick(INVALID_UTF8), '"}}'), how: 'invalid UTF-8' };
  }
  if (r < 0.95) return { headers: { 'content-type': pick(cts.length ? cts : ['application/json']) }, body: '', how: 'empty body' };
  return junkBody();
}

function junkBody(): { headers: Record<string, string>; body: Body; how: string } {
  return { headers: chance(0.7) ? { 'content-type': pick(['application/json', 'application/yaml', 'multipart/form-data; boundary=zz', 'application/wasm', 'application/octet-stream', 'text/plain']) } : {}, body: randomBytes(between(1, 4000)), how: 'binary junk' };
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function opCase(server: 'A' | 'B', op: Op, doc: any, ctx: Ctx, auth: Case['auth']): Case {
  const pathIds: Record<string, string> = {};
  let p = op.template;
  let hostile = false;
  for (const prm of op.params.filter((x) => x.in === 'path')) {
    const v = pathValue(op, prm, ctx);
    pathIds[prm.name] = v.text;
    hostile ||= v.hostile;
    p = p.replace(`{${prm.name}}`, v.text);
  }
  const b = bodyFor(op, doc, ctx, pathIds);
  const headers = { ...b.headers };
  for (const prm of op.params.filter((x) => x.in === 'header')) {
    if (chance(0.5)) headers[prm.name] = chance(0.5) ? '0'.repeat(64) : pick(['', 'x', 'F'.repeat(64), '0'.repeat(65), '1e999', EMOJI.replace(/[^\x20-\x7e]/g, '?')]);
  }
  // Now and then a method the route does not have.
  const method = chance(0.03) ? pick(['PATCH', 'OPTIONS', 'HEAD', 'PUT', 'DELETE']) : op.method;
  const route = `${server === 'B' ? '[B] ' : ''}${op.method} /api/v1${op.template}`;
  const body = method === 'GET' || method === 'HEAD' ? undefined : b.body;
  const stream = method === op.method ? STREAMING(op.template) : undefined;
  const documented2xx = method === op.method ? Object.keys(op.responses).filter((k) => /^2/.test(k)) : undefined;
  return { server, route, method, path: `/api/v1${p}${buildQuery(op, ctx)}`, headers, body, how: `${b.how}${hostile ? ', hostile path' : ''}`, auth, stream, documented2xx };
}

/**
 * Bodies over the server's --max-upload (so over every limit it has), with and without a
 * Content-Length, for every operation that takes a body: each must be refused with 413.
 */
function bigCases(server: 'A' | 'B', ops: Op[], ids: (template: string, param: string) => string, extra: Record<string, string> = {}): Case[] {
  const out: Case[] = [];
  for (const op of ops.filter((o) => o.method !== 'GET' && (o.body || /webhook/.test(o.template)))) {
    const cts = Object.keys(op.body?.content ?? { 'application/json': {} });
    const binary = cts.every((t) => /wasm|octet-stream/.test(t));
    const size = MAX_UPLOAD + 3 * 2 ** 20;
    const type = cts.includes('application/json') ? 'application/json' : cts[0]!;
    const route = `${server === 'B' ? '[B] ' : ''}${op.method} /api/v1${op.template}`;
    const query = op.params.filter((x) => x.in === 'query' && x.name === 'worker').map((x) => `?${x.name}=${ids(op.template, x.name)}`).join('');
    const p = `/api/v1${op.template.replace(/\{(\w+)\}/g, (_, n: string) => ids(op.template, n))}${query}`;
    const isYaml = type.includes('yaml');
    const head = binary ? '' : isYaml ? 'id: big\ndescription: "' : `{"worker":"${ids(op.template, 'worker')}","max":1,"waitMs":0,"attempt":1,"log":"`;
    const tail = binary ? '' : isYaml ? '"\n' : '"}';
    const whole = () => concat(head, Buffer.alloc(size - head.length - tail.length, 0x61), tail);
    const want = { statuses: [413], kind: `body over --max-upload (${(size / 2 ** 20).toFixed(0)} MiB > ${MAX_UPLOAD / 2 ** 20} MiB) not refused with 413` };
    const auth = server === 'A' ? 'token' : 'open';
    out.push({ server, route, method: op.method, path: p, headers: { 'content-type': type, ...extra }, body: whole(), how: `oversized ${size} bytes with content-length`, auth, timeoutMs: HEAVY_MS, expect: want });
    out.push({
      server, route, method: op.method, path: p, headers: { 'content-type': type, ...extra }, how: `oversized ${size} bytes streamed (chunked, no content-length)`, auth, timeoutMs: HEAVY_MS, expect: want,
      body: () => {
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        let sent = 0;
        let first = true;
        return new ReadableStream<Uint8Array>({
          pull(ctl) {
            if (first) {
              first = false;
              if (head) return ctl.enqueue(te.encode(head));
            }
            if (sent >= size) {
              if (tail) ctl.enqueue(te.encode(tail));
              sent = -Infinity;
              return ctl.close();
            }
            if (sent < 0) return;
            const n = Math.min(chunk.length, size - sent);
            sent += n;
            ctl.enqueue(chunk.subarray(0, n));
          },
        });
      },
    });
  }
  return out;
}

/** Deep nesting, YAML bombs, for every route taking JSON or YAML. */
function deepCases(ops: Op[], ctx: Ctx): Case[] {
  const out: Case[] = [];
  const D = 100_000;
  // Operations documenting the very same body (POST /flows, PUT /flows/{id}) get these once.
  const seen = new Set<string>();
  for (const op of ops.filter((o) => o.body || /webhook/.test(o.template))) {
    const cts = Object.keys(op.body?.content ?? { 'application/json': {} });
    const same = op.body ? JSON.stringify(op.body.content) : '';
    if (same.includes('yaml') && seen.has(same)) continue;
    seen.add(same);
    const route = `${op.method} /api/v1${op.template}`;
    // The flow each route needs to read the body at all (a webhook needs a webhook trigger, a backfill a schedule).
    const flow = op.template.includes('webhook') ? 'fz-hook' : op.template.includes('backfills') ? 'fz-sched' : ctx.flowIds[0]!;
    const p = `/api/v1${op.template.replace(/\{(\w+)\}/g, (_, n: string) => (n === 'id' && /flows/.test(op.template) ? flow : n === 'id' ? ctx.instanceId || 'x' : 'x'))}`;
    const add = (type: string, body: string, how: string) => out.push({ server: 'A', route, method: op.method, path: p, headers: { 'content-type': type }, body, how, auth: 'token', timeoutMs: HEAVY_MS });
    if (cts.includes('application/json')) {
      add('application/json', nested(D), `${D} nested arrays`);
      add('application/json', nestedObj(D), `${D} nested objects`);
      add('application/json', `{"params":{"n":${nested(D)}},"assets":{"text":${nested(D)}},"worker":${nested(D)},"from":${nested(D)},"leases":${nested(D)}}`, `${D} nested arrays in every field`);
    }
    if (cts.some((t) => t.includes('yaml'))) {
      const id = op.template.includes('{id}') ? ctx.flowIds[0]! : 'deep';
      for (const [name, text] of [
        ['flow sequences', yamlDeep.flowSeq(D)],
        ['flow mappings', yamlDeep.flowMap(D)],
        ['block sequences', yamlDeep.blockSeq(D)],
        ['block mappings (1000)', yamlDeep.blockMap(1000)],
        ['alias bomb (billion laughs)', yamlDeep.aliasBomb()],
        ['merge-key bomb', yamlDeep.mergeBomb()],
      ] as const) {
        add('application/yaml', text.replace(/^id: \w+/m, `id: ${id}`), `YAML ${name}${name.includes('bomb') ? '' : `, depth ${D}`}`);
      }
      for (const [name, text] of YAML_EDGES) add('application/yaml', text.replace(/^id: fz-a/m, `id: ${id}`), `YAML ${name}`);
    }
  }
  return out;
}

/** A body with every field the schema has (one array item, one extra key), numbers where a union allows one. */
function fullBody(doc: any, schema: Schema | undefined, ctx: Ctx, name = '', depth = 0): J {
  const s = deref(doc, schema);
  if (s.const !== undefined) return s.const as J;
  const alts = (s.anyOf ?? s.oneOf) as Schema[] | undefined;
  if (alts) return fullBody(doc, alts.find((a) => types(deref(doc, a)).some((t) => t === 'number' || t === 'integer')) ?? alts[0], ctx, name, depth + 1);
  const t = types(s).filter((x) => x !== 'null');
  const type = t[0] ?? (s.properties ? 'object' : s.items ? 'array' : 'string');
  if (type === 'object') {
    const o = obj();
    if (depth > 6) return o;
    for (const [k, ps] of Object.entries<Schema>(s.properties ?? {})) o[k] = fullBody(doc, ps, ctx, k, depth + 1);
    if (s.additionalProperties && typeof s.additionalProperties === 'object') o[name === 'assets' ? 'text' : 'n'] = name === 'assets' && ctx.assetIds.length ? ctx.assetIds[0]! : fullBody(doc, s.additionalProperties, ctx, 'n', depth + 1);
    return o;
  }
  if (type === 'array') return [fullBody(doc, s.items, ctx, name, depth + 1)];
  if (type === 'integer' || type === 'number') return name === 'attempt' ? ctx.attempt : name === 'waitMs' ? 0 : typeof s.minimum === 'number' ? s.minimum : 1;
  if (type === 'boolean') return true;
  return namedString(name, s, ctx);
}

const SWEEP_NUMBERS = ['1e999', '-1e999', '-0', '9007199254740993', '9'.repeat(400), `-${'9'.repeat(400)}`, '-1', '1.5', '18446744073709551616', '5e-324'];
const SWEEP_QUERY = [...SWEEP_NUMBERS, 'NaN', 'Infinity', '0x10', '', '%00', '%E0%A4%A', encodeText(RTL), 'x'.repeat(4000)];
const SWEEP_SEGMENTS = ['%00', '..%2F..%2F..%2Fetc%2Fpasswd', '%E0%A4%A', '%FF', 'x'.repeat(4000), '1e999', '9'.repeat(400), '-1', '9007199254740993', encodeText(EMOJI)];

/**
 * Not random: every query param, every JSON number field and every path param of every operation
 * gets each boundary value once, the rest of the request real (ids of what the fixtures made).
 */
function sweepCases(server: 'A' | 'B', ops: Op[], doc: any, ctx: Ctx, only: (op: Op) => boolean): Case[] {
  const out: Case[] = [];
  const auth = server === 'A' ? 'token' : 'open';
  for (const op of ops.filter(only)) {
    const route = `${server === 'B' ? '[B] ' : ''}${op.method} /api/v1${op.template}`;
    const real = (name: string) => {
      const segs = op.template.split('/');
      const before = segs[segs.indexOf(`{${name}}`) - 1] ?? '';
      const key = before.startsWith('{') ? name : before;
      const list = (op.method === 'DELETE' ? ctx.ids[`${key}:DELETE`] : undefined) ?? ctx.ids[key] ?? ctx.ids[name] ?? ['x'];
      return encodeText(list[0]!);
    };
    const pathWith = (name?: string, value?: string) => op.template.replace(/\{(\w+)\}/g, (_, n: string) => (n === name ? value! : real(n)));
    const jsonSchema = op.body?.content['application/json']?.schema;
    const base = (): Pick<Case, 'headers' | 'body' | 'how'> => {
      if (jsonSchema) return { headers: { 'content-type': 'application/json' }, body: ser(fullBody(doc, jsonSchema, ctx)), how: 'full body' };
      if (op.body?.content['application/yaml']) return { headers: { 'content-type': 'application/yaml' }, body: MAIN_FLOW.replace('id: fz-main', 'id: fz-sweep'), how: 'a valid flow' };
      return { headers: {}, how: 'no body' };
    };
    const stream = STREAMING(op.template);
    const documented2xx = Object.keys(op.responses).filter((k) => /^2/.test(k));
    const workerQuery = op.params.some((x) => x.in === 'query' && x.name === 'worker') ? `worker=${ctx.worker}` : '';
    for (const prm of op.params.filter((x) => x.in === 'query')) {
      for (const v of SWEEP_QUERY) {
        const others = prm.name === 'worker' ? '' : workerQuery;
        const q = [others, `${prm.name}=${v}`].filter(Boolean).join('&');
        out.push({ server, route, method: op.method, path: `/api/v1${pathWith()}?${q}`, ...base(), how: `query ${prm.name}=${v.slice(0, 20)}`, auth, stream, documented2xx });
      }
    }
    for (const prm of op.params.filter((x) => x.in === 'path')) {
      for (const v of SWEEP_SEGMENTS) {
        out.push({ server, route, method: op.method, path: `/api/v1${pathWith(prm.name, v)}${workerQuery ? `?${workerQuery}` : ''}`, ...base(), how: `path ${prm.name}=${v.slice(0, 20)}`, auth, stream, documented2xx });
      }
    }
    if (jsonSchema) {
      const numeric = leaves(fullBody(doc, jsonSchema, ctx)).filter((l) => typeof l.value === 'number').map((l) => l.path);
      for (const at of numeric) {
        for (const v of [...SWEEP_NUMBERS, '"NaN"', 'null', '"1"']) {
          const body = fullBody(doc, jsonSchema, ctx);
          const leaf = leaves(body).find((l) => l.path.join('.') === at.join('.'))!;
          setLeaf(leaf, new Raw(v));
          out.push({ server, route, method: op.method, path: `/api/v1${pathWith()}${workerQuery ? `?${workerQuery}` : ''}`, headers: { 'content-type': 'application/json' }, body: ser(body), how: `json ${at.join('.')}=${v.slice(0, 20)}`, auth, stream, documented2xx });
        }
      }
    }
  }
  return out;
}

/** Odd YAML and odd flows: for every route taking a flow document. */
const YAML_EDGES: [string, string][] = [
  ['unresolved alias', 'id: fz-a\ntasks: *nope\n'],
  ['unresolved alias in a task', 'id: fz-a\ntasks:\n  - id: t\n    component: *c\n'],
  ['merge of an unresolved alias', 'id: fz-a\n<<: *base\ntasks: []\n'],
  ['custom tag', 'id: !x fz-a\ntasks: !!js/function "function(){}"\n'],
  ['python tag', 'id: fz-a\ntasks: !!python/object/apply:os.system ["true"]\n'],
  ['duplicate keys', 'id: fz-a\nid: fz-b\ntasks: []\ntasks: []\n'],
  ['two documents', 'id: fz-a\ntasks: []\n---\nid: fz-b\n'],
  ['unknown directive', '%YAML 9.9\n---\nid: fz-a\ntasks: []\n'],
  ['BOM and CRLF', '\ufeffid: fz-a\r\ntasks: []\r\n'],
  ['tab indentation', 'id: fz-a\ntasks:\n\t- id: t\n'],
  ['anchors on every node', 'id: &i fz-a\ndescription: &d *i\ntasks: &t\n  - &x { id: t, component: wordcount@1 }\n  - *x\n'],
  ['recursive alias', 'id: fz-a\ntasks: &a [*a]\n'],
  ['huge int and float keys', `id: fz-a\n${'9'.repeat(400)}: 1\n1e999: 2\n.nan: 3\ntasks: []\n`],
  ['null and bool keys', 'id: fz-a\n~: 1\ntrue: 2\n? [a, b]\n: 3\n? {a: 1}\n: 4\ntasks: []\n'],
  ['binary scalar', 'id: fz-a\ndescription: !!binary AAECAwQF\ntasks: []\n'],
  ['timestamp and set', 'id: fz-a\ndescription: 2001-12-14t21:59:43.10-05:00\ntasks: !!set { a, b }\n'],
  // Valid YAML, odd flows: the registration step (components, cycles) is reached.
  ['component without a version', 'id: fz-a\ntasks:\n  - id: t\n    component: wordcount\n'],
  ['component with an empty version', 'id: fz-a\ntasks:\n  - id: t\n    component: "wordcount@"\n'],
  ['component with an empty name', 'id: fz-a\ntasks:\n  - id: t\n    component: "@1"\n'],
  ['component with two @', 'id: fz-a\ntasks:\n  - id: t\n    component: "a@b@c"\n'],
  ['component by a digest-like string', `id: fz-a\ntasks:\n  - id: t\n    component: "${'f'.repeat(64)}"\n`],
  ['task needing itself', 'id: fz-a\ntasks:\n  - id: t\n    component: wordcount@1\n    needs: [t]\n'],
  ['10,000 tasks', `id: fz-a\ntasks:\n${Array.from({ length: 10_000 }, (_, i) => `  - { id: t${i}, component: wordcount@1${i ? `, needs: [t${i - 1}]` : ''} }`).join('\n')}\n`],
];

/** /healthz, /metrics, /ui, /api/v1/docs and paths that try to get around the token. */
function otherCases(): Case[] {
  const out: Case[] = [];
  const add = (route: string, method: string, p: string, auth: Case['auth'], extra: Partial<Case> = {}) => out.push({ server: 'A', route, method, path: p, headers: {}, how: 'no body', auth, ...extra });
  for (const q of ['', '?x=%E0%A4%A', '?%00', `?${'a'.repeat(8000)}`]) {
    add('GET /healthz', 'GET', `/healthz${q}`, 'none');
    add('GET /metrics', 'GET', `/metrics${q}`, 'token');
    add('GET /metrics', 'GET', `/metrics${q}`, 'none');
  }
  add('POST /healthz', 'POST', '/healthz', 'none', { headers: { 'content-type': 'application/json' }, body: '{' });
  add('POST /metrics', 'POST', '/metrics', 'token', { headers: { 'content-type': 'application/json' }, body: nested(100_000) });
  const ui = [
    '/ui', '/ui/', '/ui/index.html', '/ui/%E0%A4%A', '/ui/%E0%A4%A.js', '/ui/%FF', '/ui/%', '/ui/%zz.html', '/ui/..%2F..%2Fpackage.json', '/ui/..%2f..%2ftsconfig.json', '/ui/%2e%2e/%2e%2e/package.json',
    '/ui/..%5C..%5Cpackage.json', '/ui/%00', '/ui/index.html%00.js', '/ui/a%00.html', `/ui/${'x'.repeat(4000)}.js`, `/ui/${encodeText(EMOJI)}.html`, '/ui/js/', '/ui/js/..%2F..%2F..%2Fpackage.json',
    '/ui/%2F%2Fetc%2Fpasswd', '/ui//etc/passwd', '/ui/..%252F..%252Fpackage.json', '/ui/%C0%AE%C0%AE/package.json', '/ui/index.html?x=%E0%A4%A', '/ui/style.css',
  ];
  for (const u of ui) add('GET /ui/*', 'GET', u, 'none');
  add('GET /ui/*', 'HEAD', '/ui/%E0%A4%A', 'none');
  for (const d of ['/api/v1/docs', '/api/v1/docs/swagger-ui.css', '/api/v1/docs/%E0%A4%A', '/api/v1/docs/..%2F..%2Fpackage.json', '/api/v1/docs/%00', '/api/v1/docs/x', '/api/v1/openapi.json?%E0%A4%A']) {
    add('GET /api/v1/docs', 'GET', d, 'token');
  }
  // Paths around the token: none of these may answer 2xx without it.
  for (const p of [
    '/api/v1/flows', '/api/v1//flows', '//api/v1/flows', '/api/v1/flows/', '/API/V1/flows', '/api/V1/flows', '/api/v1/%66lows', '/api/v1%2Fflows', '/api/v1/flows;x', '/api/v1/flows%00',
    '/api/v1/openapi.json', '/api/v1/openapi.json/', '/api/v1/docs', '/api/v1/runs?limit=1', '/api/v1/%2e/flows', '/api/v1/stats', '/metrics/', '/METRICS', '/metrics%00', '/%6detrics', '/api/v1/events',
  ]) {
    add('auth probes', 'GET', p, 'none', { stream: p.endsWith('/events') ? 'sse' : undefined });
    add('auth probes', 'GET', p, 'bad', { headers: { authorization: pick(['Bearer wrong', 'Bearer', `Bearer ${TOKEN}x`, `bearer ${TOKEN.toUpperCase()}`, `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`, `Bearer ${'x'.repeat(8000)}`, `Bearer ${TOKEN.slice(0, -1)}`, `Bearer ${TOKEN}\tx`]) }, stream: p.endsWith('/events') ? 'sse' : undefined });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Fixtures

const YAML_TYPE = { 'content-type': 'application/yaml' };

async function upload(s: Server, name: string, label: string) {
  const res = await s.fetch(`/api/v1/components?name=${label}&version=1`, { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: readFileSync(module(name)) });
  const text = await res.text();
  assert.ok(res.status === 201 || res.status === 200, `upload ${name}: ${res.status} ${text}`);
  return (JSON.parse(text) as { digest: string }).digest;
}
async function postFlow(s: Server, yaml: string) {
  const res = await s.fetch('/api/v1/flows', { method: 'POST', headers: YAML_TYPE, body: yaml });
  const text = await res.text();
  assert.ok(res.status === 201 || res.status === 200, `flow: ${res.status} ${text}`);
}
async function triggerText(s: Server, flow: string, text: string): Promise<string> {
  const form = new FormData();
  form.append('text', new Blob([text]), 'text.txt');
  form.append('n', '3');
  const res = await s.fetch(`/api/v1/flows/${flow}/runs`, { method: 'POST', body: form });
  const body = await res.text();
  assert.equal(res.status, 201, body);
  return (JSON.parse(body) as { id: string }).id;
}
async function finished(s: Server, runId: string) {
  return eventually(async () => {
    const r = await s.json('GET', `/api/v1/runs/${runId}`);
    return ['succeeded', 'failed', 'cancelled', 'skipped'].includes(r.body.state) ? r.body : undefined;
  }, 60_000, `run ${runId} to finish`);
}

const MAIN_FLOW = `id: fz-main
description: the fuzz's flow
inputs:
  text: { type: asset }
  n: { type: number, required: false }
tasks:
  - id: count
    component: wordcount@1
    inputs: [text]
    timeout: 30s
  - id: total
    component: add@1
    needs: [count]
`;

async function fixturesA(s: Server): Promise<Ctx> {
  const digest = await upload(s, 'wordcount', 'wordcount');
  await upload(s, 'add', 'add');
  await upload(s, 'fail', 'fail');
  await postFlow(s, MAIN_FLOW);
  await postFlow(s, MAIN_FLOW.replace('id: fz-main', 'id: fz-victim')); // for DELETE
  await postFlow(s, 'id: fz-hook\ninputs:\n  payload: { type: asset }\n  n: { type: number, required: false }\ntriggers:\n  - { type: webhook, input: payload }\ntasks:\n  - id: count\n    component: wordcount@1\n    inputs: [payload]\n');
  await postFlow(s, 'id: fz-sched\ninputs:\n  n: { type: number, default: 1 }\ntriggers:\n  - { type: schedule, cron: "0 0 1 1 *" }\ntasks:\n  - id: count\n    component: wordcount@1\n');
  await postFlow(s, 'id: fz-fail\ntasks:\n  - id: count\n    component: fail@1\n');
  const runId = await triggerText(s, 'fz-main', 'one two three\n');
  const failRes = await s.json('POST', '/api/v1/flows/fz-fail/runs', {});
  assert.equal(failRes.status, 201, JSON.stringify(failRes.body));
  const bf = await s.json('POST', '/api/v1/flows/fz-sched/backfills', { from: '2025-12-31T00:00:00Z', to: '2026-01-02T00:00:00Z' });
  assert.equal(bf.status, 201, JSON.stringify(bf.body));
  const run = await finished(s, runId);
  assert.equal(run.state, 'succeeded', JSON.stringify(run));
  await finished(s, failRes.body.id);
  const assets = (await s.json('GET', `/api/v1/runs/${runId}/assets`)).body.items as { id: string }[];
  const flowIds = ['fz-main', 'fz-hook', 'fz-sched', 'fz-fail'];
  const assetIds = assets.map((a) => a.id);
  return {
    ids: {
      flows: flowIds, 'flows:DELETE': ['fz-victim'], runs: [runId, failRes.body.id], assets: assetIds, backfills: [bf.body.id], components: [digest, 'wordcount@1', 'add@1', 'wordcount@2', 'nope@1'],
      tasks: ['count', 'total'], instances: ['0'], revisions: ['1', '2'], idx: ['0'], revision: ['1'], task: ['count'], attempt: ['1'], attempts: ['i_nope'], outputs: ['stdout'], name: ['stdout'],
    },
    worker: 'r-fuzz-a', instanceId: '', attempt: 1, flowIds, assetIds,
  };
}

/** Server B runs nothing itself: a run's instance waits for a remote worker, and the fuzz leases it. */
async function fixturesB(s: Server): Promise<Ctx> {
  await upload(s, 'wordcount', 'wordcount');
  await upload(s, 'add', 'add');
  await postFlow(s, MAIN_FLOW);
  const runId = await triggerText(s, 'fz-main', 'alpha beta\n');
  const worker = 'r-fuzz-b';
  const lease = await eventually(async () => {
    const r = await s.json('POST', '/api/v1/workers/lease', { worker, max: 1, waitMs: 2000 });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.jobs.length ? r.body.jobs[0] : undefined;
  }, 20_000, 'a lease on server B');
  const assets = (await s.json('GET', `/api/v1/runs/${runId}/assets`)).body.items as { id: string }[];
  return {
    ids: {
      flows: ['fz-main'], 'flows:DELETE': ['fz-victim'], runs: [runId], assets: assets.map((a) => a.id), components: ['wordcount@1'], tasks: ['count'], instances: ['0'], idx: ['0'], task: ['count'],
      attempts: [lease.instanceId], attempt: [String(lease.attempt)], outputs: ['stdout', 'out'], name: ['stdout', 'out'], revisions: ['1'], revision: ['1'],
    },
    worker, instanceId: lease.instanceId, attempt: lease.attempt, flowIds: ['fz-main'], assetIds: assets.map((a) => a.id),
  };
}

/** A new run of a flow only the fixtures know, on B, leased by a worker only this knows. */
async function freshLease(s: Server): Promise<{ instanceId: string; attempt: number; leaseSecret?: string } | undefined> {
  await postFlow(s, MAIN_FLOW.replace('id: fz-main', 'id: fz-big'));
  await triggerText(s, 'fz-big', 'big\n');
  for (let i = 0; i < 10; i++) {
    const r = await s.json('POST', '/api/v1/workers/lease', { worker: 'r-fuzz-big', max: 1, waitMs: 1000 });
    if (r.body?.jobs?.length) return r.body.jobs[0];
  }
  return undefined;
}

/** User + system CPU of a process so far, ms (clock ticks of 10 ms). */
function cpuOf(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

function rssOf(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------------------------------------

describe('API fuzz', () => {
  it(`answers seeded hostile input on every documented route without a 5xx, a leak or a crash (seed ${SEED})`, async () => {
    const started = Date.now();
    const startA = () => startServer({ token: TOKEN, args: ['--max-upload', '4MiB', '--grace', '2s'] });
    const startB = () => startServer({ args: ['--workers', '0', '--max-upload', '4MiB', '--grace', '2s'] });
    const A = await startA();
    const B = await startB().catch(async (e: Error) => {
      await A.stop();
      throw e;
    });
    const extra: string[] = [];
    // A server that dies is started again with its fixtures (the cases keep the old ids: they get 404s).
    const fuzz = new Fuzzer({ A, B }, {
      A: async () => {
        const s = await startA();
        await fixturesA(s);
        return s;
      },
      B: async () => {
        const s = await startB();
        await fixturesB(s);
        return s;
      },
    });
    const sampler = setInterval(() => fuzz.sample(), 50);
    try {
      const docRes = await A.fetch('/api/v1/openapi.json');
      assert.equal(docRes.status, 200);
      const doc = (await docRes.json()) as any;
      const ops = operations(doc);
      assert.ok(ops.length >= 20, `the document lists ${ops.length} operations`);
      const docB = (await (await B.fetch('/api/v1/openapi.json')).json()) as any;
      const opsB = operations(docB);

      const [ctxA, ctxB] = await Promise.all([fixturesA(A), fixturesB(B)]);
      const fixturesDone = Date.now();

      // Every case is made before any is sent: the requests depend on the seed alone.
      const cases: Case[] = [];
      for (const op of ops) {
        for (let i = 0; i < PER_OP_A; i++) cases.push(opCase('A', op, doc, ctxA, 'token'));
        cases.push(opCase('A', op, doc, ctxA, 'none'), opCase('A', op, doc, ctxA, 'bad'));
      }
      for (const op of opsB) {
        const n = op.template.startsWith('/workers') ? PER_OP_B * 4 : PER_OP_B;
        for (let i = 0; i < n; i++) cases.push(opCase('B', op, docB, ctxB, 'open'));
      }
      cases.push(...otherCases());
      cases.push(...sweepCases('A', ops, doc, ctxA, (o) => !o.template.startsWith('/workers')), ...sweepCases('B', opsB, docB, ctxB, (o) => o.template.startsWith('/workers')));
      // Shuffled, so no route's slow cases line up behind each other.
      for (let i = cases.length - 1; i > 0; i--) {
        const j = int(i + 1);
        [cases[i], cases[j]] = [cases[j]!, cases[i]!];
      }
      const heavy = deepCases(ops, ctxA);

      await fuzz.runAll(cases);
      const fuzzDone = Date.now();
      // One at a time: what each costs the server is its own.
      await fuzz.runAll(heavy, 1);
      // A fresh lease on B (the fuzz has had its way with the first), so oversized outputs and
      // reports reach the body. Then every body-taking route on both servers gets too much.
      const held = await freshLease(fuzz.servers.B).catch(() => undefined);
      const flowOf = (t: string) => (t.includes('webhook') ? 'fz-hook' : t.includes('backfills') ? 'fz-sched' : 'fz-main');
      const bigIds = (held: { instanceId: string; attempt: number } | undefined, worker: string) => (t: string, n: string) =>
        n === 'worker' ? worker : n === 'attempt' ? String(held?.attempt ?? 1) : n === 'name' ? 'big' : t.startsWith('/workers') ? (held?.instanceId ?? 'i_x') : t.startsWith('/flows') ? flowOf(t) : 'x';
      const big = [...bigCases('A', ops.filter((o) => !o.template.startsWith('/workers')), bigIds(undefined, 'r-fuzz-a')), ...bigCases('B', opsB.filter((o) => o.template.startsWith('/workers')), bigIds(held, 'r-fuzz-big'), held?.leaseSecret ? { 'x-tutti-lease-secret': held.leaseSecret } : {})];
      // Reports last: a complete or fail that got through would end the lease the uploads need.
      big.sort((x, y) => Number(/complete|fail$/.test(x.route)) - Number(/complete|fail$/.test(y.route)));
      await fuzz.runAll(big, 1);
      fuzz.sample();
      const { peak } = fuzz;
      if (peak.rss > RSS_LIMIT) {
        extra.push(`server ${peak.server} RSS peaked at ${(peak.rss / 2 ** 20).toFixed(0)} MiB (limit ${RSS_LIMIT / 2 ** 20} MiB), with in flight:\n    ${peak.during.join('\n    ')}`);
      }
      const heavyDone = Date.now();

      for (const [name, s] of Object.entries(fuzz.servers)) {
        const h = await s.fetch('/healthz', { signal: AbortSignal.timeout(10_000) }).catch((e: Error) => e);
        if (h instanceof Error || h.status !== 200) extra.push(`server ${name} is not healthy at the end: ${h instanceof Error ? h.message : h.status}`);
        const rss = rssOf(s.child.pid);
        if (rss > RSS_LIMIT) extra.push(`server ${name} RSS at the end ${(rss / 2 ** 20).toFixed(0)} MiB (limit ${RSS_LIMIT / 2 ** 20} MiB)`);
      }
      console.log(
        `api-fuzz: seed ${SEED}; ${fuzz.requests} requests (${cases.length} fuzz, ${heavy.length + big.length} heavy); fixtures ${((fixturesDone - started) / 1000).toFixed(1)} s, ` +
          `fuzz ${((fuzzDone - fixturesDone) / 1000).toFixed(1)} s, heavy ${((heavyDone - fuzzDone) / 1000).toFixed(1)} s; peak RSS ${(peak.rss / 2 ** 20).toFixed(0)} MiB (server ${peak.server}); ${fuzz.retried.length} sent twice after a connection error`,
      );
    } finally {
      clearInterval(sampler);
      extra.push(...fuzz.deaths);
      fuzz.stopping = true;
      for (const [name, s] of fuzz.all) {
        const dead = s.child.exitCode !== null || s.child.signalCode !== null;
        const code = await s.stop();
        if (!dead && code !== 0) extra.push(`server ${name} exited with ${code} on SIGTERM`);
        const internal = s.stderr().split('\n').filter((l) => /internal error|FATAL|Unhandled|uncaught/i.test(l));
        if (internal.length) extra.push(`server ${name} stderr has ${internal.length} internal-error/FATAL line(s), e.g.:\n    ${[...new Set(internal.map((l) => l.slice(0, 300)))].slice(0, 15).join('\n    ')}`);
      }
    }
    const report = fuzz.report(fuzz.requests, Date.now() - started, extra);
    if (process.env.TUTTI_FUZZ_REPORT) (await import('node:fs')).writeFileSync(process.env.TUTTI_FUZZ_REPORT, report);
    assert.ok(fuzz.failures.length === 0 && extra.length === 0, report);
  });
});
