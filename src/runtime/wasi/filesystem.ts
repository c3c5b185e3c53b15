/**
 * wasi:filesystem for one granted directory (a task's /scratch), and nothing else.
 *
 * Paths are resolved lexically inside the directory: absolute paths and any `..` that would leave
 * it are refused, and symlinks cannot be created, so nothing outside is reachable. Every byte
 * written counts against a cap. Synchronous on purpose: the guest calls in synchronously.
 */
import {
  closeSync, fstatSync, ftruncateSync, fsyncSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmdirSync,
  statSync, unlinkSync, writeSync, constants, type Stats,
} from 'node:fs';
import path from 'node:path';
import { InstanceAbort } from '../failures.js';
import { InputStream, OutputStream } from './streams.js';

type ErrorCode = 'access' | 'exist' | 'invalid' | 'is-directory' | 'no-entry' | 'not-directory' | 'not-empty' | 'not-permitted' | 'unsupported' | 'io' | 'bad-descriptor';

const ERRNO: Record<string, ErrorCode> = {
  ENOENT: 'no-entry', EEXIST: 'exist', ENOTDIR: 'not-directory', EISDIR: 'is-directory', ENOTEMPTY: 'not-empty',
  EACCES: 'access', EPERM: 'not-permitted', EINVAL: 'invalid', EBADF: 'bad-descriptor', ELOOP: 'not-permitted',
};

function fail(code: ErrorCode): never {
  throw code; // jco lowers a thrown non-Error as the function's error-code
}

function wrap<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (typeof e === 'string' || e instanceof InstanceAbort) throw e;
    fail(ERRNO[(e as NodeJS.ErrnoException).code ?? ''] ?? 'io');
  }
}

const timestamp = (ms: number) => ({ seconds: BigInt(Math.floor(ms / 1000)), nanoseconds: Math.floor((ms % 1000) * 1e6) });

function describe(st: Stats) {
  return {
    type: st.isDirectory() ? 'directory' : st.isFile() ? 'regular-file' : 'unknown',
    linkCount: BigInt(st.nlink),
    size: BigInt(st.size),
    dataAccessTimestamp: timestamp(st.atimeMs),
    dataModificationTimestamp: timestamp(st.mtimeMs),
    statusChangeTimestamp: timestamp(st.ctimeMs),
  };
}

/**
 * Most files one instance may hold open in /scratch at once. Each is a host file descriptor, which
 * the whole process shares; wasi-libc's adapter holds fewer anyway, so only a guest that calls
 * wasi:filesystem itself can reach this.
 */
export const MAX_OPEN_SCRATCH_FILES = 128;

/** What jco calls when the guest drops a resource (its own fallback where Node has no Symbol.dispose). */
const symbolDispose: symbol = (Symbol as { dispose?: symbol }).dispose ?? Symbol.for('dispose');

/** Bytes written through every descriptor of one instance, and the files it has open. */
class Quota {
  used = 0;
  readonly open = new Set<Descriptor>();
  constructor(readonly cap: number) {}
  charge(n: number): void {
    this.used += n;
    if (this.used > this.cap) {
      throw new InstanceAbort({ kind: 'output-limit', message: `scratch limit reached: more than ${this.cap} bytes written to /scratch`, retryable: false });
    }
  }
  opening(): void {
    if (this.open.size >= MAX_OPEN_SCRATCH_FILES) {
      throw new InstanceAbort({ kind: 'output-limit', message: `scratch limit reached: more than ${MAX_OPEN_SCRATCH_FILES} files open at once in /scratch`, retryable: false });
    }
  }
}

export class DirectoryEntryStream {
  private i = 0;
  constructor(private readonly entries: { name: string; type: string }[]) {}
  readDirectoryEntry() {
    return this.entries[this.i++];
  }
}

export class Descriptor {
  private fd?: number;
  /** Set when the guest drops it: its fd is closed, and its streams, which may outlive it, report closed. */
  private dropped = false;

  constructor(
    private readonly root: string,
    private readonly hostPath: string,
    private readonly isDir: boolean,
    private readonly writable: boolean,
    private readonly quota: Quota,
  ) {}

  /** A guest path relative to this directory, as a host path that cannot leave the root. */
  private resolve(p: string): string {
    if (!this.isDir) fail('not-directory');
    if (path.posix.isAbsolute(p) || p.includes('\0')) fail('not-permitted');
    const host = path.resolve(this.hostPath, p);
    if (host !== this.root && !host.startsWith(this.root + path.sep)) fail('not-permitted');
    return host;
  }

  private handle(): number {
    if (this.isDir) fail('is-directory');
    if (this.dropped) fail('bad-descriptor');
    if (this.fd === undefined) {
      this.quota.opening();
      this.fd = wrap(() => openSync(this.hostPath, this.writable ? 'r+' : 'r'));
      this.quota.open.add(this);
    }
    return this.fd;
  }

  /**
   * The fd for one operation of a stream of this descriptor, looked up each time: a stream used
   * after its descriptor was dropped must not write to whatever file has that fd number since.
   */
  private streamFd(): number {
    if (this.dropped) throw { tag: 'closed' };
    return this.handle();
  }

  readViaStream(offset: bigint): InputStream {
    let pos = Number(offset);
    this.handle();
    return new InputStream({
      read: (max) => {
        const buf = new Uint8Array(max);
        const n = readSync(this.streamFd(), buf, 0, max, pos);
        pos += n;
        return buf.subarray(0, n);
      },
    });
  }

  writeViaStream(offset: bigint): OutputStream {
    if (!this.writable) fail('bad-descriptor');
    let pos = Number(offset);
    this.handle();
    return new OutputStream({
      write: (bytes) => {
        const fd = this.streamFd();
        this.quota.charge(bytes.length);
        pos += writeSync(fd, bytes, 0, bytes.length, pos);
      },
    });
  }

  appendViaStream(): OutputStream {
    return this.writeViaStream(BigInt(fstatSync(this.handle()).size));
  }

  advise(): void {}
  syncData(): void {
    if (!this.isDir) fsyncSync(this.handle());
  }
  sync(): void {
    this.syncData();
  }

  getFlags() {
    return { read: true, write: this.writable, mutateDirectory: this.isDir && this.writable };
  }

  getType(): string {
    return this.isDir ? 'directory' : 'regular-file';
  }

  setSize(size: bigint): void {
    if (!this.writable) fail('bad-descriptor');
    const n = Number(size);
    this.quota.charge(Math.max(0, n - fstatSync(this.handle()).size));
    wrap(() => ftruncateSync(this.handle(), n));
  }

  setTimes(): void {}
  setTimesAt(): void {}

  read(length: bigint, offset: bigint): [Uint8Array, boolean] {
    const buf = new Uint8Array(Math.min(Number(length), 1 << 20));
    const n = wrap(() => readSync(this.handle(), buf, 0, buf.length, Number(offset)));
    return [buf.subarray(0, n), n < buf.length];
  }

  write(buffer: Uint8Array, offset: bigint): bigint {
    if (!this.writable) fail('bad-descriptor');
    this.quota.charge(buffer.length);
    return BigInt(wrap(() => writeSync(this.handle(), buffer, 0, buffer.length, Number(offset))));
  }

  readDirectory(): DirectoryEntryStream {
    if (!this.isDir) fail('not-directory');
    const entries = wrap(() => readdirSync(this.hostPath, { withFileTypes: true }));
    return new DirectoryEntryStream(entries.map((e) => ({ name: e.name, type: e.isDirectory() ? 'directory' : e.isFile() ? 'regular-file' : 'unknown' })));
  }

  createDirectoryAt(p: string): void {
    if (!this.writable) fail('access');
    const host = this.resolve(p);
    wrap(() => mkdirSync(host));
  }

  stat() {
    return describe(wrap(() => statSync(this.hostPath)));
  }

  statAt(_flags: unknown, p: string) {
    const host = this.resolve(p);
    return describe(wrap(() => statSync(host)));
  }

  linkAt(): never {
    fail('not-permitted');
  }

  openAt(_pathFlags: unknown, p: string, open: { create?: boolean; directory?: boolean; exclusive?: boolean; truncate?: boolean }, flags: { write?: boolean; mutateDirectory?: boolean }): Descriptor {
    const host = this.resolve(p);
    const wantWrite = Boolean(flags.write || flags.mutateDirectory || open.create || open.truncate);
    if (wantWrite && !this.writable) fail('access');
    if (open.directory) {
      const st = wrap(() => statSync(host));
      if (!st.isDirectory()) fail('not-directory');
      return new Descriptor(this.root, host, true, this.writable, this.quota);
    }
    this.quota.opening();
    let mode = constants.O_RDONLY;
    if (flags.write) mode = constants.O_RDWR;
    if (open.create) mode |= constants.O_CREAT;
    if (open.exclusive) mode |= constants.O_EXCL;
    if (open.truncate) mode |= constants.O_TRUNC;
    // O_NOFOLLOW: no symlink can be made inside, but refuse to follow one anyway.
    const fd = wrap(() => openSync(host, mode | constants.O_NOFOLLOW));
    const st = fstatSync(fd);
    if (st.isDirectory()) {
      closeSync(fd);
      return new Descriptor(this.root, host, true, this.writable, this.quota);
    }
    const d = new Descriptor(this.root, host, false, Boolean(flags.write), this.quota);
    d.fd = fd;
    this.quota.open.add(d);
    return d;
  }

  readlinkAt(): never {
    fail('invalid');
  }

  removeDirectoryAt(p: string): void {
    const host = this.resolve(p);
    if (host === this.root) fail('not-permitted');
    wrap(() => rmdirSync(host));
  }

  renameAt(oldPath: string, newDir: Descriptor, newPath: string): void {
    const from = this.resolve(oldPath);
    const to = newDir.resolve(newPath);
    if (from === this.root || to === this.root) fail('not-permitted');
    wrap(() => renameSync(from, to));
  }

  symlinkAt(): never {
    fail('not-permitted');
  }

  unlinkFileAt(p: string): void {
    const host = this.resolve(p);
    wrap(() => unlinkSync(host));
  }

  isSameObject(other: Descriptor): boolean {
    return other.hostPath === this.hostPath;
  }

  metadataHash() {
    const st = wrap(() => statSync(this.hostPath));
    return { lower: BigInt(st.ino), upper: BigInt(st.dev) };
  }

  metadataHashAt(_flags: unknown, p: string) {
    const st = wrap(() => statSync(this.resolve(p)));
    return { lower: BigInt(st.ino), upper: BigInt(st.dev) };
  }

  /** Close an open file (called when the instance ends, for what the guest left open). */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  /**
   * The guest dropped it (wasi-libc's close): close its file now. Left open until the instance
   * ended, a program that wrote 20,000 files one after the other held 20,000 of the process's fds.
   */
  [symbolDispose](): void {
    this.dropped = true;
    this.close();
    this.quota.open.delete(this);
  }
}

/**
 * The filesystem imports for an instance: `scratch` (a host directory) at /scratch, or no directory
 * at all. `onDispose` receives the function that closes whatever the guest left open.
 */
export function filesystemImports(scratch: { dir: string; cap: number } | undefined, onDispose: (fn: () => void) => void) {
  const preopens: [Descriptor, string][] = [];
  if (scratch) {
    mkdirSync(scratch.dir, { recursive: true });
    const root = path.resolve(scratch.dir);
    const quota = new Quota(scratch.cap);
    preopens.push([new Descriptor(root, root, true, true, quota), '/scratch']);
    onDispose(() => {
      for (const d of quota.open) d.close();
    });
  }
  return {
    'wasi:filesystem/preopens': { getDirectories: () => preopens },
    'wasi:filesystem/types': { Descriptor, DirectoryEntryStream, filesystemErrorCode: () => undefined },
  };
}
