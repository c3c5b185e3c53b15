/** Cron expressions and time zones (croner): validation for flow files, and the ticks of a schedule. */
import { Cron } from 'croner';

function cron(expr: string, timezone?: string): Cron {
  return new Cron(expr, { paused: true, timezone, mode: '5-or-6-parts' });
}

/** Why `expr` is not a usable cron expression, or null. */
export function cronProblem(expr: string): string | null {
  const fields = expr.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) return `cron "${expr}" has ${fields} field(s): use 5 (minute hour day month weekday) or 6 (seconds first)`;
  try {
    const c = cron(expr);
    if (!c.nextRun(new Date(0))) return `cron "${expr}" never fires`;
    return null;
  } catch (e) {
    return `invalid cron "${expr}": ${(e as Error).message.replace(/^CronPattern: /, '')}`;
  }
}

export function timezoneProblem(tz: string): string | null {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return null;
  } catch {
    return `unknown time zone "${tz}": use an IANA name such as UTC or Europe/Paris`;
  }
}

/** The first tick strictly after `after` (ms), or null when the schedule never fires again. */
export function nextTick(expr: string, timezone: string | undefined, after: number): number | null {
  return cron(expr, timezone).nextRun(new Date(after))?.getTime() ?? null;
}

/** The latest `n` ticks at or before `at`, oldest first. */
export function latestTicks(expr: string, timezone: string | undefined, at: number, n: number): number[] {
  const c = cron(expr, timezone);
  const out = c.previousRuns(n, new Date(at + 1)).map((d) => d.getTime());
  return out.filter((t) => t <= at).sort((a, b) => a - b);
}

/** Ticks in [from, to), at most `limit`. */
export function ticksBetween(expr: string, timezone: string | undefined, from: number, to: number, limit: number): number[] {
  const c = cron(expr, timezone);
  const out: number[] = [];
  let t = c.nextRun(new Date(from - 1));
  while (t && t.getTime() < to && out.length < limit) {
    out.push(t.getTime());
    t = c.nextRun(t);
  }
  return out;
}
