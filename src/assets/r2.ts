/**
 * Assets in a Cloudflare R2 bucket, for Tutti on Workers. Same keys as the local store
 * ("runs/<run>/<task>.<idx>-<name>"), so asset rows mean the same thing on both.
 *
 * Two methods of AssetStore assume files on the machine (`importFile` copies a host file,
 * `localPath` names one); a Worker has neither, so they throw. Instances on Workers read their
 * slices with `readRange` instead of by path, and uploads arrive as bytes (`importBytes`).
 */
import { createHash } from 'node:crypto';
import type { AssetStore, StoredAsset } from './store.js';

/** The part of the Workers R2Bucket binding used here (Miniflare's bucket proxy has it too). */
export interface R2BucketLike {
  put(key: string, value: Uint8Array | ArrayBuffer | string, options?: { sha256?: string; httpMetadata?: { contentType?: string } }): Promise<unknown>;
  get(key: string, options?: { range?: { offset: number; length: number } }): Promise<{ arrayBuffer(): Promise<ArrayBuffer> } | null>;
  head(key: string): Promise<{ size: number } | null>;
  delete(keys: string | string[]): Promise<void>;
  list(options: { prefix: string; cursor?: string }): Promise<{ objects: { key: string }[]; truncated: boolean; cursor?: string }>;
}

export class AssetNotFound extends Error {
  constructor(readonly location: string) {
    super(`asset ${location} is not in the R2 bucket`);
    this.name = 'AssetNotFound';
  }
}

function safeKey(location: string): string {
  const parts = location.split('/');
  if (!location || location.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new Error(`invalid asset location ${JSON.stringify(location)}: use a relative key without empty, "." or ".." parts`);
  }
  return location;
}

export class R2AssetStore implements AssetStore {
  /** `prefix` (e.g. "tutti/") lets several deployments share a bucket. */
  constructor(
    private readonly bucket: R2BucketLike,
    private readonly prefix = '',
  ) {}

  private key(location: string): string {
    return this.prefix + safeKey(location);
  }

  importFile(location: string): Promise<StoredAsset> {
    return Promise.reject(new Error(`cannot import a host file as ${location}: Workers have no host files; upload the bytes (importBytes)`));
  }

  /** A run input given as bytes (an upload): stored, and described as importFile does for files. */
  async importBytes(location: string, bytes: Uint8Array, mediaType?: string): Promise<StoredAsset> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    // R2 checks the digest on arrival, so a stored asset always matches the digest recorded for it.
    await this.bucket.put(this.key(location), bytes, { sha256, httpMetadata: mediaType ? { contentType: mediaType } : undefined });
    return { size: bytes.length, sha256 };
  }

  async write(location: string, bytes: Uint8Array): Promise<void> {
    await this.bucket.put(this.key(location), bytes);
  }

  /**
   * R2 takes a stream only with its length known up front, which an upload does not give: the body
   * is gathered in memory first, so on Workers an upload is bounded by the isolate's memory.
   */
  async writeStream(location: string, body: ReadableStream<Uint8Array>): Promise<StoredAsset> {
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of body) {
      chunks.push(chunk);
      size += chunk.length;
    }
    const bytes = new Uint8Array(size);
    let at = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, at);
      at += chunk.length;
    }
    return this.importBytes(location, bytes);
  }

  async removeMatching(dir: string, namePrefix: string): Promise<number> {
    const prefix = `${this.key(dir)}/${namePrefix}`;
    let removed = 0;
    let cursor: string | undefined;
    do {
      const page = await this.bucket.list({ prefix, cursor });
      // A prefix also matches deeper keys; only the files directly in `dir` are its files.
      const keys = page.objects.map((o) => o.key).filter((k) => !k.slice(prefix.length).includes('/'));
      if (keys.length) await this.bucket.delete(keys);
      removed += keys.length;
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    return removed;
  }

  localPath(location: string): string {
    throw new Error(`asset ${location} has no local path: it is in R2; read it with read() or readRange()`);
  }

  async read(location: string): Promise<Uint8Array> {
    const object = await this.bucket.get(this.key(location));
    if (!object) throw new AssetNotFound(location);
    return new Uint8Array(await object.arrayBuffer());
  }

  /** `length` bytes at `offset`: an instance fetches only its partition's slices. */
  async readRange(location: string, offset: number, length: number): Promise<Uint8Array> {
    if (length === 0) return new Uint8Array(0);
    const object = await this.bucket.get(this.key(location), { range: { offset, length } });
    if (!object) throw new AssetNotFound(location);
    return new Uint8Array(await object.arrayBuffer());
  }

  async size(location: string): Promise<number> {
    const head = await this.bucket.head(this.key(location));
    if (!head) throw new AssetNotFound(location);
    return head.size;
  }

  async delete(locations: string[]): Promise<void> {
    if (locations.length) await this.bucket.delete(locations.map((l) => this.key(l)));
  }

  /** workerd's /tmp: in memory and private to the request that runs the instance. */
  scratchDir(name: string): string {
    return `/tmp/tutti-scratch/${safeKey(name)}`;
  }
}
