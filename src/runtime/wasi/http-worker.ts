/**
 * The helper thread behind wasi:http (see http.ts): performs one request at a time for the
 * instance worker that started it, which sleeps on `signal` meanwhile. The whole response is
 * read here, so the guest, once woken, never waits on the network again.
 *
 * node:http(s) rather than fetch: it sends only the headers the guest set (fetch adds its own,
 * and decompresses bodies behind a content-encoding header the guest still sees), never follows
 * redirects, gives raw header bytes and trailers, and lets the three wasi:http timeouts mean
 * what they say (connect, first byte, between bytes).
 */
import http from 'node:http';
import https from 'node:https';
import { workerData, type MessagePort } from 'node:worker_threads';

/** An error-code of wasi:http/types, as jco lowers it. */
export interface ErrorCode {
  tag: string;
  val?: unknown;
}

/** Header names and values as latin1 strings (one char per byte), the way node:http takes and gives them. */
export type RawHeaders = [string, string][];

export interface HelperRequest {
  url: string;
  method: string;
  headers: RawHeaders;
  body?: Uint8Array;
  connectTimeoutMs: number;
  firstByteTimeoutMs: number;
  betweenBytesTimeoutMs: number;
  maxBodyBytes: number;
}

export type HelperReply =
  | { ok: true; status: number; headers: RawHeaders; body: Uint8Array; trailers: RawHeaders }
  | { ok: false; error: ErrorCode };

export interface HelperData {
  /** Requests come in and replies go out on this port. */
  port: MessagePort;
  /** signal[0]: the instance sets 0 before each request and sleeps until this thread sets 1. */
  signal: Int32Array;
}

const CODES: Record<string, ErrorCode> = {
  ECONNREFUSED: { tag: 'connection-refused' },
  ECONNRESET: { tag: 'connection-terminated' },
  EPIPE: { tag: 'connection-terminated' },
  ETIMEDOUT: { tag: 'connection-timeout' },
  EAI_AGAIN: { tag: 'DNS-timeout' },
  EHOSTUNREACH: { tag: 'destination-unavailable' },
  ENETUNREACH: { tag: 'destination-IP-unroutable' },
  EPROTO: { tag: 'TLS-protocol-error' },
};

function errorCode(e: unknown): ErrorCode {
  const code = String((e as { code?: unknown })?.code ?? '');
  if (CODES[code]) return CODES[code];
  if (code === 'ENOTFOUND' || code === 'EAI_NONAME') return { tag: 'DNS-error', val: { rcode: code, infoCode: undefined } };
  if (/CERT|UNABLE_TO_VERIFY|SELF_SIGNED/.test(code)) return { tag: 'TLS-certificate-error' };
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return { tag: 'TLS-protocol-error' };
  if (code.startsWith('HPE_')) return { tag: 'HTTP-protocol-error' };
  return { tag: 'internal-error', val: e instanceof Error ? e.message : String(e) };
}

const pairs = (raw: string[]): RawHeaders => {
  const out: RawHeaders = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i]!.toLowerCase(), raw[i + 1]!]);
  return out;
};

function perform(req: HelperRequest): Promise<HelperReply> {
  return new Promise((resolve) => {
    const url = new URL(req.url);
    let timer: NodeJS.Timeout | undefined;
    let request: http.ClientRequest | undefined;
    let responded = false;
    let done = false;
    const settle = (reply: HelperReply) => {
      done = true;
      clearTimeout(timer);
      resolve(reply); // later calls are no-ops
    };
    const fail = (error: ErrorCode) => {
      settle({ ok: false, error });
      request?.destroy();
    };
    const arm = (ms: number, error: ErrorCode) => {
      clearTimeout(timer);
      if (!done) timer = setTimeout(() => fail(error), ms);
    };
    try {
      arm(req.connectTimeoutMs, { tag: 'connection-timeout' });
      // The array form sends exactly these headers: Host (the authority that was checked) included.
      const headers = [['host', url.host], ...req.headers].flat();
      request = (url.protocol === 'https:' ? https : http).request(url, { method: req.method, headers });
    } catch (e) {
      fail(errorCode(e)); // e.g. a header node:http refuses
      return;
    }
    request.on('socket', (socket) => {
      const connected = () => arm(req.firstByteTimeoutMs, { tag: 'HTTP-response-timeout' });
      if (!socket.connecting) connected(); // a kept-alive connection
      else socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', connected);
    });
    request.on('error', (e) => fail(responded ? { tag: 'HTTP-response-incomplete' } : errorCode(e)));
    request.on('response', (res) => {
      responded = true;
      const chunks: Buffer[] = [];
      let size = 0;
      arm(req.betweenBytesTimeoutMs, { tag: 'connection-read-timeout' });
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > req.maxBodyBytes) return fail({ tag: 'HTTP-response-body-size', val: undefined });
        chunks.push(chunk);
        arm(req.betweenBytesTimeoutMs, { tag: 'connection-read-timeout' });
      });
      res.on('end', () =>
        settle({
          ok: true,
          status: res.statusCode ?? 0,
          headers: pairs(res.rawHeaders),
          body: new Uint8Array(Buffer.concat(chunks, size)),
          trailers: pairs(res.rawTrailers),
        }),
      );
      res.on('close', () => res.complete || fail({ tag: 'HTTP-response-incomplete' }));
    });
    request.end(req.body);
  });
}

const { port, signal } = workerData as HelperData;
port.on('message', async (req: HelperRequest) => {
  const reply = await perform(req).catch((e: unknown): HelperReply => ({ ok: false, error: errorCode(e) }));
  // Post first, then wake: the reply is in the port's queue before the instance looks for it.
  port.postMessage(reply, reply.ok ? [reply.body.buffer as ArrayBuffer] : []);
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
});
