/** One problem in a flow document, located as precisely as the source allows. */
export interface FlowIssue {
  /** Path inside the document, e.g. ["tasks", 1, "needs", 0]. */
  path: (string | number)[];
  message: string;
  line?: number;
  column?: number;
}

/** A flow document that cannot be used; `issues` lists every problem found, not only the first. */
export class FlowError extends Error {
  constructor(
    readonly file: string,
    readonly issues: FlowIssue[],
  ) {
    super(issues.map((i) => `${formatLocation(file, i)}: ${i.message}`).join('\n'));
    this.name = 'FlowError';
  }
}

export function formatPath(path: (string | number)[]): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

function formatLocation(file: string, issue: FlowIssue): string {
  const where = issue.line ? `${file}:${issue.line}:${issue.column ?? 1}` : file;
  const path = formatPath(issue.path);
  return path ? `${where} ${path}` : where;
}
