/** Registering component bytes: validated by the runtime, recorded in the store, kept in the asset store. */
import type { AssetStore } from '../assets/store.js';
import type { ComponentCache, PreparedComponent } from '../runtime/component.js';
import { sha256 } from '../runtime/component.js';
import type { Db } from '../store/db.js';
import { getComponent, saveComponent } from '../store/components.js';

export function componentLocation(digest: string): string {
  return `components/${digest}.wasm`;
}

export class ComponentRegistry {
  private readonly known = new Map<string, Promise<PreparedComponent>>();

  constructor(
    private readonly db: Db,
    private readonly assets: AssetStore,
    private readonly cache: ComponentCache,
  ) {}

  /** Validate and store a component; returns it ready to instantiate. Throws ComponentRejected. */
  async register(bytes: Uint8Array): Promise<PreparedComponent> {
    const prepared = await this.cache.prepare(bytes);
    // The row is written after the bytes, so a known row means both are stored: nothing to redo.
    if (!(await getComponent(this.db, prepared.info.digest))) {
      await this.assets.write(componentLocation(prepared.info.digest), bytes);
      await saveComponent(this.db, prepared.info);
    }
    this.known.set(prepared.info.digest, Promise.resolve(prepared));
    return prepared;
  }

  /** A registered component by digest, compiled once per process. */
  get(digest: string): Promise<PreparedComponent> {
    let p = this.known.get(digest);
    if (!p) {
      p = this.assets.read(componentLocation(digest)).then((bytes) => {
        if (sha256(bytes) !== digest) throw new Error(`component ${digest} is corrupt in the asset store`);
        return this.cache.prepare(bytes);
      });
      this.known.set(digest, p);
      p.catch(() => this.known.delete(digest));
    }
    return p;
  }
}
