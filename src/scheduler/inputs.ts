/**
 * The bytes of a task run's inline inputs (small outputs kept in their database rows), made ready
 * for its instances once, when the task run is planned or its context is loaded.
 */
import { cacheFile, type AssetStore } from '../assets/store.js';
import type { Db } from '../store/db.js';
import { withContent, type AssetRow, type LoadedAsset } from '../store/runs.js';

/**
 * Inline input bytes one task run keeps in hand. Past that (a fan-in over very many small
 * outputs), the rest are written out as files at their locations and read like any other.
 */
export const INPUTS_IN_HAND = 16 << 20;

/**
 * `inputs` with every inline one either in hand or written out as a file. The bytes in hand share
 * one SharedArrayBuffer: a job posted to a worker carries views of it, not a copy per instance.
 */
export async function inputsInHand(db: Db, assets: AssetStore, inputs: LoadedAsset[], budget = INPUTS_IN_HAND): Promise<LoadedAsset[]> {
  if (!inputs.some((a) => a.inline)) return inputs;
  let room = budget;
  const kept: LoadedAsset[] = [];
  const spilled: LoadedAsset[] = [];
  for (const a of inputs) {
    if (!a.inline) continue;
    if (a.size <= room) {
      room -= a.size;
      kept.push(a);
    } else {
      spilled.push(a);
    }
  }
  const shared = new SharedArrayBuffer(budget - room);
  const byId = new Map<string, LoadedAsset>();
  let offset = 0;
  for (const a of await withContent(db, kept)) {
    const view = new Uint8Array(shared, offset, a.content!.length);
    view.set(a.content!);
    offset += view.length;
    byId.set(a.id, { ...a, content: view });
  }
  for (let i = 0; i < spilled.length; i += 200) {
    for (const a of await withContent(db, spilled.slice(i, i + 200))) {
      await cacheFile(assets.localPath(a.location), a.content!);
      byId.set(a.id, { ...a, content: undefined });
    }
  }
  return inputs.map((a) => byId.get(a.id) ?? a);
}

/** All of one asset's bytes, wherever they are (its row, or the asset store). */
export async function readAsset(db: Db, assets: AssetStore, asset: AssetRow): Promise<Uint8Array> {
  if (!asset.inline) return assets.read(asset.location);
  return (await withContent(db, [asset]))[0]!.content!;
}
