/** Sizes of an embedded index's parts, for `HybridIndex.stats()`, `info()` and benchmarks. */
import type { IndexParts } from "./parts.js";

export interface IndexStats {
  documents: number;
  /** Slots in use plus free slots waiting for re-use. */
  slots: number;
  freeSlots: number;
  dense: { dim: number; vectorBytes: number; graphBytes: number };
  sparse: { terms: number; postings: number; postingsBytes: number; forwardBytes: number };
  colbert: { codec: string; dim: number; liveBytes: number; totalBytes: number; residentBytes: number; liveSlots: number };
  /** The in-memory ColBERT sketch (undefined without one): sketched rows, row means and their graph. */
  sketch?: { dim: number; rowBytes: number; meanBytes: number; graphBytes: number };
  /** UTF-16 length x 2 of ids, texts and JSON metadata: an estimate of the document table. */
  docBytes: number;
}

export function indexStats(index: IndexParts): IndexStats {
  const d = index.dense.memory();
  const s = index.sparse.memory();
  const c = index.colbert.stats();
  let docBytes = 0;
  for (const slot of index.docs.slots()) {
    const doc = index.docs.at(slot)!;
    docBytes += 2 * (doc.id.length + doc.pageContent.length + JSON.stringify(doc.metadata).length);
  }
  const sketch = index.sketch === undefined ? undefined : { dim: index.sketch.dim, ...index.sketch.memory() };
  return {
    ...(sketch === undefined ? {} : { sketch }),
    documents: index.docs.size,
    slots: index.docs.slotCount,
    freeSlots: index.docs.slotCount - index.docs.size,
    dense: { dim: index.denseDim, ...d },
    sparse: { terms: index.sparse.termCount, postings: index.sparse.postingCount, ...s },
    colbert: { codec: index.colbert.codec, dim: index.colbert.dim, ...c },
    docBytes,
  };
}
