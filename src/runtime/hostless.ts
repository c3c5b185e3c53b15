/**
 * Failure messages are shown to API clients and in the dashboard: a Node error about a file names
 * the server's paths (`ENOENT … open '/srv/tutti/assets/data/runs/…'`). Keep the file's own name,
 * which says which asset it was, and drop where it lives.
 */
const ABSOLUTE_PATH = /(?<![\w:/.])\/(?:[^\s'"`/:]+\/)+([^\s'"`/:]*)/g;

export function hostless(message: string): string {
  return message.replace(ABSOLUTE_PATH, (_m, base: string) => (base ? `…/${base}` : '…/'));
}

/** An error's message as a user may see it. */
export function publicMessage(e: unknown): string {
  return hostless(e instanceof Error ? e.message : String(e));
}
