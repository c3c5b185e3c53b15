/**
 * Where asset bytes live. Locations are relative keys ("runs/<run>/<task>/<idx>-<name>") so the
 * same rows work with any backend; this one is a local directory.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
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
  /** Make sure the directory of a location prefix exists (once per task run, not per output). */
  prepareDir(prefix: string): Promise<void>;
  /** Path on this machine for in-process readers (workers read inputs by path). */
  localPath(location: string): string;
  read(location: string): Promise<Uint8Array>;
  /** A directory for one instance's /scratch (the worker creates and removes it). */
  scratchDir(name: string): string;
}

function safeKey(location: string): string {
  const norm = path.posix.normalize(location);
  if (norm.startsWith('..') || path.posix.isAbsolute(norm)) throw new Error(`invalid asset location ${location}`);
  return norm;
}

export class LocalAssetStore implements AssetStore {
  constructor(readonly root: string) {}

  localPath(location: string): string {
    return path.join(this.root, 'data', safeKey(location));
  }

  async importFile(location: string, source: string): Promise<StoredAsset> {
    const dest = this.localPath(location);
    await mkdir(path.dirname(dest), { recursive: true });
    await copyFile(source, dest);
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(dest)) hash.update(chunk as Buffer);
    return { size: (await stat(dest)).size, sha256: hash.digest('hex') };
  }

  async write(location: string, bytes: Uint8Array): Promise<void> {
    const dest = this.localPath(location);
    await mkdir(path.dirname(dest), { recursive: true });
    const tmp = `${dest}.tmp-${randomUUID()}`;
    await writeFile(tmp, bytes);
    await rename(tmp, dest);
  }

  async prepareDir(prefix: string): Promise<void> {
    await mkdir(this.localPath(prefix), { recursive: true });
  }

  read(location: string): Promise<Uint8Array> {
    return readFile(this.localPath(location));
  }

  scratchDir(name: string): string {
    return path.join(this.root, 'scratch', name);
  }
}
