/**
 * The parts an embedded index is made of. `HybridIndex` holds them; persistence (`parts-io.ts`)
 * writes and reads them and the search side (`embedded-search.ts`) reads them, both without
 * importing the class.
 */
import type { ModelFingerprint } from "../types.js";
import type { ColbertStore } from "./colbert/types.js";
import type { DenseIndex } from "./dense.js";
import type { DocTable } from "./docs.js";
import type { ResolvedDenseOptions } from "./options.js";
import type { ColbertSketch } from "./sketch/sketch.js";
import type { SparseIndex } from "./sparse.js";

export interface IndexParts {
  fingerprint: ModelFingerprint;
  denseDim: number;
  colbertDim: number;
  denseOptions: ResolvedDenseOptions;
  docs: DocTable;
  dense: DenseIndex;
  sparse: SparseIndex;
  colbert: ColbertStore;
  /** The ColBERT sketch, if the index keeps one. */
  sketch?: ColbertSketch;
  generation: number;
  /** Directory the index was loaded from. @default undefined (in memory) */
  location?: string;
}

/** The parts, open: what the search side reads (`checkOpen` throws DISPOSED after close). */
export interface OpenParts extends Readonly<Omit<IndexParts, "generation" | "location">> {
  checkOpen(): void;
}
