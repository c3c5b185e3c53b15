/** What the API's routes work with: the process's parts and the server's limits. */
import type { AssetStore } from '../assets/store.js';
import type { ComponentRegistry } from '../scheduler/components.js';
import type { Engine } from '../scheduler/engine.js';
import type { ScheduleLoop } from '../scheduler/schedules.js';
import type { FlowSpec } from '../scheduler/spec.js';
import type { Db } from '../store/db.js';
import type { EventRow } from '../store/events.js';
import type { NewRun, RunRow } from '../store/runs.js';

export interface ApiOptions {
  /** Bearer token every /api/v1 and /metrics request must carry; none: no auth. */
  token?: string;
  /** Largest upload accepted (components, run inputs, webhook bodies, remote workers' outputs), bytes. */
  maxUploadBytes?: number;
  /** Largest body of every other route (JSON and flow documents), bytes. */
  maxJsonBytes?: number;
  /** Browser origins allowed to call the API (CORS), e.g. where the dashboard is hosted; "*" for any. */
  corsOrigins?: string[];
}

/**
 * What the routes use of the process serving them: a Node `Tutti`, or on Workers the D1 store, R2
 * and a queue (edge/worker.ts).
 */
export interface ApiHost {
  database: { db: Db; client: { execute(sql: string): Promise<unknown> } };
  assets: AssetStore;
  registry: Pick<ComponentRegistry, 'register'>;
  /** On Node also the remote workers' side of the engine; Workers have no remote workers. */
  engine: {
    /**
     * Record a new run and set it going; returns its creation events (none: its dedupe key was
     * taken) and the run as committed when it was started at once.
     */
    submit(run: NewRun, spec: FlowSpec): Promise<{ events: EventRow[]; started?: RunRow }>;
    /** A flow revision's spec (revisions never change: implementations may keep them). */
    flowSpec(flowId: string, revision: number): Promise<FlowSpec>;
    notify(runId: string): void;
    report(events: EventRow[]): void;
    onEvent(fn: (e: EventRow) => void): () => void;
    /** Events after an id from memory, when this process knows them all (undefined: read the store). */
    recentEvents?(afterId: number, runId?: string, limit?: number): EventRow[] | undefined;
    /** Chain links run ahead here (Node): taken by their dispatch, or not. */
    linksAhead?: { taken: number; notTaken: number };
  } & Partial<RemoteEngine>;
  pool: { size: number };
  /** An asset's bytes for a download; without it, the file at the asset store's local path. */
  openAsset?(location: string): Promise<ReadableStream<Uint8Array>>;
}

export type RemoteEngine = Pick<Engine, 'leaseRemote' | 'leaseMs' | 'heartbeatRemote' | 'releaseRemote' | 'uploadRemoteOutput' | 'completeRemote' | 'failRemote'>;

export interface Api {
  tutti: ApiHost;
  schedules?: ScheduleLoop;
  maxUploadBytes: number;
  maxJsonBytes: number;
}

export const DEFAULT_MAX_UPLOAD = 256 * 2 ** 20;
/** Documents and reports are small: a JSON body is never a reason to hold megabytes per request. */
export const DEFAULT_MAX_JSON = 2 ** 20;
