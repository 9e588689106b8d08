/** Options of the hybrid index, with their defaults. */
import type { ColbertStoreFactory, ColbertStoreOptions } from "./colbert/types.js";

/** HNSW parameters of the dense part (hnswlib-node, inner-product space over normalised vectors). */
export interface DenseIndexOptions {
  /** Graph degree (hnswlib `M`). @default 16 */
  M?: number;
  /** Candidate list size while inserting. @default 200 */
  efConstruction?: number;
  /**
   * Candidate list size while searching; a search for N candidates uses max(efSearch, N).
   * @default 256 (fused recall@10 0.996 on the synthetic 20k corpus vs 0.988 at 128; see test/index-recall.test.ts)
   */
  efSearch?: number;
  /** Seed of hnswlib's level generator, for reproducible graphs. @default 100 */
  seed?: number;
}

export interface HybridIndexOptions {
  /** Dense parameters. */
  dense?: DenseIndexOptions;
  /** ColBERT store parameters, passed to the store factory. */
  colbert?: ColbertStoreOptions;
  /**
   * Dense dimension. @default the model fingerprint's hiddenSize
   */
  denseDim?: number;
  /** ColBERT dimension. @default the model fingerprint's hiddenSize */
  colbertDim?: number;
  /**
   * Columns of the ColBERT sketch kept in memory (see src/index/sketch): every document's ColBERT
   * rows count-sketched to this many columns, int8 (sketchDim + 4 bytes a row: 132 at 128, ~21 KiB
   * for a document of 160 rows), plus the mean row in an HNSW graph. It gives searches a ColBERT
   * first stage and an approximate ColBERT tier (`colbertCandidates`, `rerank`). Capped at
   * colbertDim; 0 keeps no sketch (searches then rerank the dense ∪ sparse pool exactly, as
   * before). @default 128
   */
  sketchDim?: number;
  /**
   * Makes and reopens the ColBERT store. @default the package's store (src/index/colbert)
   */
  colbertFactory?: ColbertStoreFactory;
}

export const DENSE_DEFAULTS = Object.freeze({ M: 16, efConstruction: 200, efSearch: 256, seed: 100 });

/** See {@link HybridIndexOptions.sketchDim}. */
export const DEFAULT_SKETCH_DIM = 128;

export type ResolvedDenseOptions = Required<DenseIndexOptions>;

export function resolveDense(o: DenseIndexOptions | undefined): ResolvedDenseOptions {
  return {
    M: o?.M ?? DENSE_DEFAULTS.M,
    efConstruction: o?.efConstruction ?? DENSE_DEFAULTS.efConstruction,
    efSearch: o?.efSearch ?? DENSE_DEFAULTS.efSearch,
    seed: o?.seed ?? DENSE_DEFAULTS.seed,
  };
}
