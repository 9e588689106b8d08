/**
 * The hybrid index: documents by id, each live document in one slot of three parts —
 * dense (HNSW), sparse (inverted lists) and ColBERT (a `ColbertStore`, plus the in-memory
 * `ColbertSketch` of the rows unless sketchDim is 0). It takes encodings, not text;
 * `M3HybridStore` (src/retrieve) ties it to an encoder.
 */
import { matchesFilter, parseFilter } from "../backend/filter.js";
import type {
  AnyFilter, BackendCapabilities, BackendEntry, BackendInfo, CallOptions, CandidatePool, CandidateRequest, DeleteResult,
  FetchedDocuments, RetrievalBackend, ScoredCandidates, SearchMode, StoredDocument, UpsertResult,
} from "../backend/types.js";
import { checkIds, checkSignal } from "../backend/validate.js";
import { ErrorCodes, M3Error } from "../errors.js";
import type { M3Encoding, ModelFingerprint, RowScorer } from "../types.js";
import { checkInt } from "../util/validate.js";
import type { ColbertStore } from "./colbert/types.js";
import { defaultColbertFactory } from "./default-colbert.js";
import { DenseIndex } from "./dense.js";
import { DocTable, type IndexedDocument } from "./docs.js";
import { DEFAULT_SKETCH_DIM, resolveDense, type HybridIndexOptions, type ResolvedDenseOptions } from "./options.js";
import { ColbertSketch } from "./sketch/sketch.js";
import { indexScoring } from "./scoring.js";
import { SparseIndex } from "./sparse.js";
import { SerialQueue } from "../util/serial.js";
import { indexStats, type IndexStats } from "./index-stats.js";
import { deleteNow, upsertNow } from "./writes.js";
import { embeddedCandidates, embeddedDocuments, embeddedPrescore, embeddedScores, matchingSlots } from "./embedded-search.js";
import type { IndexParts } from "./parts.js";
import { checkDir, type SaveOptions } from "./parts-io.js";
import { writeParts } from "./parts-write.js";

export type { IndexParts };

/** A document with its encoding, as the index takes it (the backend contract's entry). */
export type IndexEntry = BackendEntry;
export type { DeleteResult, IndexStats };

export class HybridIndex implements RetrievalBackend {
  readonly kind = "embedded";
  readonly capabilities: BackendCapabilities;
  readonly fingerprint: ModelFingerprint;
  readonly denseDim: number;
  readonly colbertDim: number;
  readonly denseOptions: ResolvedDenseOptions;
  /** @internal */ readonly docs: DocTable;
  /** @internal */ readonly dense: DenseIndex;
  /** @internal */ readonly sparse: SparseIndex;
  /** @internal */ readonly colbert: ColbertStore;
  /** @internal */ readonly sketch: ColbertSketch | undefined;
  /** The row scorer this index made for its store and sketch; released by `close`. */
  /** @internal */ readonly rowScorer: RowScorer | undefined;
  /** @internal Generation of the last save or load. */
  generation: number;
  private closed = false;
  /** Mutations, saves and close, one at a time (src/util/serial.ts: a failure does not block the next). */
  private readonly queue = new SerialQueue();

  /** @internal Use `HybridIndex.create` or `loadIndex`. */
  constructor(parts: IndexParts) {
    this.fingerprint = parts.fingerprint;
    this.denseDim = parts.denseDim;
    this.colbertDim = parts.colbertDim;
    this.denseOptions = parts.denseOptions;
    this.docs = parts.docs;
    this.dense = parts.dense;
    this.sparse = parts.sparse;
    this.colbert = parts.colbert;
    this.sketch = parts.sketch;
    this.rowScorer = parts.rowScorer;
    this.capabilities = Object.freeze({ predicateFilters: true, save: true, multiVectorStage: parts.sketch !== undefined, approximateColbert: parts.sketch !== undefined, colbertTiers: parts.sketch !== undefined });
    this.generation = parts.generation;
    this.location = parts.location;
  }

  /** An empty index for encodings of the model `fingerprint`. */
  static async create(fingerprint: ModelFingerprint, options: HybridIndexOptions = {}): Promise<HybridIndex> {
    const denseDim = checkInt("denseDim", options.denseDim ?? fingerprint.hiddenSize, 1, 65536);
    const colbertDim = checkInt("colbertDim", options.colbertDim ?? fingerprint.hiddenSize, 1, 65536);
    const denseOptions = resolveDense(options.dense);
    checkInt("dense.M", denseOptions.M, 2, 512);
    checkInt("dense.efConstruction", denseOptions.efConstruction, 1, 1 << 20);
    checkInt("dense.efSearch", denseOptions.efSearch, 1, 1 << 20);
    const sketchDim = checkInt("sketchDim", options.sketchDim ?? DEFAULT_SKETCH_DIM, 0, 65536);
    const scoring = indexScoring(options.colbert);
    const colbert = await (options.colbertFactory ?? defaultColbertFactory).create(colbertDim, scoring.colbert);
    return new HybridIndex({
      fingerprint: { ...fingerprint },
      denseDim,
      colbertDim,
      denseOptions,
      docs: new DocTable(),
      dense: new DenseIndex(denseDim, denseOptions),
      sparse: new SparseIndex(),
      colbert,
      sketch: sketchDim === 0 ? undefined : ColbertSketch.create(colbertDim, sketchDim, denseOptions, scoring.sketch),
      rowScorer: scoring.owned,
      generation: 0,
    });
  }

  /** Number of live documents. */
  get size(): number {
    return this.docs.size;
  }

  has(id: string): boolean {
    return this.docs.slotOf(id) !== undefined;
  }

  /** A copy of the stored document, or undefined. */
  get(id: string): IndexedDocument | undefined {
    const slot = this.docs.slotOf(id);
    const d = slot === undefined ? undefined : this.docs.at(slot);
    return d === undefined ? undefined : { id: d.id, pageContent: d.pageContent, metadata: { ...d.metadata } };
  }

  ids(): string[] {
    return this.docs.ids();
  }

  /**
   * Adds documents; an existing id is replaced (upsert). Within one call a repeated id keeps
   * the last entry. Everything is validated before anything is stored.
   */
  upsert(entries: IndexEntry[], options: CallOptions = {}): Promise<UpsertResult> {
    return this.serial(async () => {
      this.checkOpen();
      checkSignal(options.signal, "upsert");
      return upsertNow(this, entries);
    });
  }

  /** Removes documents by id from all three parts. Unknown ids are ignored and reported. */
  delete(ids: string[], options: CallOptions = {}): Promise<DeleteResult> {
    return this.serial(async () => {
      this.checkOpen();
      checkSignal(options.signal, "delete");
      checkIds(ids, "ids");
      return deleteNow(this, ids);
    });
  }

  /** Removes every document matching `filter`; returns how many were removed. */
  async deleteWhere(filter: AnyFilter, options: CallOptions = {}): Promise<number> {
    const f = requireFilter(filter);
    return this.serial(async () => {
      this.checkOpen();
      checkSignal(options.signal, "deleteWhere");
      const ids = (matchingSlots(this, f) ?? []).map((slot) => this.docs.at(slot)!.id);
      return deleteNow(this, ids).deleted;
    });
  }

  /** Removes every document. */
  clear(options: CallOptions = {}): Promise<void> {
    return this.serial(async () => {
      this.checkOpen();
      checkSignal(options.signal, "clear");
      deleteNow(this, this.docs.ids());
    });
  }

  async getDocuments(ids: string[], options: CallOptions & { dense?: boolean } = {}): Promise<((StoredDocument & { dense?: Float32Array }) | undefined)[]> {
    return embeddedDocuments(this, ids, options.dense === true, options.signal, "getDocuments");
  }

  async fetchDocuments(ids: string[], options: CallOptions = {}): Promise<FetchedDocuments> {
    const t = performance.now();
    const docs = embeddedDocuments(this, ids, false, options.signal, "fetchDocuments");
    return { docs, stats: { fetchMs: performance.now() - t } };
  }

  async count(filter?: AnyFilter): Promise<number> {
    this.checkOpen();
    const f = parseFilter(filter);
    return f === undefined ? this.docs.size : matchingSlots(this, f)!.length;
  }

  /**
   * Every (matching) document in id order (UTF-16 code units), read `pageSize` (default 256, as
   * the Postgres backend) at a time: a page is read once the one before it has been consumed, so a
   * document changed or deleted before its page is read is seen as it is then. The ids are those
   * present when the iteration starts; documents added later are not visited.
   */
  async *documents(options: { filter?: AnyFilter; pageSize?: number } = {}): AsyncIterable<StoredDocument> {
    this.checkOpen();
    const f = parseFilter(options.filter);
    const pageSize = checkInt("pageSize", options.pageSize ?? DOCUMENTS_PAGE, 1, 100_000);
    const ids = this.docs.ids().sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (let at = 0; at < ids.length;) {
      this.checkOpen();
      const page: StoredDocument[] = [];
      while (at < ids.length && page.length < pageSize) {
        const d = this.get(ids[at++]!);
        if (d !== undefined && (f === undefined || matchesFilter(f, d))) page.push(d);
      }
      yield* page;
    }
  }

  async candidates(query: M3Encoding, request: CandidateRequest): Promise<CandidatePool> {
    return embeddedCandidates(this, query, request);
  }

  scoreCandidates(query: M3Encoding, ids: string[], modes: ReadonlySet<SearchMode>, options: CallOptions = {}): Promise<ScoredCandidates> {
    return embeddedScores(this, query, ids, modes, options.signal);
  }

  /** Approximate ColBERT scores from the sketch (see backend/types.ts); INVALID_ARGUMENT without a sketch. */
  prescoreColbert(query: M3Encoding, ids: string[], options: CallOptions = {}): Promise<Float32Array> {
    return embeddedPrescore(this, query, ids, options.signal);
  }

  async info(): Promise<BackendInfo> {
    const s = this.stats();
    return {
      kind: this.kind,
      fingerprint: { ...this.fingerprint },
      documents: s.documents,
      denseDim: this.denseDim,
      colbertDim: this.colbertDim,
      location: this.location ?? "in memory",
      bytes: {
        dense: s.dense.vectorBytes + s.dense.graphBytes,
        sparse: s.sparse.postingsBytes + s.sparse.forwardBytes,
        colbert: s.colbert.liveBytes,
        ...(s.sketch === undefined ? {} : { colbertSketch: s.sketch.rowBytes + s.sketch.meanBytes + s.sketch.graphBytes }),
        docs: s.docBytes,
      },
    };
  }

  /** Saves into `dir` (created if needed) atomically (see `parts-write.ts`). Concurrent mutations wait for the save. */
  save(dir: string, options: SaveOptions = {}): Promise<void> {
    try {
      checkDir(dir, "save");
    } catch (err) {
      return Promise.reject(err);
    }
    return this.serial(async () => {
      this.checkOpen();
      await writeParts(this, dir, options);
    });
  }

  /** Where the index was last saved or loaded from (undefined: only in memory). */
  location: string | undefined;

  stats(): IndexStats {
    return indexStats(this);
  }

  /** Releases the ColBERT store's files and caches. The index cannot be used afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.serial(async () => {
      this.closed = true;
      await this.colbert.close();
      await this.sketch?.close();
      await this.rowScorer?.release();
    });
  }

  /** @internal Runs `fn` after every earlier mutation or save has finished. */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    return this.queue.run(fn);
  }

  /** @internal */ checkOpen(): void {
    if (this.closed) throw new M3Error(ErrorCodes.DISPOSED, "This index was closed; load it again to use it.");
  }
}

/** Documents per page of `documents()` unless `pageSize` says otherwise. */
const DOCUMENTS_PAGE = 256;

/** deleteWhere needs a filter: an empty one would delete everything (use `clear()` for that). */
function requireFilter(filter: unknown) {
  const f = parseFilter(filter);
  if (f === undefined) throw new M3Error(ErrorCodes.INVALID_ARGUMENT, "deleteWhere needs a filter; to delete every document call clear().");
  return f;
}
