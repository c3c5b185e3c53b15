/**
 * A remote worker's copy of the inputs it reads, by content digest: the instances of one fan-out
 * all read the same upstream assets, so each is downloaded once. Past `maxBytes`, inputs no attempt
 * is using go, least recently used first.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

interface Entry {
  path?: Promise<string>;
  size: number;
  users: number;
  usedAt: number;
}

export class InputCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly dir: string,
    private readonly maxBytes: number,
    private readonly download: (assetId: string) => Promise<Response>,
  ) {}

  /** Mark inputs as in use by one attempt until the returned function is called. */
  hold(digests: string[]): () => void {
    for (const d of digests) this.entry(d).users++;
    return () => {
      for (const d of digests) {
        const e = this.entries.get(d);
        if (e) {
          e.users--;
          e.usedAt = Date.now();
        }
      }
      void this.evict();
    };
  }

  /** The local path of an input (held with `hold` first), downloading and checking it if needed. */
  get(assetId: string, digest: string, size: number): Promise<string> {
    const e = this.entry(digest);
    e.size = size;
    if (!e.path) {
      const p = this.fetch(assetId, digest);
      e.path = p;
      p.catch(() => {
        if (e.path === p) e.path = undefined;
      });
    }
    return e.path;
  }

  private entry(digest: string): Entry {
    let e = this.entries.get(digest);
    if (!e) {
      e = { size: 0, users: 0, usedAt: Date.now() };
      this.entries.set(digest, e);
    }
    return e;
  }

  private async fetch(assetId: string, digest: string): Promise<string> {
    const file = path.join(this.dir, digest);
    if (await stat(file).then(() => true, () => false)) return file;
    await mkdir(this.dir, { recursive: true });
    const res = await this.download(assetId);
    if (!res.ok || !res.body) throw new Error(`input asset ${assetId}: HTTP ${res.status}`);
    const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const hash = createHash('sha256');
    const tap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(Readable.fromWeb(res.body as Parameters<typeof Readable.fromWeb>[0]), tap, createWriteStream(tmp));
      if (hash.digest('hex') !== digest) throw new Error(`input asset ${assetId}: the bytes received do not match its sha256`);
      await rename(tmp, file);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    return file;
  }

  private async evict(): Promise<void> {
    let total = [...this.entries.values()].reduce((a, e) => a + (e.path ? e.size : 0), 0);
    if (total <= this.maxBytes) return;
    const idle = [...this.entries].filter(([, e]) => e.users === 0 && e.path).sort((a, b) => a[1].usedAt - b[1].usedAt);
    for (const [digest, e] of idle) {
      if (total <= this.maxBytes) break;
      this.entries.delete(digest);
      total -= e.size;
      await rm(path.join(this.dir, digest), { force: true });
    }
  }
}
