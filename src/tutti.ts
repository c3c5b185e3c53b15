/** Wires the parts of one Tutti process: store, asset store, component cache, worker pool, scheduler. */
import path from 'node:path';
import { LocalAssetStore } from './assets/store.js';
import { ComponentCache } from './runtime/component.js';
import { WorkerPool } from './runtime/pool.js';
import { ComponentRegistry } from './scheduler/components.js';
import { Engine, type EngineOptions } from './scheduler/engine.js';
import { openDatabase, type Database } from './store/db.js';

export interface TuttiOptions {
  /** Directory for the embedded database, assets and caches. Default ./.tutti */
  home?: string;
  /** libSQL URL or file path; default `<home>/tutti.db`. */
  db?: string;
  dbAuthToken?: string;
  /** Worker threads running instances; default: the CPU count. */
  workers?: number;
  /** Instance bounds for tasks that set none. */
  defaults?: EngineOptions['defaults'];
  /** Transpiled components, keyed by content digest, so safe to share between homes. Default `<home>/cache`. */
  cacheDir?: string;
}

export interface Tutti {
  home: string;
  database: Database;
  assets: LocalAssetStore;
  registry: ComponentRegistry;
  pool: WorkerPool;
  engine: Engine;
  close(): Promise<void>;
}

export async function openTutti(opts: TuttiOptions = {}): Promise<Tutti> {
  const home = path.resolve(opts.home ?? '.tutti');
  const database = await openDatabase(opts.db ?? path.join(home, 'tutti.db'), { authToken: opts.dbAuthToken });
  const assets = new LocalAssetStore(path.join(home, 'assets'));
  const registry = new ComponentRegistry(database.db, assets, new ComponentCache(opts.cacheDir ?? process.env.TUTTI_CACHE_DIR ?? path.join(home, 'cache', 'components')));
  const pool = new WorkerPool(opts.workers);
  const engine = new Engine({ db: database, assets, registry, pool, defaults: opts.defaults });
  return {
    home,
    database,
    assets,
    registry,
    pool,
    engine,
    async close() {
      await engine.stop();
      await pool.close();
      database.close();
    },
  };
}
