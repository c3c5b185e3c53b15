/**
 * Live progress of one run in the terminal: a bar per task on a TTY, one line per event otherwise
 * (CI logs, pipes), both fed by the scheduler's events.
 */
import cliProgress from 'cli-progress';
import type { EventRow } from '../store/events.js';

interface TaskLine {
  total: number;
  done: number;
  state: string;
  bar?: cliProgress.SingleBar;
}

export class RunProgress {
  private readonly tasks = new Map<string, TaskLine>();
  private readonly multi?: cliProgress.MultiBar;

  constructor(
    taskIds: string[],
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {
    if (out.isTTY) {
      this.multi = new cliProgress.MultiBar(
        { format: ' {task} |{bar}| {value}/{total} instances  {state}', hideCursor: true, clearOnComplete: false, stream: out, barsize: 24, autopadding: true },
        cliProgress.Presets.shades_classic,
      );
    }
    const width = Math.max(...taskIds.map((t) => t.length));
    for (const id of taskIds) {
      const line: TaskLine = { total: 0, done: 0, state: 'pending' };
      line.bar = this.multi?.create(1, 0, { task: id.padEnd(width), state: 'pending' });
      this.tasks.set(id, line);
    }
  }

  event(e: EventRow): void {
    const t = e.taskId ? this.tasks.get(e.taskId) : undefined;
    const data = (e.data ?? {}) as Record<string, unknown>;
    if (t) {
      if (e.type === 'task-planned') {
        t.total = Number(data.instances);
        t.state = `running (${data.policy})`;
      } else if (e.type === 'instances-succeeded') t.done += Number(data.count);
      else if (e.type === 'task-succeeded') t.state = 'succeeded';
      else if (e.type === 'task-failed') t.state = 'FAILED';
      else if (e.type === 'task-skipped') t.state = `skipped: ${data.reason}`;
      else if (e.type === 'instance-retrying') t.state = `retrying (attempt ${Number(data.attempt) + 1}): ${data.error}`;
      if (t.bar) {
        t.bar.setTotal(Math.max(1, t.total));
        t.bar.update(t.done, { state: t.state });
      }
    }
    if (!this.multi) this.line(e, data);
  }

  private line(e: EventRow, data: Record<string, unknown>): void {
    const who = e.taskId ? `${e.taskId}: ` : '';
    const detail =
      e.type === 'task-planned' ? ` ${data.instances} instance(s), policy ${data.policy}`
      : e.type === 'instance-retrying' || e.type === 'instance-failed' ? ` #${data.idx} attempt ${data.attempt}: ${data.kind}: ${data.error}`
      : e.type === 'task-skipped' ? ` (${data.reason})`
      : e.type === 'instances-succeeded' ? ` ${data.count} (#${(data.idxs as number[]).slice(0, 8).join(', #')}${Number(data.count) > 8 ? ', …' : ''})`
      : '';
    this.out.write(`  ${who}${e.type}${detail}\n`);
  }

  stop(): void {
    this.multi?.stop();
  }
}
