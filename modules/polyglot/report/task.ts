// report — step 3 of the polyglot log-analytics flow (TypeScript, typed world tutti:task/task).
//
// inputs (in `needs` order): by-status's "STATUS COUNT" lines, then latency's "COUNT SUM MAX".
// output "report": JSON {requests, byStatus, clientErrors, serverErrors, latencyMs: {mean, max}}.
import { log, read, write } from 'tutti:task/host@0.1.0';
import type * as World from 'tutti:task/task@0.1.0';
import type { AssetInfo, Param, Partition, TaskError } from 'tutti:task/task@0.1.0';

class Failure extends Error {
  constructor(readonly payload: TaskError) {
    super(payload.val);
  }
}

function readAll(input: number, size: bigint): string {
  const decoder = new TextDecoder();
  let text = '';
  for (let pos = 0n; pos < size; ) {
    const bytes = read(input, pos, size - pos);
    if (bytes.length === 0) break;
    text += decoder.decode(bytes, { stream: true });
    pos += BigInt(bytes.length);
  }
  return text;
}

const numbers = (line: string): number[] => line.trim().split(/\s+/).filter(Boolean).map(Number);

export function run(_partition: Partition, inputs: AssetInfo[], _params: Param[]): void {
  const byStatusAt = inputs.findIndex((i) => i.name.startsWith('by-status/'));
  const latencyAt = inputs.findIndex((i) => i.name.startsWith('latency/'));
  if (byStatusAt < 0 || latencyAt < 0) {
    throw new Failure({ tag: 'permanent', val: `report needs by-status and latency, got ${inputs.map((i) => i.name).join(', ')}` });
  }
  const byStatus: Record<string, number> = {};
  let requests = 0;
  for (const line of readAll(byStatusAt, inputs[byStatusAt]!.size).split('\n')) {
    const [status, count] = numbers(line);
    if (status === undefined || count === undefined) continue;
    byStatus[String(status)] = count;
    requests += count;
  }
  const [count = 0, sum = 0, max = 0] = numbers(readAll(latencyAt, inputs[latencyAt]!.size));
  const sumWhere = (test: (s: number) => boolean) =>
    Object.entries(byStatus).reduce((n, [s, c]) => (test(Number(s)) ? n + c : n), 0);
  const report = {
    requests,
    byStatus,
    clientErrors: sumWhere((s) => s >= 400 && s < 500),
    serverErrors: sumWhere((s) => s >= 500),
    latencyMs: { mean: count ? Math.round((sum / count) * 100) / 100 : 0, max },
  };
  write('report', new TextEncoder().encode(`${JSON.stringify(report)}\n`));
  log('info', `${requests} requests, ${report.serverErrors} server errors`);
}

export const _world: { run: typeof World.run } = { run };
