/**
 * What a server keeps about the outputs remote attempts upload to it before they report: the size
 * and sha256 it computed itself while storing each. A completion is checked against these and
 * records these, never the worker's word.
 */
import { fileDigest, type StoredAsset } from '../../assets/store.js';

export class RemoteUploads {
  /** Per attempt, the tail of its uploads and completion: one at a time, so a digest kept is the digest of the file there. */
  private readonly tails = new Map<string, Promise<unknown>>();
  private readonly digests = new Map<string, Map<string, StoredAsset>>();

  /**
   * Run `fn` after everything queued for this attempt. An upload that overlapped another of the
   * same name (a retry while the first is still arriving) could leave one file and the other's
   * digest; a completion that overlapped an upload could record bytes that are then replaced.
   */
  exclusive<T>(attempt: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.tails.get(attempt) ?? Promise.resolve()).then(fn, fn);
    const tail = run.catch(() => {});
    this.tails.set(attempt, tail);
    void tail.then(() => {
      if (this.tails.get(attempt) === tail) this.tails.delete(attempt);
    });
    return run;
  }

  stored(attempt: string, name: string, asset: StoredAsset): void {
    let m = this.digests.get(attempt);
    if (!m) this.digests.set(attempt, (m = new Map()));
    m.set(name, asset);
  }

  /** Undefined when this process did not store it (it was restarted, or another server did). */
  get(attempt: string, name: string): StoredAsset | undefined {
    return this.digests.get(attempt)?.get(name);
  }

  removed(attempt: string, name: string): void {
    this.digests.get(attempt)?.delete(name);
  }

  /** The attempt is over (committed, failed, handed back or expired). */
  forget(attempt: string): void {
    this.digests.delete(attempt);
  }
}

export const attemptKey = (instanceId: string, attempt: number) => `${instanceId}:${attempt}`;

/** Size and sha256 of the file at `file`; undefined when there is none. */
export function digestOf(file: string): Promise<StoredAsset | undefined> {
  return fileDigest(file).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
}
