/**
 * One writer process per embedded database file. Two processes writing one libSQL file lose writes
 * (after an SQLITE_BUSY the embedded client reports later writes as done and drops them,
 * libsql-client-ts#352), so a second process is refused before it writes anything.
 *
 * The lock is a file beside the database naming its holder, checked the way PostgreSQL checks
 * postmaster.pid: a holder that is no longer alive (killed, crashed) leaves a stale file that the
 * next process takes over at once, with no timeout to wait out after a `kill -9`.
 */
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';

interface Holder {
  pid: number;
  host: string;
  /** The process's start time from /proc, so a recycled pid is not mistaken for the holder. */
  startTicks: string | null;
  command: string;
  since: string;
}

export class WriterLockHeld extends Error {
  constructor(file: string, holder: Holder) {
    super(
      `${file} is in use by another Tutti process (pid ${holder.pid}: ${holder.command}, since ${holder.since}). ` +
        'An embedded database has one writer: stop that process, or give this one its own --home. ' +
        'Several servers share one database through a libSQL server: --db http://HOST:PORT.',
    );
    this.name = 'WriterLockHeld';
  }
}

/** The fields of /proc/PID/stat from the third (state) on; null where there is no /proc, or no such process. */
function procStat(pid: number): string[] | null {
  try {
    // The command name (field 2) may hold spaces and parentheses, so count from its last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

function startTicks(pid: number): string | null {
  return procStat(pid)?.[19] ?? null; // field 22
}

function alive(h: Holder): boolean {
  if (h.host !== hostname()) return true; // cannot tell: a shared disk, assume it is in use
  try {
    process.kill(h.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = procStat(h.pid);
  // A process killed and not yet reaped by its parent (a zombie, or one being reaped) still has
  // its pid, but holds no file and writes nothing: a restart right after a kill -9 must not wait
  // for the parent to get round to it (some never do).
  if (stat?.[0] === 'Z' || stat?.[0] === 'X') return false;
  const ticks = stat?.[19] ?? null;
  return h.startTicks === null || ticks === null || ticks === h.startTicks;
}

function read(lockFile: string): Holder | null {
  try {
    return JSON.parse(readFileSync(lockFile, 'utf8')) as Holder;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    // Written half-way by a process that died in the act.
    return { pid: -1, host: hostname(), startTicks: null, command: '?', since: '?' };
  }
}

const held = new Map<string, number>();
// A process that exits without closing its database (an error, process.exit) leaves no lock behind.
process.on('exit', () => {
  for (const lockFile of held.keys()) removeIfOurs(lockFile);
});

/** Take the writer lock of `dbFile` (re-entrant within a process); the returned function releases it. */
export function acquireWriterLock(dbFile: string): () => void {
  const lockFile = `${dbFile}.lock`;
  const count = held.get(lockFile);
  if (count) {
    held.set(lockFile, count + 1);
    return once(() => release(lockFile));
  }
  const me: Holder = {
    pid: process.pid,
    host: hostname(),
    startTicks: startTicks(process.pid),
    command: process.argv.slice(1).map((a) => a.split('/').pop()).join(' ').slice(0, 200),
    since: new Date().toISOString(),
  };
  for (let tries = 0; ; tries++) {
    try {
      writeFileSync(lockFile, JSON.stringify(me), { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || tries >= 3) throw e;
    }
    const holder = read(lockFile);
    if (holder && holder.pid !== -1 && alive(holder)) throw new WriterLockHeld(dbFile, holder);
    try {
      unlinkSync(lockFile);
    } catch {
      // another process took the stale lock over first; the next try sees its file
    }
  }
  held.set(lockFile, 1);
  return once(() => release(lockFile));
}

function release(lockFile: string): void {
  const n = (held.get(lockFile) ?? 1) - 1;
  if (n > 0) {
    held.set(lockFile, n);
    return;
  }
  held.delete(lockFile);
  removeIfOurs(lockFile);
}

function removeIfOurs(lockFile: string): void {
  if (read(lockFile)?.pid === process.pid) {
    try {
      unlinkSync(lockFile);
    } catch {
      // already gone
    }
  }
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (!done) {
      done = true;
      fn();
    }
  };
}
