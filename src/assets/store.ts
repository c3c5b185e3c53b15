/**
 * Where asset bytes live. Locations are relative keys ("runs/<run>/<task>.<idx>-<name>") so the
 * same rows work with any backend; this one is a local directory.
 */
import { createHash, randomUUID } from 'node:crypto';
import fs, { createReadStream, createWriteStream } from 'node:fs';
import { StorageError } from './storage-error.js';
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import path from 'node:path';

export interface StoredAsset {
  size: number;
  sha256: string;
}

export interface AssetStore {
  /** Copy a file from the host into the store (run inputs). */
  importFile(location: string, source: string): Promise<StoredAsset>;
  /** Write bytes at a location (idempotent for content-addressed locations). */
  write(location: string, bytes: Uint8Array): Promise<void>;
  /** Stream bytes to a location, hashing them on the way; the file appears whole or not at all. */
  writeStream(location: string, body: ReadableStream<Uint8Array>): Promise<StoredAsset>;
  /** Delete the files in directory `dir` whose names start with `namePrefix` (an abandoned attempt's outputs). */
  removeMatching(dir: string, namePrefix: string): Promise<number>;
  /** Path on this machine for in-process readers (workers read inputs by path). */
  localPath(location: string): string;
  read(location: string): Promise<Uint8Array>;
  /** A directory for one instance's /scratch (the worker creates and removes it). */
  scratchDir(name: string): string;
}

/**
 * Make a file's bytes durable (fdatasync), before a commit that refers to it. Also takes a
 * directory, to make a rename into it durable.
 */
export function datasync(file: string): Promise<void> {
  // Callbacks, not a FileHandle: this runs for every output of every instance.
  return new Promise((resolve, reject) =>
    fs.open(file, 'r', (err, fd) => {
      if (err) return reject(err);
      fs.fdatasync(fd, (syncErr) => fs.close(fd, () => (syncErr ? reject(syncErr) : resolve())));
    }),
  );
}

/**
 * Write a copy of bytes kept elsewhere (an inline asset's row) as a file, for readers that want a
 * path. Not synced: the row stays the truth, and a copy found with the wrong size is written again.
 */
export async function cacheFile(file: string, bytes: Uint8Array): Promise<void> {
  if ((await stat(file).catch(() => undefined))?.size === bytes.length) return;
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${randomUUID()}`;
  await writeFile(tmp, bytes);
  await rename(tmp, file);
}

function safeKey(location: string): string {
  const norm = path.posix.normalize(location);
  if (norm.startsWith('..') || path.posix.isAbsolute(norm)) throw new Error(`invalid asset location ${location}`);
  return norm;
}

/** A file system call's failure as a StorageError; anything else (a body's own error) as it is. */
function storage(e: unknown): never {
  if (e && typeof e === 'object' && 'syscall' in e) throw new StorageError(e as NodeJS.ErrnoException);
  throw e;
}

/** Size and sha256 of a file, read through once. */
export async function fileDigest(file: string): Promise<StoredAsset> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: hash.digest('hex') };
}

/**
 * Write `dest` through a temporary file made durable before it takes the name: a crash leaves the
 * old file or the new one, never half of one, and a failure leaves no temporary file behind.
 */
async function durably(dest: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = `${dest}.tmp-${randomUUID()}`;
  try {
    await mkdir(path.dirname(dest), { recursive: true });
    await fill(tmp);
    await datasync(tmp);
    await rename(tmp, dest);
    await datasync(path.dirname(dest));
  } catch (e) {
    await rm(tmp, { force: true });
    storage(e);
  }
}

export class LocalAssetStore implements AssetStore {
  constructor(readonly root: string) {}

  localPath(location: string): string {
    return path.join(this.root, 'data', safeKey(location));
  }

  async importFile(location: string, source: string): Promise<StoredAsset> {
    const dest = this.localPath(location);
    await mkdir(path.dirname(dest), { recursive: true }).catch(storage);
    await copyFile(source, dest).catch(storage);
    await datasync(dest).catch(storage);
    return fileDigest(dest);
  }

  write(location: string, bytes: Uint8Array): Promise<void> {
    return durably(this.localPath(location), (tmp) => writeFile(tmp, bytes));
  }

  async writeStream(location: string, body: ReadableStream<Uint8Array>): Promise<StoredAsset> {
    const hash = createHash('sha256');
    let size = 0;
    const count = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    await durably(this.localPath(location), (tmp) => pipeline(Readable.fromWeb(body as Parameters<typeof Readable.fromWeb>[0]), count, createWriteStream(tmp)));
    return { size, sha256: hash.digest('hex') };
  }

  async removeMatching(dir: string, namePrefix: string): Promise<number> {
    const full = this.localPath(dir);
    let names: string[];
    try {
      names = await readdir(full);
    } catch {
      return 0;
    }
    const doomed = names.filter((n) => n.startsWith(namePrefix));
    for (const n of doomed) await rm(path.join(full, n), { force: true });
    return doomed.length;
  }

  read(location: string): Promise<Uint8Array> {
    return readFile(this.localPath(location)).catch((e: NodeJS.ErrnoException) => {
      throw new StorageError(e, 'read');
    });
  }

  scratchDir(name: string): string {
    return path.join(this.root, 'scratch', name);
  }
}
