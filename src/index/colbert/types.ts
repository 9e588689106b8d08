/**
 * Contract between the hybrid index and its ColBERT part. The index owns document ids and
 * maps each live document to a dense integer `slot`; the ColBERT store keeps one token matrix
 * per slot, encoded with a codec, in memory or in one append-only file per index.
 */
import type { MultiVector } from "../../types.js";

/** Storage precision of ColBERT matrices. `binary` keeps 1 bit per dimension (sign). */
export type ColbertCodecName = "float32" | "float16" | "int8" | "binary";

export interface ColbertStoreOptions {
  /** Codec of stored matrices. @default chosen from bench/ measurements, see README */
  codec?: ColbertCodecName;
  /**
   * Token pooling: merge near-duplicate token vectors of a document so that about
   * tokens/poolFactor remain (re-normalised). 1 disables pooling. @default 1
   */
  poolFactor?: number;
  /** Upper bound, in bytes, on decoded/raw matrix bytes kept in memory by a disk-backed store. @default 268435456 (256 MiB) */
  cacheBytes?: number;
}

/** What the store records in the index manifest so it can be reopened. */
export interface ColbertManifestPart {
  codec: ColbertCodecName;
  poolFactor: number;
  dim: number;
  /** The append-only data file (relative to the index directory). */
  dataFile: string;
  /** Bytes of `dataFile` that belong to committed records; anything after is ignored on open. */
  committedBytes: number;
  /** The offset-table file (relative), one record per slot; checksummed by the index. */
  offsetsFile: string;
  /** Live slots and live bytes, for compaction decisions and `m3 info`. */
  liveSlots: number;
  liveBytes: number;
}

export interface ColbertStore {
  readonly codec: ColbertCodecName;
  readonly dim: number;
  readonly poolFactor: number;
  /** Number of live matrices. */
  readonly size: number;
  /** Stores (or replaces) the matrix of `slot`. */
  put(slot: number, matrix: MultiVector): Promise<void>;
  /** Forgets `slot` (its bytes are reclaimed by compaction). */
  remove(slot: number): void;
  has(slot: number): boolean;
  /** Decoded matrix of `slot` (float32, dequantised), or undefined. */
  get(slot: number): Promise<MultiVector | undefined>;
  /** ColBERT scores (spec formula) of `query` against each slot, in the order given. Missing slot -> NaN. */
  score(query: MultiVector, slots: Uint32Array): Promise<Float32Array>;
  /** Bytes on disk (or in memory for an in-memory store) of live records / of all records. */
  stats(): { liveBytes: number; totalBytes: number; residentBytes: number; liveSlots: number };
  /** Flushes appended records to `dir` and writes the offset table; returns the manifest part. */
  persist(dir: string, generation: number): Promise<ColbertManifestPart>;
  /** Releases file handles and caches. */
  close(): Promise<void>;
}

/**
 * How the hybrid index makes ColBERT stores (added by the index side; implement it in
 * src/index/colbert/index.ts). The index calls `create` for a new index and `open` when
 * loading, after it has verified the offsets file's sha256 and that `dataFile` holds at
 * least `committedBytes` bytes.
 */
export interface ColbertStoreFactory {
  /** A new, empty store for matrices of `dim` columns. */
  create(dim: number, options?: ColbertStoreOptions): Promise<ColbertStore>;
  /** Reopens the store recorded in `part`, whose files are in `dir`. */
  open(dir: string, part: ColbertManifestPart, options?: ColbertStoreOptions): Promise<ColbertStore>;
}
