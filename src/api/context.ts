/** What the API's routes work with: the process's parts and the server's limits. */
import type { ScheduleLoop } from '../scheduler/schedules.js';
import type { Tutti } from '../tutti.js';

export interface ApiOptions {
  /** Bearer token every /api/v1 and /metrics request must carry; none: no auth. */
  token?: string;
  /** Largest request body accepted (component and asset uploads), bytes. */
  maxUploadBytes?: number;
  /** Browser origins allowed to call the API (CORS), e.g. where the dashboard is hosted; "*" for any. */
  corsOrigins?: string[];
}

export interface Api {
  tutti: Tutti;
  schedules?: ScheduleLoop;
  maxUploadBytes: number;
}

export const DEFAULT_MAX_UPLOAD = 256 * 2 ** 20;
/** Flow documents are small; a bigger body is a mistake, not a flow. */
export const MAX_FLOW_BYTES = 2 ** 20;
