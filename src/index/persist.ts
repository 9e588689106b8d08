/**
 * save / load of a `HybridIndex` directory: the class assembled from the parts `parts-io.ts`
 * writes and reads (the file format and its guarantees are described there).
 */
import { HybridIndex } from "./hybrid-index.js";
import { readParts, type LoadOptions, type SaveOptions } from "./parts-io.js";

export type { LoadOptions, SaveOptions };

/** Saves `index` into `dir` (created if needed). Concurrent mutations wait for the save. */
export function saveIndex(index: HybridIndex, dir: string, options: SaveOptions = {}): Promise<void> {
  return index.save(dir, options);
}

/** Loads the index saved in `dir`. Throws INDEX_CORRUPT or INDEX_MODEL_MISMATCH; never returns a partial index. */
export async function loadIndex(dir: string, options: LoadOptions = {}): Promise<HybridIndex> {
  return new HybridIndex(await readParts(dir, options));
}
