/** Where an instance's bytes go: output files with running sha256, and a capped log. */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { MAX_OUTPUTS } from './limits.js';
import { InstanceAbort } from './failures.js';
import type { JobInput, OutputFile, Slice } from './protocol.js';
import type { ByteSink, ByteSource } from './wasi/streams.js';

/**
 * Output directories this thread has made lately: an attempt's first output then costs one open,
 * not a failed open, its error and a mkdir (every task of every run has a directory of its own).
 */
const made = new Set<string>();

/** What an output may be called: it becomes part of a file name. */
export const OUTPUT_NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/i;

/**
 * Outputs up to this size are kept in hand and stored in their database row (see assets.content):
 * a file costs a create and an fsync before the commit that records it, more than the task on a
 * step of a chain of small tasks. At most `INLINE_ATTEMPT_BYTES` per attempt, so that a commit of
 * a group of attempts stays small.
 */
export const INLINE_OUTPUT_BYTES = 16 << 10;
const INLINE_ATTEMPT_BYTES = 64 << 10;

export { MAX_OUTPUTS } from './limits.js';

/**
 * Most files of one attempt open at once, outputs and inputs each: a worker runs one instance at a
 * time, so a process holds at most twice this per worker, whatever an instance writes or reads.
 * Past it the oldest opened is closed, and opened again if it is used again: an instance that
 * writes or reads a few files at a time, the usual case, never reopens one.
 */
export const OPEN_FILES = 16;

interface Output {
  /** Its bytes are in the file at `path`, past the sizes kept in hand; until then they are in `chunks`. */
  file: boolean;
  /** Open while `file` and among the last OPEN_FILES opened (see Outputs.opened). */
  fd?: number;
  chunks: Uint8Array[];
  hash: Hash;
  size: number;
  path: string;
}

/**
 * The outputs of one attempt. A small one stays in memory; a larger one is written where it will
 * live (`<dir>/<stem><name>`, a name no other attempt uses), so committing it moves no file. Every
 * write counts against one shared cap, and every new name against MAX_OUTPUTS.
 */
export class Outputs {
  private readonly files = new Map<string, Output>();
  /** Outputs with an open fd, oldest opened first: at most OPEN_FILES. */
  private readonly opened: Output[] = [];
  private total = 0;
  private inHand = 0;

  constructor(
    private readonly dir: string,
    private readonly stem: string,
    private readonly cap: number,
  ) {}

  /** Throws a string (the guest-visible error) for a bad name; aborts the instance past a cap. */
  write(name: string, bytes: Uint8Array): void {
    if (!OUTPUT_NAME.test(name)) throw `invalid output name "${name}": use 1-64 characters of a-z, 0-9, "_", "-" or "."`;
    if (this.total + bytes.length > this.cap) {
      throw new InstanceAbort({
        kind: 'output-limit',
        message: `output limit reached: the instance wrote more than ${this.cap} bytes`,
        retryable: false,
      });
    }
    let f = this.files.get(name);
    if (!f) {
      if (this.files.size >= MAX_OUTPUTS) {
        throw new InstanceAbort({
          kind: 'too-many-outputs',
          message: `too many outputs: the instance wrote to more than ${MAX_OUTPUTS} distinct outputs ("${name}" would be one more)`,
          retryable: false,
        });
      }
      f = { file: false, chunks: [], hash: createHash('sha256'), size: 0, path: path.join(this.dir, `${this.stem}${name}`) };
      this.files.set(name, f);
    }
    if (!f.file && (f.size + bytes.length > INLINE_OUTPUT_BYTES || this.inHand + bytes.length > INLINE_ATTEMPT_BYTES)) {
      const fd = this.open(f, 'w');
      f.file = true; // from here on, discard() removes it
      for (const c of f.chunks) writeAll(fd, c);
      f.chunks = [];
      this.inHand -= f.size;
    }
    if (!f.file) {
      // The guest's memory (or a reused buffer) under it changes after this call.
      f.chunks.push(bytes.slice());
      this.inHand += bytes.length;
    } else {
      writeAll(f.fd ?? this.open(f, 'a'), bytes);
    }
    f.hash.update(bytes);
    f.size += bytes.length;
    this.total += bytes.length;
  }

  /** Open `f`'s file, first closing the oldest opened if OPEN_FILES are. */
  private open(f: Output, flags: 'w' | 'a'): number {
    if (this.opened.length >= OPEN_FILES) {
      const old = this.opened.shift()!;
      closeSync(old.fd!);
      old.fd = undefined;
    }
    f.fd = flags === 'w' ? this.create(f.path) : openSync(f.path, 'a');
    this.opened.push(f);
    return f.fd;
  }

  private create(p: string): number {
    if (!made.has(this.dir)) {
      mkdirSync(this.dir, { recursive: true });
      if (made.size >= 1024) made.clear();
      made.add(this.dir);
    }
    try {
      return openSync(p, 'w');
    } catch (e) {
      // Removed since (a run's files deleted): make it again.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      mkdirSync(this.dir, { recursive: true });
      return openSync(p, 'w');
    }
  }

  sink(name: string): ByteSink {
    return { write: (bytes) => this.write(name, bytes) };
  }

  /** Close every file; make sure `ensure` exist even when nothing was written (an empty stdout is an output). */
  close(ensure: string[] = []): OutputFile[] {
    for (const name of ensure) if (!this.files.has(name)) this.write(name, new Uint8Array(0));
    const out: OutputFile[] = [];
    for (const [name, f] of this.files) {
      const file: OutputFile = { name, size: f.size, sha256: f.hash.digest('hex'), path: f.path };
      if (!f.file) file.bytes = f.chunks.length === 1 ? f.chunks[0]! : Buffer.concat(f.chunks);
      else if (f.fd !== undefined) closeSync(f.fd);
      out.push(file);
    }
    this.files.clear();
    this.opened.length = 0;
    return out;
  }

  /** Close and delete what a failed attempt wrote. */
  discard(): void {
    for (const f of this.files.values()) {
      if (!f.file) continue;
      if (f.fd !== undefined) closeSync(f.fd);
      rmSync(f.path, { force: true });
    }
    this.files.clear();
    this.opened.length = 0;
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
}

/**
 * A log that keeps the first `cap` characters and counts the rest. A guest that goes on logging long
 * past the cap (16 times it) is stopped: it is burning a worker for output nobody will keep.
 */
export class CappedLog {
  private readonly chunks: string[] = [];
  private kept = 0;
  private dropped = 0;
  private readonly decoder = new TextDecoder();

  constructor(private readonly cap: number) {}

  append(text: string): void {
    if (this.kept >= this.cap) {
      this.dropped += text.length;
      if (this.dropped > 16 * this.cap) {
        throw new InstanceAbort({
          kind: 'output-limit',
          message: `log limit reached: the instance logged more than ${17 * this.cap} characters (${this.cap} kept)`,
          retryable: false,
        });
      }
      return;
    }
    const room = this.cap - this.kept;
    const part = text.length > room ? text.slice(0, room) : text;
    this.chunks.push(part);
    this.kept += part.length;
    this.dropped += text.length - part.length;
  }

  sink(): ByteSink {
    return { write: (bytes) => this.append(this.decoder.decode(bytes, { stream: true })) };
  }

  text(): string {
    const body = this.chunks.join('');
    return this.dropped ? `${body}\n[tutti: log truncated, ${this.dropped} more characters dropped]\n` : body;
  }
}

/**
 * One read buffer per thread: a worker runs one instance at a time, and the bindings copy every
 * read into guest memory before the next. Allocating it per instance cost more than a no-op task.
 */
let readBuffer: Uint8Array | undefined;

/** Random access to the inputs of one instance; file descriptors opened on first use, at most OPEN_FILES at once. */
export class InputReader {
  /** Input index to fd, oldest opened first (a Map keeps insertion order). */
  private readonly fds = new Map<number, number>();

  constructor(readonly inputs: JobInput[]) {}

  /**
   * Up to `length` bytes of input `input` at `offset`. With `scratch`, the bytes land in that reused
   * buffer (valid until the next call): the bindings copy them into guest memory at once anyway.
   */
  read(input: number, offset: number, length: number, scratch?: Uint8Array): Uint8Array {
    const meta = this.inputs[input];
    if (!meta) throw `no input ${input}: this instance has ${this.inputs.length} input(s)`;
    if (offset >= meta.size || length <= 0) return new Uint8Array(0);
    const n = Math.min(length, meta.size - offset, scratch?.length ?? 16 << 20);
    if (meta.bytes) return meta.bytes.subarray(offset, offset + n);
    let fd = this.fds.get(input);
    if (fd === undefined) {
      if (this.fds.size >= OPEN_FILES) {
        const [oldest, oldFd] = this.fds.entries().next().value!;
        closeSync(oldFd);
        this.fds.delete(oldest);
      }
      fd = openSync(meta.path, 'r');
      this.fds.set(input, fd);
    }
    const buf = scratch ? scratch.subarray(0, n) : new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const r = readSync(fd, buf, got, n - got, offset + got);
      if (r === 0) break;
      got += r;
    }
    return got === n ? buf : buf.subarray(0, got);
  }

  /** A stream over the given slices in order: what a command-world instance reads on stdin. */
  stream(slices: Slice[]): ByteSource {
    let i = 0;
    let pos = 0;
    const scratch = (readBuffer ??= new Uint8Array(1 << 20));
    return {
      read: (max) => {
        while (i < slices.length) {
          const s = slices[i]!;
          if (pos < s.length) {
            const bytes = this.read(s.input, s.offset + pos, Math.min(max, s.length - pos), scratch);
            if (bytes.length === 0) throw new Error(`input ${s.input} is shorter than its slice`);
            pos += bytes.length;
            return bytes;
          }
          i++;
          pos = 0;
        }
        return new Uint8Array(0);
      },
    };
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}
