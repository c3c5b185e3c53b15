/**
 * Outgoing HTTP (wasi:http/types + wasi:http/outgoing-handler) for tasks whose flow lists allowed
 * hosts (`network: { allow: [host | host:port] }`; a bare host allows any port), and nowhere else.
 *
 * A request to any other host gets error-code HTTP-request-denied: an answer a well-behaved guest
 * can handle, not a sandbox violation. Redirects are never followed by the host (the guest sees
 * the 3xx, and a request it makes to the new location is checked like any other).
 *
 * The guest calls in synchronously, so requests are synchronous too: a helper thread (one per
 * instance worker, started on first use; http-worker.ts) makes each request with node:http(s)
 * while this thread sleeps in Atomics.wait, which is allowed since instances run in worker
 * threads. Bodies are buffered whole, both ways, up to MAX_BODY bytes: a request is sent when the
 * guest first asks for its response (its body, if any, must be finished by then), and the
 * response is handed over once fully read. A hung helper is still bounded by the task's timeout,
 * which ends the whole worker, helper included.
 *
 * Results: jco lowers a thrown non-Error (or a thrown object's `payload`) as a function's error
 * value, and a returned value as its ok value, so errors here are thrown plain objects.
 */
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { sandboxViolation } from '../failures.js';
import type { ErrorCode, HelperReply, HelperRequest, HelperData, RawHeaders } from './http-worker.js';
import { InputStream, IoError, OutputStream, Pollable } from './streams.js';

/** Request and response bodies are held in memory: a larger one fails the request. */
const MAX_BODY = 64 * 2 ** 20;
/** Defaults when the guest passes no request-options (nanoseconds, as wasi:clocks durations). */
const DEFAULT_CONNECT_NS = 30_000_000_000n;
const DEFAULT_FIRST_BYTE_NS = 30_000_000_000n;
const DEFAULT_BETWEEN_BYTES_NS = 30_000_000_000n;

type Method =
  | { tag: 'get' | 'head' | 'post' | 'put' | 'delete' | 'connect' | 'options' | 'trace' | 'patch' }
  | { tag: 'other'; val: string };
type Scheme = { tag: 'HTTP' | 'HTTPS' } | { tag: 'other'; val: string };
type Entry = [string, Uint8Array];

/** Fail a function returning a `result` whose error carries nothing. */
function refuse(): never {
  throw { payload: undefined };
}
/** The "already taken" answer of a future's get(): some(err). A value, not a thrown error. */
const TAKEN = { tag: 'err', val: undefined } as const;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** host[:port], the form the flow schema allows (no userinfo, so nothing can hide another host). */
const AUTHORITY = /^[a-z0-9.-]+(:\d{1,5})?$/i;
/** An absolute path and query: visible ASCII, no fragment. */
const PATH_WITH_QUERY = /^\/[\x21\x22\x24-\x7e]*$/;
/**
 * Headers a guest may not set (wasmtime's list): hop-by-hop ones node:http manages, and `host`,
 * which would let a request to an allowed address ask that server for some other site.
 */
const FORBIDDEN = new Set(['host', 'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade', 'http2-settings']);

/** Throws a header-error when `name` (and `value`) cannot be set. */
function checkField(name: string, value?: Uint8Array): void {
  if (!TOKEN.test(name) || value?.some((b) => b === 0 || b === 10 || b === 13)) throw { tag: 'invalid-syntax' };
  if (FORBIDDEN.has(name.toLowerCase())) throw { tag: 'forbidden' };
}

/** node:http carries header bytes as latin1 strings, one char per byte. */
const fromRaw = (raw: RawHeaders) => Fields.frozen(raw.map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'latin1'))]));
const toRaw = (entries: Entry[]): RawHeaders => entries.map(([k, v]) => [k, Buffer.from(v).toString('latin1')]);

/** wasi:http/types.fields: names compared case-insensitively and kept lowercase, in order. */
export class Fields {
  #list: Entry[] = [];
  #immutable = false;

  static fromList(list: Entry[]): Fields {
    const f = new Fields();
    for (const [name, value] of list) {
      checkField(name, value);
      f.#list.push([name.toLowerCase(), value]);
    }
    return f;
  }

  /** Host side: headers the guest may read but not change (a response's, a request's). */
  static frozen(list: Entry[]): Fields {
    const f = new Fields();
    f.#list = list;
    f.#immutable = true;
    return f;
  }

  get(name: string): Uint8Array[] {
    const key = name.toLowerCase();
    return this.#list.filter(([k]) => k === key).map(([, v]) => v);
  }
  has(name: string): boolean {
    const key = name.toLowerCase();
    return this.#list.some(([k]) => k === key);
  }
  set(name: string, values: Uint8Array[]): void {
    this.#mutable();
    checkField(name);
    for (const v of values) checkField(name, v);
    this.#remove(name);
    for (const v of values) this.#list.push([name.toLowerCase(), v]);
  }
  delete(name: string): void {
    this.#mutable();
    checkField(name);
    this.#remove(name);
  }
  append(name: string, value: Uint8Array): void {
    this.#mutable();
    checkField(name, value);
    this.#list.push([name.toLowerCase(), value]);
  }
  entries(): Entry[] {
    return this.#list.map(([k, v]) => [k, v]);
  }
  clone(): Fields {
    const f = new Fields();
    f.#list = this.entries();
    return f;
  }

  #mutable(): void {
    if (this.#immutable) throw { tag: 'immutable' };
  }
  #remove(name: string): void {
    const key = name.toLowerCase();
    this.#list = this.#list.filter(([k]) => k !== key);
  }
}

/** wasi:http/types.outgoing-body: collected in memory, sent with the request once finished. */
export class OutgoingBody {
  #chunks: Uint8Array[] = [];
  #size = 0;
  #stream?: OutputStream;
  /** Host side: the guest called finish. */
  finished = false;

  write(): OutputStream {
    if (this.#stream || this.finished) refuse();
    this.#stream = new OutputStream({
      write: (bytes) => {
        if (this.finished) throw { tag: 'closed' };
        if (this.#size + bytes.length > MAX_BODY) {
          throw { tag: 'last-operation-failed', val: new IoError(`request body larger than ${MAX_BODY} bytes`) };
        }
        this.#chunks.push(bytes); // jco hands us a copy of guest memory
        this.#size += bytes.length;
      },
    });
    return this.#stream;
  }

  static finish(body: OutgoingBody, trailers?: Fields): void {
    // Bodies go out whole with a content-length, which leaves no room for trailers: refuse them
    // rather than drop them silently.
    if (trailers?.entries().length) throw { tag: 'internal-error', val: 'request trailers are not supported' } satisfies ErrorCode;
    body.finished = true;
  }

  /** Host side: the whole body. */
  bytes(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.#chunks, this.#size));
  }
}

interface Draft {
  method: Method;
  scheme?: Scheme;
  authority?: string;
  pathWithQuery?: string;
  headers: Fields;
  body?: OutgoingBody;
}

/** wasi:http/types.outgoing-request: checked and sent by outgoing-handler.handle. */
export class OutgoingRequest {
  /** Host side: what handle() sends (not a WIT method, so the guest cannot reach it). */
  readonly draft: Draft;

  constructor(headers: Fields) {
    this.draft = { method: { tag: 'get' }, headers };
  }
  body(): OutgoingBody {
    if (this.draft.body) refuse();
    return (this.draft.body = new OutgoingBody());
  }
  method(): Method {
    return this.draft.method;
  }
  setMethod(method: Method): void {
    if (method.tag === 'other' && !TOKEN.test(method.val)) refuse();
    this.draft.method = method;
  }
  pathWithQuery(): string | undefined {
    return this.draft.pathWithQuery;
  }
  setPathWithQuery(path?: string): void {
    if (path !== undefined && !PATH_WITH_QUERY.test(path)) refuse();
    this.draft.pathWithQuery = path;
  }
  scheme(): Scheme | undefined {
    return this.draft.scheme;
  }
  setScheme(scheme?: Scheme): void {
    if (scheme?.tag === 'other' && !/^[a-z][a-z0-9+.-]*$/i.test(scheme.val)) refuse();
    this.draft.scheme = scheme;
  }
  authority(): string | undefined {
    return this.draft.authority;
  }
  setAuthority(authority?: string): void {
    if (authority !== undefined && !AUTHORITY.test(authority)) refuse();
    this.draft.authority = authority;
  }
  headers(): Fields {
    return Fields.frozen(this.draft.headers.entries());
  }
}

/** wasi:http/types.request-options: durations in nanoseconds; none means the host's default. */
export class RequestOptions {
  #connect?: bigint;
  #firstByte?: bigint;
  #betweenBytes?: bigint;

  connectTimeout(): bigint | undefined {
    return this.#connect;
  }
  setConnectTimeout(d?: bigint): void {
    this.#connect = d;
  }
  firstByteTimeout(): bigint | undefined {
    return this.#firstByte;
  }
  setFirstByteTimeout(d?: bigint): void {
    this.#firstByte = d;
  }
  betweenBytesTimeout(): bigint | undefined {
    return this.#betweenBytes;
  }
  setBetweenBytesTimeout(d?: bigint): void {
    this.#betweenBytes = d;
  }
}

/** wasi:http/types.incoming-body: the buffered response body, read through one input-stream. */
export class IncomingBody {
  #streamed = false;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly trailers: Fields | undefined,
  ) {}

  stream(): InputStream {
    if (this.#streamed) refuse();
    this.#streamed = true;
    let at = 0;
    return new InputStream({
      read: (max) => {
        const chunk = this.bytes.subarray(at, at + max);
        at += chunk.length;
        return chunk;
      },
    });
  }

  static finish(body: IncomingBody): FutureTrailers {
    return new FutureTrailers(body.trailers);
  }
}

/** wasi:http/types.future-trailers: already read with the body, so always ready. */
export class FutureTrailers {
  #taken = false;
  constructor(private readonly trailers: Fields | undefined) {}

  subscribe(): Pollable {
    return new Pollable();
  }
  get() {
    if (this.#taken) return TAKEN;
    this.#taken = true;
    return { tag: 'ok', val: { tag: 'ok', val: this.trailers } };
  }
}

/** wasi:http/types.incoming-response */
export class IncomingResponse {
  #consumed = false;
  constructor(private readonly reply: Extract<HelperReply, { ok: true }>) {}

  status(): number {
    return this.reply.status;
  }
  headers(): Fields {
    return fromRaw(this.reply.headers);
  }
  consume(): IncomingBody {
    if (this.#consumed) refuse();
    this.#consumed = true;
    return new IncomingBody(this.reply.body, this.reply.trailers.length ? fromRaw(this.reply.trailers) : undefined);
  }
}

/**
 * wasi:http/types.future-incoming-response. The request goes out on the first get(), which blocks
 * until the response is in; so the pollable is always ready, and a guest that waits on it and
 * then calls get() (the usual order) sees the exchange it expects.
 */
export class FutureIncomingResponse {
  #taken = false;
  constructor(private readonly send: () => IncomingResponse | ErrorCode) {}

  subscribe(): Pollable {
    return new Pollable();
  }
  get() {
    if (this.#taken) return TAKEN;
    this.#taken = true;
    const res = this.send();
    return { tag: 'ok', val: res instanceof IncomingResponse ? { tag: 'ok', val: res } : { tag: 'err', val: res } };
  }
}

/** Server-side resources (wasi:http/incoming-handler), which no task is given. */
const serverSide = (name: string) =>
  class {
    constructor() {
      throw sandboxViolation(`wasi:http/types#${name}`);
    }
  };

// ---------------------------------------------------------------------------------------------
// The helper thread, and a synchronous request through it.

let helper: HelperData | undefined;

function requestSync(req: HelperRequest): HelperReply {
  if (!helper) {
    const { port1, port2 } = new MessageChannel();
    const signal = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(new URL('./http-worker.js', import.meta.url), {
      workerData: { port: port2, signal } satisfies HelperData,
      transferList: [port2],
    });
    worker.unref(); // idle, it must not keep the instance worker alive
    helper = { port: port1, signal };
  }
  const { port, signal } = helper;
  Atomics.store(signal, 0, 0);
  port.postMessage(req);
  while (Atomics.load(signal, 0) === 0) Atomics.wait(signal, 0, 0);
  const reply = receiveMessageOnPort(port);
  return reply ? (reply.message as HelperReply) : { ok: false, error: { tag: 'internal-error', val: 'the HTTP helper thread sent no reply' } };
}

const nsToMs = (ns: bigint) => Math.max(1, Math.min(2 ** 31 - 1, Number(ns / 1_000_000n)));

interface Allowed {
  hostname: string;
  port?: number;
}

/** `host` or `host:port`, with the host normalized the way the URL parser (and so node:http) sees it. */
function parseAllowed(entry: string): Allowed | undefined {
  const m = /^(.+?)(?::(\d+))?$/.exec(entry);
  try {
    return { hostname: new URL(`http://${m![1]}`).hostname, port: m![2] === undefined ? undefined : Number(m![2]) };
  } catch {
    return undefined; // the flow schema already refuses these
  }
}

export function httpImports(allowedHosts: string[]): Record<string, object> {
  const allowed = allowedHosts.map(parseAllowed).filter((a): a is Allowed => a !== undefined);

  function handle(request: OutgoingRequest, options?: RequestOptions): FutureIncomingResponse {
    const d = request.draft;
    if (d.scheme?.tag === 'other' || d.authority === undefined) throw { tag: 'HTTP-request-URI-invalid' } satisfies ErrorCode;
    // No scheme: HTTPS, the safe default.
    const scheme = d.scheme?.tag === 'HTTP' ? 'http' : 'https';
    let url: URL;
    try {
      url = new URL(`${scheme}://${d.authority}${d.pathWithQuery ?? '/'}`);
    } catch {
      throw { tag: 'HTTP-request-URI-invalid' } satisfies ErrorCode;
    }
    // Checked on the parsed URL, the very host and port the helper will connect to.
    const port = Number(url.port || (scheme === 'https' ? 443 : 80));
    if (!allowed.some((a) => a.hostname === url.hostname && (a.port === undefined || a.port === port))) {
      throw { tag: 'HTTP-request-denied' } satisfies ErrorCode;
    }
    const method = d.method.tag === 'other' ? d.method.val : d.method.tag.toUpperCase();
    // CONNECT asks for a tunnel, not a response: no place for it here.
    if (method.toUpperCase() === 'CONNECT') throw { tag: 'HTTP-request-method-invalid' } satisfies ErrorCode;
    const connectTimeoutMs = nsToMs(options?.connectTimeout() ?? DEFAULT_CONNECT_NS);
    const firstByteTimeoutMs = nsToMs(options?.firstByteTimeout() ?? DEFAULT_FIRST_BYTE_NS);
    const betweenBytesTimeoutMs = nsToMs(options?.betweenBytesTimeout() ?? DEFAULT_BETWEEN_BYTES_NS);

    return new FutureIncomingResponse(() => {
      if (d.body && !d.body.finished) {
        return { tag: 'internal-error', val: 'finish the request body before asking for the response: this host sends bodies whole' };
      }
      const body = d.body?.bytes();
      // The body goes out whole, so its length is known: it replaces whatever the guest declared.
      const headers = toRaw(d.headers.entries().filter(([name]) => name !== 'content-length'));
      if (body) headers.push(['content-length', String(body.length)]);
      const reply = requestSync({
        url: url.href,
        method,
        headers,
        body: body?.length ? body : undefined,
        connectTimeoutMs,
        firstByteTimeoutMs,
        betweenBytesTimeoutMs,
        maxBodyBytes: MAX_BODY,
      });
      return reply.ok ? new IncomingResponse(reply) : reply.error;
    });
  }

  return {
    'wasi:http/types': {
      Fields,
      OutgoingRequest,
      OutgoingBody,
      RequestOptions,
      FutureIncomingResponse,
      IncomingResponse,
      IncomingBody,
      FutureTrailers,
      IncomingRequest: serverSide('IncomingRequest'),
      OutgoingResponse: serverSide('OutgoingResponse'),
      ResponseOutparam: serverSide('ResponseOutparam'),
      httpErrorCode: () => undefined,
    },
    'wasi:http/outgoing-handler': { handle },
  };
}
