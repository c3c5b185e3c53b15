/**
 * The WASI Preview 2 host Tutti gives to every instance: deny by default.
 *
 * Granted: arguments and the environment the flow declares (never the host's), stdin/stdout/stderr
 * wired to the partition and to capped sinks, clocks, randomness, and /scratch when the flow asks
 * for it. Denied: every other directory (the guest sees none), sockets, outgoing HTTP; calling a
 * denied function ends the instance with a sandbox-violation naming it. `exit` ends the instance,
 * never the process.
 */
import { randomFillSync } from 'node:crypto';
import { ExitSignal, sandboxViolation } from '../failures.js';
import { filesystemImports } from './filesystem.js';
import { httpImports } from './http.js';
import { InputStream, IoError, OutputStream, Pollable, poll, type ByteSink, type ByteSource } from './streams.js';

export interface WasiConfig {
  args: string[];
  env: [string, string][];
  stdin: ByteSource;
  stdout: ByteSink;
  stderr: ByteSink;
  /** A host directory the guest sees as /scratch, when the flow grants one. */
  scratch?: { dir: string; cap: number };
  /** Hosts outgoing HTTP may reach (wasi:http); none by default. Raw sockets are never granted. */
  allowedHosts?: string[];
  /** Collects what must be released when the instance ends. */
  onDispose?: (fn: () => void) => void;
}

/** Interfaces a component may import. Anything else cannot be satisfied and is rejected at upload. */
export const grantableInterfaces = [
  'wasi:cli/environment', 'wasi:cli/exit', 'wasi:cli/stdin', 'wasi:cli/stdout', 'wasi:cli/stderr',
  'wasi:cli/terminal-input', 'wasi:cli/terminal-output', 'wasi:cli/terminal-stdin',
  'wasi:cli/terminal-stdout', 'wasi:cli/terminal-stderr',
  'wasi:io/error', 'wasi:io/poll', 'wasi:io/streams',
  'wasi:clocks/monotonic-clock', 'wasi:clocks/wall-clock',
  'wasi:random/random', 'wasi:random/insecure', 'wasi:random/insecure-seed',
  'wasi:filesystem/types', 'wasi:filesystem/preopens',
  'wasi:sockets/instance-network', 'wasi:sockets/network', 'wasi:sockets/tcp', 'wasi:sockets/tcp-create-socket',
  'wasi:sockets/udp', 'wasi:sockets/udp-create-socket', 'wasi:sockets/ip-name-lookup',
  'wasi:http/types', 'wasi:http/outgoing-handler',
  'tutti:task/host', 'tutti:task/types',
];

/** An interface whose every function (and resource constructor) is a sandbox violation. */
function denied(iface: string): object {
  const fns = new Map<string, unknown>();
  return new Proxy(
    {},
    {
      get(_t, key) {
        if (typeof key !== 'string' || key === 'then') return undefined;
        if (!fns.has(key)) {
          fns.set(key, function deniedFunction() {
            throw sandboxViolation(`${iface}#${key}`);
          });
        }
        return fns.get(key);
      },
    },
  );
}

function randomBytes(len: bigint): Uint8Array {
  const out = new Uint8Array(Number(len));
  for (let i = 0; i < out.length; i += 65536) randomFillSync(out, i, Math.min(65536, out.length - i));
  return out;
}

function randomU64(): bigint {
  const b = randomBytes(8n);
  return new DataView(b.buffer).getBigUint64(0);
}

class TerminalInput {}
class TerminalOutput {}


export function wasiImports(cfg: WasiConfig): Record<string, object> {
  const stdin = new InputStream(cfg.stdin);
  const stdout = new OutputStream(cfg.stdout);
  const stderr = new OutputStream(cfg.stderr);
  const exit = (code: number): never => {
    throw new ExitSignal(code);
  };
  return {
    'wasi:cli/environment': {
      getEnvironment: () => cfg.env,
      getArguments: () => cfg.args,
      initialCwd: () => undefined,
    },
    'wasi:cli/exit': {
      exit: (status: { tag: 'ok' | 'err' }) => exit(status.tag === 'ok' ? 0 : 1),
      exitWithCode: (code: number) => exit(code),
    },
    'wasi:cli/stdin': { getStdin: () => stdin },
    'wasi:cli/stdout': { getStdout: () => stdout },
    'wasi:cli/stderr': { getStderr: () => stderr },
    'wasi:cli/terminal-input': { TerminalInput },
    'wasi:cli/terminal-output': { TerminalOutput },
    'wasi:cli/terminal-stdin': { getTerminalStdin: () => undefined },
    'wasi:cli/terminal-stdout': { getTerminalStdout: () => undefined },
    'wasi:cli/terminal-stderr': { getTerminalStderr: () => undefined },
    'wasi:io/error': { Error: IoError },
    'wasi:io/poll': { Pollable, poll },
    'wasi:io/streams': { InputStream, OutputStream },
    'wasi:clocks/monotonic-clock': {
      now: () => process.hrtime.bigint(),
      resolution: () => 1n,
      subscribeInstant: (at: bigint) => new Pollable(at),
      subscribeDuration: (d: bigint) => new Pollable(process.hrtime.bigint() + d),
    },
    'wasi:clocks/wall-clock': {
      now: () => {
        const ms = Date.now();
        return { seconds: BigInt(Math.floor(ms / 1000)), nanoseconds: (ms % 1000) * 1e6 };
      },
      resolution: () => ({ seconds: 0n, nanoseconds: 1e6 }),
    },
    'wasi:random/random': { getRandomBytes: randomBytes, getRandomU64: randomU64 },
    'wasi:random/insecure': { getInsecureRandomBytes: randomBytes, getInsecureRandomU64: randomU64 },
    'wasi:random/insecure-seed': { insecureSeed: () => [randomU64(), randomU64()] },
    ...filesystemImports(cfg.scratch, cfg.onDispose ?? (() => {})),
    'wasi:sockets/instance-network': denied('wasi:sockets/instance-network'),
    'wasi:sockets/network': denied('wasi:sockets/network'),
    'wasi:sockets/tcp': denied('wasi:sockets/tcp'),
    'wasi:sockets/tcp-create-socket': denied('wasi:sockets/tcp-create-socket'),
    'wasi:sockets/udp': denied('wasi:sockets/udp'),
    'wasi:sockets/udp-create-socket': denied('wasi:sockets/udp-create-socket'),
    'wasi:sockets/ip-name-lookup': denied('wasi:sockets/ip-name-lookup'),
    ...(cfg.allowedHosts?.length
      ? httpImports(cfg.allowedHosts)
      : { 'wasi:http/types': denied('wasi:http/types'), 'wasi:http/outgoing-handler': denied('wasi:http/outgoing-handler') }),
  };
}
