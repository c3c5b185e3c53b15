/**
 * wasi:io streams and pollables, fully synchronous and in memory: an instance's stdin is its
 * partition, its stdout and stderr are sinks the host drains. Nothing here touches a host fd.
 */

/** wasi:io/error.error */
export class IoError {
  constructor(private readonly message: string) {}
  toDebugString(): string {
    return this.message;
  }
}

/** wasi:io/poll.pollable; ready at `deadlineNs` (monotonic), or at once when undefined. */
export class Pollable {
  constructor(readonly deadlineNs?: bigint) {}
  ready(): boolean {
    return this.deadlineNs === undefined || process.hrtime.bigint() >= this.deadlineNs;
  }
  block(): void {
    if (this.deadlineNs === undefined) return;
    const ms = Number(this.deadlineNs - process.hrtime.bigint()) / 1e6;
    if (ms > 0) sleepSync(ms);
  }
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
/** Instances run in worker threads, where blocking is allowed and is what the guest asked for. */
function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

export function poll(list: Pollable[]): Uint32Array {
  for (;;) {
    const ready: number[] = [];
    list.forEach((p, i) => p.ready() && ready.push(i));
    if (ready.length) return Uint32Array.from(ready);
    const next = list.reduce((m, p) => (p.deadlineNs !== undefined && p.deadlineNs < m ? p.deadlineNs : m), BigInt(Number.MAX_SAFE_INTEGER) * 1000n);
    new Pollable(next).block();
  }
}

export interface ByteSource {
  /** Up to `max` bytes; an empty array at the end. */
  read(max: number): Uint8Array;
}

export interface ByteSink {
  write(bytes: Uint8Array): void;
}

const CLOSED = { tag: 'closed' } as const;
const MAX_READ = 1 << 20;

/** wasi:io/streams.input-stream */
export class InputStream {
  constructor(private readonly source: ByteSource) {}
  read(len: bigint): Uint8Array {
    const bytes = this.source.read(Math.min(Number(len), MAX_READ));
    if (bytes.length === 0 && len > 0n) throw CLOSED;
    return bytes;
  }
  blockingRead(len: bigint): Uint8Array {
    return this.read(len);
  }
  skip(len: bigint): bigint {
    return BigInt(this.read(len).length);
  }
  blockingSkip(len: bigint): bigint {
    return this.skip(len);
  }
  subscribe(): Pollable {
    return new Pollable();
  }
}

/** How much a guest may write per call: generous, since sinks never block. */
const WRITE_BUDGET = 1n << 20n;

/** wasi:io/streams.output-stream */
export class OutputStream {
  constructor(private readonly sink: ByteSink) {}
  checkWrite(): bigint {
    return WRITE_BUDGET;
  }
  write(bytes: Uint8Array): void {
    this.sink.write(bytes);
  }
  blockingWriteAndFlush(bytes: Uint8Array): void {
    this.sink.write(bytes);
  }
  flush(): void {}
  blockingFlush(): void {}
  writeZeroes(len: bigint): void {
    this.sink.write(new Uint8Array(Number(len)));
  }
  blockingWriteZeroesAndFlush(len: bigint): void {
    this.writeZeroes(len);
  }
  splice(): bigint {
    throw { tag: 'last-operation-failed', val: new IoError('splice is not supported') };
  }
  blockingSplice(): bigint {
    return this.splice();
  }
  subscribe(): Pollable {
    return new Pollable();
  }
}

export const emptySource: ByteSource = { read: () => new Uint8Array(0) };
