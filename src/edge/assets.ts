/**
 * Assets on Workers: R2, plus what the API's upload path needs. The API writes an uploaded run
 * input to a temporary file and imports it; on Workers that file is in the request's in-memory
 * /tmp, so importing it means reading it back and storing the bytes in R2.
 */
import { readFileSync } from 'node:fs';
import { R2AssetStore } from '../assets/r2.js';
import type { StoredAsset } from '../assets/store.js';

export class EdgeAssetStore extends R2AssetStore {
  override importFile(location: string, source?: string): Promise<StoredAsset> {
    return source === undefined ? super.importFile(location) : this.importBytes(location, readFileSync(source));
  }

  /** An asset's bytes for a download through the API. */
  async open(location: string): Promise<ReadableStream<Uint8Array>> {
    const bytes = await this.read(location);
    return new Response(bytes).body!;
  }
}
