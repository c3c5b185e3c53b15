/**
 * The helper thread behind wasi:http (see http.ts): performs one `fetch` at a time for the
 * instance worker that started it, which sleeps on `signal` meanwhile. The whole response is
 * read here, so the guest, once woken, never waits on the network again.
 */
import { workerData, type MessagePort } from 'node:worker_threads';

/** An error-code of wasi:http/types, as jco lowers it. */
export interface ErrorCode {
  tag: string;
  val?: unknown;
}

export interface FetchRequest {
  url: string;
  method: string;
  /** Header values as latin1 strings (one char per byte), as fetch wants them. */
  headers: [string, string][];
  body?: Uint8Array;
  /** Until the response headers arrive (connecting included). */
  headersTimeoutMs: number;
  /** Between two chunks of the response body. */
  betweenBytesTimeoutMs: number;
  maxBodyBytes: number;
}

export type FetchReply =
  | { ok: true; status: number; headers: [string, string][]; body: Uint8Array }
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
  UND_ERR_SOCKET: { tag: 'connection-terminated' },
  ETIMEDOUT: { tag: 'connection-timeout' },
  UND_ERR_CONNECT_TIMEOUT: { tag: 'connection-timeout' },
  UND_ERR_HEADERS_TIMEOUT: { tag: 'HTTP-response-timeout' },
  UND_ERR_BODY_TIMEOUT: { tag: 'connection-read-timeout' },
  EAI_AGAIN: { tag: 'DNS-timeout' },
  EHOSTUNREACH: { tag: 'destination-unavailable' },
  ENETUNREACH: { tag: 'destination-IP-unroutable' },
  EPROTO: { tag: 'TLS-protocol-error' },
};

/** fetch rejects with TypeError('fetch failed'); the reason is its `cause`, an errno-style code. */
function errorCode(e: unknown): ErrorCode {
  const cause = (e as { cause?: unknown })?.cause ?? e;
  const code = String((cause as { code?: unknown })?.code ?? '');
  if (CODES[code]) return CODES[code];
  if (code === 'ENOTFOUND' || code === 'EAI_NONAME') return { tag: 'DNS-error', val: { rcode: code, infoCode: undefined } };
  if (/CERT|UNABLE_TO_VERIFY|SELF_SIGNED/.test(code)) return { tag: 'TLS-certificate-error' };
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return { tag: 'TLS-protocol-error' };
  if (code.startsWith('HPE_')) return { tag: 'HTTP-protocol-error' };
  return { tag: 'internal-error', val: cause instanceof Error ? cause.message : String(cause) };
}

async function perform(req: FetchRequest): Promise<FetchReply> {
  const abort = new AbortController();
  let timedOut: ErrorCode | undefined;
  let timer: NodeJS.Timeout | undefined;
  const arm = (ms: number, code: ErrorCode) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = code;
      abort.abort();
    }, ms);
  };
  let headersReceived = false;
  try {
    arm(req.headersTimeoutMs, { tag: 'HTTP-response-timeout' });
    // redirect: 'manual' — the guest sees the 3xx and may follow it with a new request, which is
    // checked against the allowed hosts like any other; fetch must not follow it on its own.
    const res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body, redirect: 'manual', signal: abort.signal });
    headersReceived = true;
    const chunks: Uint8Array[] = [];
    let size = 0;
    if (res.body) {
      const reader = res.body.getReader();
      for (;;) {
        arm(req.betweenBytesTimeoutMs, { tag: 'connection-read-timeout' });
        const { done, value } = await reader.read();
        if (done) break;
        size += value.length;
        if (size > req.maxBodyBytes) {
          await reader.cancel();
          return { ok: false, error: { tag: 'HTTP-response-body-size', val: undefined } };
        }
        chunks.push(value);
      }
    }
    const body = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) {
      body.set(c, at);
      at += c.length;
    }
    return { ok: true, status: res.status, headers: [...res.headers], body };
  } catch (e) {
    // A connection lost mid-body is an incomplete response, not a failure to connect.
    return { ok: false, error: timedOut ?? (headersReceived ? { tag: 'HTTP-response-incomplete' } : errorCode(e)) };
  } finally {
    clearTimeout(timer);
  }
}

const { port, signal } = workerData as HelperData;
port.on('message', async (req: FetchRequest) => {
  const reply = await perform(req).catch((e: unknown): FetchReply => ({ ok: false, error: errorCode(e) }));
  // Post first, then wake: the reply is in the port's queue before the instance looks for it.
  port.postMessage(reply, reply.ok ? [reply.body.buffer as ArrayBuffer] : []);
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
});
