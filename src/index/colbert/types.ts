/**
 * Contract between the hybrid index and its ColBERT part. The index owns document ids and
 * maps each live document to a dense integer `slot`; the ColBERT store keeps one token matrix
 * per slot, encoded with a codec, in memory or in one append-only file per index.
 *
 * ## Persistence protocol (the index writes the manifest; the store writes its own files)
 * Files in the index directory: `colbert-data.<g>.bin` (records, append-only; `<g>` = the
 * generation that created it) and `colbert-offsets.<g>.bin` (slot -> record table, one per
 * persisted generation). Generations must strictly increase, one per manifest commit; a save
 * whose manifest was not committed may be retried with the same generation.
 * 1. `part = await store.persist(dir, g)`: fsyncs appended records, writes the offsets file of
 *    `g`. Persisting into the store's own directory appends; into another directory (or from an
 *    in-memory store) writes a fresh data file `colbert-data.<g>.bin` there and switches to it.
 * 2. The index checksums `part.offsetsFile` (and may checksum the data file's first
 *    `committedBytes`), writes the manifest with `part` to a temporary name, fsyncs, renames.
 * 3. After the rename only: delete the files the previous manifest named and the new one does
 *    not (and, after `compact`, its `obsoleteFiles`). Before the rename, nothing the old manifest references
 *    has been modified: records are only appended past its `committedBytes`, which
 *    `openColbertStore` ignores (and truncates before its first append).
 * `compact(dir, g)` follows the same steps with its `part`; it rewrites live records into a new
 * `colbert-data.<g>.bin` and never deletes the old file itself.
 * One writer per directory: two stores opened on the same files must not both `put`.
 */
import type { ColbertCodecName } from "../../multivector/codec/codec.js";
import type { ColbertKernel } from "../../multivector/maxsim/kernels.js";
import type { MultiVector, RowScorer } from "../../types.js";

export type { ColbertCodecName, ColbertKernel };


export interface ColbertStoreOptions {
  /**
   * Codec of stored matrices (bytes per token at dim 1024: float32 4096, float16 2048,
   * int8 1028, binary 128). @default "int8" (see bench/colbert-fidelity.ts and the README)
   */
  codec?: ColbertCodecName;
  /**
   * Token pooling: merge near-duplicate token vectors of a document so that about
   * tokens/poolFactor remain (re-normalised). 1 disables pooling. @default 1
   */
  poolFactor?: number;
  /**
   * Upper bound, in bytes, on raw record bytes kept in memory (LRU) by a disk-backed store.
   * Besides it, a `score` call reads at most `READ_BATCH_BYTES` (16 MiB) of records at a time,
   * into one buffer the store keeps. An in-memory store (before its first `persist`) keeps every
   * record and ignores this.
   * @default 0 — no cache: the operating system's page cache already keeps recently read records,
   * and copying each one into fresh memory cost more than reading it again (10k documents, warm
   * p50 24.7 ms without the cache against 29.3 ms with 256 MiB; cold 26.6 against 49.7 ms). Set
   * it for storage without a page cache worth the name (network file systems).
   */
  cacheBytes?: number;
  /** See {@link ColbertKernel}. @default "onnxruntime" */
  kernel?: ColbertKernel;
  /** onnxruntime intra-op threads of the `"onnxruntime"` kernel (also the sketch's approximate tier). @default 1 (see DEFAULT_KERNEL_THREADS) */
  kernelThreads?: number;
  /**
   * A row scorer to share instead of the store's own: the hybrid index passes one to its store
   * and its sketch, so an index runs one onnxruntime scorer (one session per row type). The store
   * uses it for the `"onnxruntime"` kernel and never releases it. @default undefined (the store's
   * own, created on first use, released by `close`)
   */
  rowScorer?: RowScorer;
}

/** Options of `openColbertStore` (codec, dim and pool factor come from the manifest part). */
export interface ColbertOpenOptions {
  /** See {@link ColbertStoreOptions.cacheBytes}. @default 0 */
  cacheBytes?: number;
  /** See {@link ColbertKernel}. @default "onnxruntime" */
  kernel?: ColbertKernel;
  /** See {@link ColbertStoreOptions.kernelThreads}. @default 1 */
  kernelThreads?: number;
  /** See {@link ColbertStoreOptions.rowScorer}. @default undefined */
  rowScorer?: RowScorer;
}

/** What `compact` returns: the new manifest part and the files to delete once it is committed. */
export interface ColbertCompaction {
  part: ColbertManifestPart;
  /** Names (relative to the index directory) of files the previous manifest referenced; delete only after the new manifest is committed. */
  obsoleteFiles: string[];
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
  /** Data/offsets file format version (1). Optional for manifests written before it existed. */
  formatVersion?: number;
}

export interface ColbertStore {
  readonly codec: ColbertCodecName;
  readonly dim: number;
  readonly poolFactor: number;
  /** Number of live matrices. */
  readonly size: number;
  /** Stores (or replaces) the matrix of `slot`. */
  put(slot: number, matrix: MultiVector): Promise<void>;
  /**
   * Stores several matrices as `put` would, one after the other, but appended with one write per
   * batch of records (the index's bulk path). Optional: the index falls back to `put`.
   */
  putMany?(entries: readonly { slot: number; matrix: MultiVector }[]): Promise<void>;
  /** Forgets `slot` (its bytes are reclaimed by compaction). */
  remove(slot: number): void;
  has(slot: number): boolean;
  /** Decoded matrix of `slot` (float32, dequantised; the pooled rows when poolFactor > 1), or undefined. */
  get(slot: number): Promise<MultiVector | undefined>;
  /** ColBERT scores (spec formula) of `query` against each slot, in the order given. Missing slot -> NaN. */
  score(query: MultiVector, slots: Uint32Array): Promise<Float32Array>;
  /** Bytes on disk (or in memory for an in-memory store) of live records / of all records. */
  stats(): { liveBytes: number; totalBytes: number; residentBytes: number; liveSlots: number };
  /**
   * Flushes appended records to `dir` and writes the offset table of `generation` (see the
   * protocol above); returns the manifest part.
   */
  persist(dir: string, generation: number): Promise<ColbertManifestPart>;
  /**
   * Rewrites the live records into `colbert-data.<generation>.bin` in `dir` (reclaiming removed
   * and replaced records), writes the offsets file, switches to the new file and returns the
   * manifest part plus the files to delete after the manifest is committed.
   */
  compact(dir: string, generation: number): Promise<ColbertCompaction>;
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
