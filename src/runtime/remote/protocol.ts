/**
 * What a remote worker (`tutti worker`) and a server say to each other over HTTP. The server keeps
 * every decision (retries, timeouts of leases, which result counts); a worker only leases attempts,
 * runs them, keeps their leases alive and reports. Every report names the attempt it is about, so
 * a late report from an attempt whose lease expired is refused, never committed.
 *
 * A worker id is a name, not a proof: the API token lets anyone choose any. What lets a request act
 * on an attempt is the attempt's lease secret, handed only in the answer that leased it; without it
 * (or with a wrong one) every report gets 409 `lease_lost`, exactly as for an attempt that does not
 * exist or has moved on, and changes nothing.
 */
import { z } from '@hono/zod-openapi';
import { MAX_OUTPUTS } from '../limits.js';
import { failureKinds } from '../failures.js';

/** Remote workers are named `r-…`: their leases survive a restart of a server they do not live in. */
export const WorkerId = z
  .string()
  .regex(/^r-[A-Za-z0-9._-]{1,100}$/, 'must start with "r-" followed by 1-100 of A-Z, a-z, 0-9, ".", "_" or "-"')
  .openapi({ example: 'r-build-7-4242-a1b2c3' });

const Slice = z.object({ input: z.number().int().min(0), offset: z.number().int().min(0), length: z.number().int().min(0) });

/** The capability of one lease: sent back with every heartbeat, release, upload and report of the attempt. */
const LeaseSecret = z.string().max(256).openapi({ description: 'the lease secret the job was handed with; without it, or with another, the attempt is not held (409 lease_lost, or listed as lost)' });

export const RemoteJobSchema = z
  .object({
    instanceId: z.string(),
    attempt: z.number().int().min(1),
    leaseSecret: z.string().openapi({
      description: 'what proves the holder of this lease: send it with every heartbeat, release, upload and report of this attempt, to this server only (the jobs of one answer share it)',
    }),
    runId: z.string(),
    taskId: z.string(),
    idx: z.number().int().min(0),
    component: z.string().openapi({ description: 'digest; the bytes are at /api/v1/components/{digest}/wasm' }),
    /** Not trusted blindly: a worker clamps timer values to what a timer can hold (see clampMs). */
    timeoutMs: z.number().positive(),
    partition: z.object({ index: z.number().int(), count: z.number().int(), slices: z.array(Slice) }),
    inputs: z.array(
      z.object({
        assetId: z.string().openapi({ description: 'the bytes are at /api/v1/assets/{assetId}/content' }),
        name: z.string(),
        size: z.number().int().min(0),
        sha256: z.string(),
        mediaType: z.string(),
      }),
    ),
    params: z.array(z.object({ name: z.string(), value: z.string() })),
    env: z.array(z.tuple([z.string(), z.string()])),
    args: z.array(z.string()),
    scratch: z.boolean().openapi({ description: 'mount a private, empty /scratch' }),
    allowedHosts: z.array(z.string()).optional(),
    limits: z.object({ outputBytes: z.number(), logBytes: z.number(), memoryBytes: z.number(), planPartitions: z.number() }),
  })
  .openapi('RemoteJob');
export type RemoteJob = z.infer<typeof RemoteJobSchema>;

export const LeaseRequestSchema = z.object({
  worker: WorkerId,
  max: z.number().int().min(1).max(256).openapi({ description: 'most attempts to lease' }),
  waitMs: z.number().int().min(0).max(60_000).default(25_000).openapi({ description: 'how long to wait for work before answering with none (long poll)' }),
});

export const LeaseResponseSchema = z.object({
  /** A lease lasts this long unless a heartbeat renews it. */
  leaseMs: z.number().positive(),
  jobs: z.array(RemoteJobSchema),
});
export type LeaseResponse = z.infer<typeof LeaseResponseSchema>;

/** The longest delay a timer takes (2^31-1 ms, about 24.8 days): a longer one fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A duration the server sent, made safe to put in a timer. */
export function clampMs(ms: number): number {
  return Math.max(1, Math.min(MAX_TIMER_MS, Math.floor(ms)));
}

const Held = z.object({ instanceId: z.string(), attempt: z.number().int().min(1) });
const HeldWithSecret = Held.extend({ leaseSecret: LeaseSecret.optional() });

export const HeartbeatRequestSchema = z.object({
  worker: WorkerId,
  leases: z.array(HeldWithSecret.extend({ progress: z.number().min(0).max(1).optional() })).max(10_000),
});
export const HeartbeatResponseSchema = z.object({
  leaseMs: z.number().int().positive(),
  /** Attempts this worker no longer holds: stop them, their results would be refused. */
  lost: z.array(Held),
});

export const ReleaseRequestSchema = z.object({ worker: WorkerId, leases: z.array(HeldWithSecret).max(10_000) });

const AttemptReport = z.object({
  worker: WorkerId,
  attempt: z.number().int().min(1),
  leaseSecret: LeaseSecret.optional(),
  log: z.string(),
  /** How long the attempt ran on the worker, ms (at most a day past the longest timeout: it dates the attempt). */
  ms: z.number().min(0).max(2 ** 32),
});

export const CompleteRequestSchema = AttemptReport.extend({
  outputs: z.array(z.object({ name: z.string().max(64), size: z.number().int().min(0), sha256: z.string().regex(/^[0-9a-f]{64}$/) })).max(MAX_OUTPUTS),
});
export type CompleteRequest = z.infer<typeof CompleteRequestSchema>;

export const FailRequestSchema = AttemptReport.extend({
  failure: z.object({ kind: z.enum(failureKinds), message: z.string(), retryable: z.boolean() }),
});
export type FailRequest = z.infer<typeof FailRequestSchema>;

/**
 * A report or upload for an attempt the worker does not hold (lease expired or given to another,
 * no such attempt, or a wrong lease secret: the answer is the same): HTTP 409 with this code.
 */
export const LEASE_LOST = 'lease_lost';

/** The header an output upload carries the attempt's lease secret in (a header, not the URL, which gets logged). */
export const LEASE_SECRET_HEADER = 'x-tutti-lease-secret';
