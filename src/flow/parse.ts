import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Lexer, LineCounter, parseDocument, isScalar, type Document } from 'yaml';
import type { z } from 'zod';
import { FlowSchema, type Flow } from './schema.js';
import { FlowError, type FlowIssue } from './errors.js';
import { validateDag } from './validate.js';

export interface ParsedFlow {
  flow: Flow;
  /** The document text as given, kept with each revision. */
  source: string;
  /** Directory that relative component paths are resolved against, when the flow came from a file. */
  baseDir?: string;
}

/** A component reference that is a file path rather than name@version. */
export function isComponentPath(ref: string): boolean {
  return ref.endsWith('.wasm') || ref.startsWith('.') || ref.startsWith('/');
}

/**
 * Parse a flow from YAML (JSON is valid YAML) and validate it completely.
 * Throws FlowError listing every problem with its path and line.
 */
export function parseFlow(source: string, file = '<flow>', baseDir?: string): ParsedFlow {
  tooDeep(source, file);
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    throw new FlowError(
      file,
      doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return { path: [], message: `invalid YAML: ${e.message.split('\n')[0]}`, line: pos.line, column: pos.col };
      }),
    );
  }
  let data: unknown;
  try {
    // An alias expanding to aliases ("billion laughs") grows exponentially: yaml stops it at 100.
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new FlowError(file, [{ path: [], message: `the document cannot be expanded: ${(e as Error).message.split('\n')[0]}` }]);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new FlowError(file, [{ path: [], message: 'a flow must be a mapping with id and tasks', line: 1 }]);
  }
  const result = FlowSchema.safeParse(data);
  if (!result.success) throw new FlowError(file, result.error.issues.map((i) => locate(doc, lineCounter, zodIssue(i))));

  const issues = validateDag(result.data);
  if (baseDir) issues.push(...missingComponentFiles(result.data, baseDir));
  if (issues.length) throw new FlowError(file, issues.map((i) => locate(doc, lineCounter, i)));
  return { flow: result.data, source, baseDir };
}

/** Flow collections nested deeper than this are an attack: the yaml parser aborts the process on them. */
export const MAX_FLOW_DEPTH = 64;
/** The lexer's markers (document start, flow end, scalar start) that are not text of the source. */
const CONTROL = new Set(['\x02', '\x18', '\x1f']);

/**
 * Refuse deeply nested flow collections (`[[[[…`) before the parser sees them: yaml 2.x builds
 * them recursively and 200,000 levels abort Node itself (a fatal out-of-memory in its regexp
 * compiler, not a catchable error). The lexer is iterative and knows YAML's quoting rules.
 */
function tooDeep(source: string, file: string): void {
  let depth = 0;
  let offset = 0;
  for (const token of new Lexer().lex(source)) {
    if (token === '[' || token === '{') {
      if (++depth > MAX_FLOW_DEPTH) {
        const lines = source.slice(0, offset).split('\n');
        throw new FlowError(file, [{ path: [], message: `the document nests collections deeper than ${MAX_FLOW_DEPTH} levels`, line: lines.length, column: lines.at(-1)!.length + 1 }]);
      }
    } else if (token === ']' || token === '}') depth--;
    if (!CONTROL.has(token)) offset += token.length;
  }
}

/** Read and parse a flow file; relative component paths resolve against its directory. */
export function loadFlowFile(file: string): ParsedFlow {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (e) {
    throw new FlowError(file, [{ path: [], message: `cannot read flow file: ${(e as NodeJS.ErrnoException).code ?? String(e)}` }]);
  }
  return parseFlow(source, file, path.dirname(path.resolve(file)));
}

function zodIssue(issue: z.core.$ZodIssue): FlowIssue {
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') message = `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  if (issue.code === 'invalid_type' && message.includes('received undefined')) message = 'required field is missing';
  return { path: issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p)), message };
}

function missingComponentFiles(flow: Flow, baseDir: string): FlowIssue[] {
  const issues: FlowIssue[] = [];
  // Each file looked at once: a wide flow names the same component in thousands of tasks.
  const problems = new Map<string, string | undefined>();
  flow.tasks.forEach((t, i) => {
    if (!isComponentPath(t.component)) {
      if (!/^[a-z0-9][a-z0-9_.-]*@[^@\s]+$/i.test(t.component)) {
        issues.push({ path: ['tasks', i, 'component'], message: `"${t.component}" is neither a .wasm path nor name@version` });
      }
      return;
    }
    const file = path.resolve(baseDir, t.component);
    if (!problems.has(file)) {
      problems.set(file, !existsSync(file) ? `component file not found: ${file}` : !statSync(file).isFile() ? `component path is not a file: ${file}` : undefined);
    }
    const problem = problems.get(file);
    if (problem) issues.push({ path: ['tasks', i, 'component'], message: problem });
  });
  return issues;
}

/** Issues found after parsing (they need the store: trigger cycles), located in the document's `source`. */
export function locateIssues(source: string, issues: FlowIssue[]): FlowIssue[] {
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, prettyErrors: false, uniqueKeys: true });
  return issues.map((i) => locate(doc, lineCounter, i));
}

/** Attach the line and column of the deepest node of `issue.path` that exists in the document. */
function locate(doc: Document, lc: LineCounter, issue: FlowIssue): FlowIssue {
  for (let n = issue.path.length; n >= 0; n--) {
    const node = doc.getIn(issue.path.slice(0, n), true);
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    if (range && (isScalar(node) || n < issue.path.length || typeof node === 'object')) {
      const pos = lc.linePos(range[0]);
      return { ...issue, line: pos.line, column: pos.col };
    }
  }
  return issue;
}
