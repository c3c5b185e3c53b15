/** Wires the parts of one Tutti process: store, asset store, component cache, worker pool, scheduler. */
import path from 'node:path';
import { LocalAssetStore } from './assets/store.js';
import { componentCacheDir, databaseUrl, homeDir, type HomeOptions } from './home.js';
import { ComponentCache } from './runtime/component.js';
import { WorkerPool } from './runtime/pool.js';
import { ComponentRegistry } from './scheduler/components.js';
import { Engine, type EngineOptions } from './scheduler/engine.js';
import { openDatabase, type Database } from './store/db.js';

export interface TuttiOptions extends HomeOptions {
  dbAuthToken?: string;
  /** Worker threads running instances; default: the CPU count; 0: none (remote workers run them). */
  workers?: number;
  /** Asset directory; default `<home>/assets`. Servers sharing a database must share it. */
  assets?: string;
  /** How long a lease lasts without a heartbeat (EngineOptions.leaseMs). */
  lease?: number;
  /** How often to look for work other servers planned (EngineOptions.pollMs). */
  poll?: number;
  /** Instance bounds for tasks that set none. */
  defaults?: EngineOptions['defaults'];
}

export interface Tutti {
  home: string;
  database: Database;
  assets: LocalAssetStore;
  registry: ComponentRegistry;
  pool: WorkerPool;
  engine: Engine;
  /** Stop; running instances get `graceMs` to finish (default: all the time they need), the rest are handed back. */
  close(graceMs?: number): Promise<void>;
}

export async function openTutti(opts: TuttiOptions = {}): Promise<Tutti> {
  const home = homeDir(opts);
  const database = await openDatabase(databaseUrl(opts), { authToken: opts.dbAuthToken ?? process.env.TUTTI_DB_AUTH_TOKEN });
  const assets = new LocalAssetStore(path.resolve(opts.assets ?? path.join(home, 'assets')));
  const registry = new ComponentRegistry(database.db, assets, new ComponentCache(componentCacheDir(opts)));
  // With no workers of its own, a server still needs one thread to call tasks' `plan` exports.
  const pool = new WorkerPool(opts.workers === 0 ? 1 : opts.workers);
  const engine = new Engine({ db: database, assets, registry, pool, defaults: opts.defaults, leaseMs: opts.lease, pollMs: opts.poll, runInstances: opts.workers !== 0 });
  return {
    home,
    database,
    assets,
    registry,
    pool,
    engine,
    async close(graceMs?: number) {
      await engine.stop(graceMs);
      await pool.close();
      database.close();
    },
  };
}
