/**
 * `HybridStore`: an encoder (anything `M3EncoderLike`) tied to a `RetrievalBackend`, whichever it
 * is (`fromBackend`); it never names a backend. `M3HybridStore` (src/open.ts, the composition
 * module) adds the ways to open one from options: an embedded index (`create`, `load`) or
 * Postgres. Encodes documents with all three outputs, encodes each query once, searches through
 * the backend-independent plan of `search.ts`.
 *
 * Writes (add, delete, deleteWhere, clear) take effect in the order they were called: encoding
 * runs at once, concurrently with other calls, but each write is applied only after every
 * write called before it has been applied (or has failed). So `delete(["a"])` called after
 * `addDocuments([{ id: "a" }])` removes "a" even while the add is still encoding.
 */
import { randomUUID } from "node:crypto";
import { parseFilter, type MetadataFilter } from "../backend/filter.js";
import type { BackendEntry, BackendInfo, CallOptions, DeleteResult, RetrievalBackend, StoredDocument, UpsertResult } from "../backend/types.js";
import { checkFingerprint, checkId, checkIds, checkMetadata, checkSignal } from "../backend/validate.js";
import { ErrorCodes, M3Error } from "../errors.js";
import type { M3Encoding, M3EncoderLike } from "../types.js";
import { SerialQueue } from "../util/serial.js";
import { checkInt, describe } from "../util/validate.js";
import { resolveSearch, type SearchOptions } from "./options.js";
import { planSearch } from "./plan.js";
import { executePlan, type SearchHit, type SearchStats } from "./search.js";

/** A document to add: text, optional metadata, optional id (`Document.id` is honoured). */
export interface DocumentInput {
  pageContent: string;
  metadata?: Record<string, unknown>;
  id?: string;
}

/** Progress of a long call: `done` of `total` documents through `phase`. */
export interface ProgressEvent {
  phase: "encode" | "write";
  done: number;
  total: number;
}

export interface AddOptions extends CallOptions {
  /** One id per document; else `doc.id`; else a random UUID. @default undefined */
  ids?: string[];
  /** Called after each encoded batch and once the documents are written. @default none */
  onProgress?: (event: ProgressEvent) => void;
}

export interface StoreOptions {
  /** Texts per `encode` call when adding documents. @default 32 */
  batchSize?: number;
  /** Search options used when a call does not give them. @default SEARCH_DEFAULTS */
  search?: SearchOptions;
}

export class HybridStore {
  private readonly batchSize: number;
  private readonly searchDefaults: SearchOptions;
  /** Writes in call order: each one's encoding starts at once, its write after the earlier writes (src/util/serial.ts). */
  private readonly writes = new SerialQueue();

  protected constructor(
    readonly encoder: M3EncoderLike,
    /** Where the documents live. */
    readonly backend: RetrievalBackend,
    options: StoreOptions,
  ) {
    if (options !== undefined && (options === null || typeof options !== "object")) {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `store options must be an object; got ${describe(options)}.`);
    }
    this.batchSize = checkInt("batchSize", options.batchSize ?? 32, 1, 1_000_000);
    this.searchDefaults = { ...options.search };
    resolveSearch(this.searchDefaults);
  }

  /** A store over any backend; the encoder must be the backend's model (else INDEX_MODEL_MISMATCH). */
  static async fromBackend(encoder: M3EncoderLike, backend: RetrievalBackend, options: StoreOptions = {}): Promise<HybridStore> {
    await checkBackend(encoder, backend);
    return new HybridStore(encoder, backend, options);
  }

  /** Number of documents (matching `filter`, when given). */
  count(filter?: MetadataFilter): Promise<number> {
    return this.backend.count(parseFilter(filter));
  }

  /**
   * Encodes and adds (or replaces, by id) documents. Ids: `options.ids[i]`, else `doc.id`, else a
   * random UUID. Returns the ids in input order. With `signal`, an abort before the write rejects
   * with ABORTED and stores nothing.
   */
  async addDocuments(docs: DocumentInput[], options: AddOptions = {}): Promise<string[]> {
    const checked = (() => {
      if (options === null || typeof options !== "object") throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `addDocuments options must be an object; got ${describe(options)}.`);
      return { ids: this.idsFor(docs, options.ids), docs };
    })();
    const total = docs.length;
    return this.writes.runPrepared(
      async () => {
        const encodings: M3Encoding[] = [];
        for (let i = 0; i < docs.length; i += this.batchSize) {
          checkSignal(options.signal, "addDocuments");
          const texts = docs.slice(i, i + this.batchSize).map((d) => d.pageContent);
          const enc = await this.encoder.encode(texts, { dense: true, sparse: true, colbert: true });
          if (!Array.isArray(enc) || enc.length !== texts.length) {
            throw new M3Error(ErrorCodes.INFERENCE_ERROR, `The encoder returned ${describe(enc)} for ${texts.length} texts; expected one encoding per text.`);
          }
          encodings.push(...enc);
          options.onProgress?.({ phase: "encode", done: encodings.length, total });
        }
        return encodings;
      },
      async (encodings) => {
        checkSignal(options.signal, "addDocuments");
        await this.backend.upsert(
          docs.map((d, i) => ({ id: checked.ids[i]!, pageContent: d.pageContent, metadata: d.metadata, encoding: encodings[i]! })),
          { signal: options.signal },
        );
        options.onProgress?.({ phase: "write", done: total, total });
        return checked.ids;
      },
    );
  }

  /** Adds documents whose encodings are already computed (all three outputs). */
  addEncoded(entries: BackendEntry[], options: CallOptions = {}): Promise<UpsertResult> {
    return this.writes.runPrepared(async () => entries, (e) => this.backend.upsert(e, options));
  }

  /** Deletes by id. Unknown ids are not an error: they are counted in `notFound`. */
  async delete(ids: string[], options: CallOptions = {}): Promise<DeleteResult> {
    checkIds(ids, "ids");
    return this.writes.runPrepared(async () => ids, (x) => this.backend.delete(x, options));
  }

  /** Deletes every document matching `filter` (an object filter; see SearchOptions.filter); returns how many. */
  async deleteWhere(filter: MetadataFilter, options: CallOptions = {}): Promise<number> {
    const f = parseFilter(filter);
    if (f === undefined) throw new M3Error(ErrorCodes.INVALID_ARGUMENT, "deleteWhere needs a filter; to delete every document call clear().");
    return this.writes.runPrepared(async () => f, (x) => this.backend.deleteWhere(x, options));
  }

  /** Deletes every document. */
  clear(options: CallOptions = {}): Promise<void> {
    return this.writes.runPrepared(async () => undefined, () => this.backend.clear(options));
  }

  /** A copy of the stored document, or undefined. */
  async get(id: string): Promise<StoredDocument | undefined> {
    checkId(id, "id");
    return (await this.backend.getDocuments([id]))[0];
  }

  /** Every stored document, in pages (for exports and incremental indexing). */
  documents(options?: { filter?: MetadataFilter; pageSize?: number }): AsyncIterable<StoredDocument> {
    return this.backend.documents({ ...options, filter: parseFilter(options?.filter) });
  }

  /** Encodes `query` once (the outputs the modes need) and searches. */
  async search(query: string, options?: SearchOptions & CallOptions): Promise<SearchHit[]> {
    return (await this.searchWithStats(query, options)).hits;
  }

  /** `search` plus what it did, including the query encoding time. */
  async searchWithStats(query: string, options?: SearchOptions & CallOptions): Promise<{ hits: SearchHit[]; stats: SearchStats & { encodeMs: number } }> {
    if (typeof query !== "string" || query.trim().length === 0) {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `The query must be a non-empty string; got ${describe(query)}.`);
    }
    const merged: SearchOptions & CallOptions = { ...this.searchDefaults, ...options };
    const o = resolveSearch(merged);
    checkSignal(options?.signal, "search");
    const colbertOnly = !o.modes.has("dense") && !o.modes.has("sparse");
    const t0 = performance.now();
    const [q] = await this.encoder.encode([query], {
      dense: o.modes.has("dense") || colbertOnly,
      sparse: o.modes.has("sparse") || colbertOnly,
      colbert: o.modes.has("colbert"),
    });
    const encodeMs = performance.now() - t0;
    if (q === undefined) throw new M3Error(ErrorCodes.INFERENCE_ERROR, "The encoder returned no encoding for the query.");
    checkSignal(options?.signal, "search");
    const r = await executePlan(this.backend, planSearch(this.backend, q, o), { signal: options?.signal });
    return { hits: r.hits, stats: { ...r.stats, encodeMs } };
  }

  /** Saves an embedded store to `dir` atomically (see saveIndex); a server backend has nothing to save. */
  async save(dir: string): Promise<void> {
    if (!this.backend.capabilities.save || this.backend.save === undefined) {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `The ${this.backend.kind} backend stores every write on the server; there is nothing to save to a directory.`);
    }
    await this.writes.idle();
    await this.backend.save(dir);
  }

  /** Backend facts: kind, model, documents, bytes by part. */
  info(): Promise<BackendInfo> {
    return this.backend.info();
  }

  /** Waits for the writes in flight, then releases the backend. */
  async close(): Promise<void> {
    await this.writes.idle();
    await this.backend.close();
  }

  private idsFor(docs: unknown, ids: unknown): string[] {
    if (!Array.isArray(docs)) throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `addDocuments expects an array of documents; got ${describe(docs)}.`);
    if (ids !== undefined && (!Array.isArray(ids) || ids.length !== docs.length)) {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `options.ids must have one id per document (${docs.length}); got ${describe(ids)}.`);
    }
    return docs.map((d: unknown, i) => {
      const doc = d as DocumentInput | null;
      if (doc === null || typeof doc !== "object" || typeof doc.pageContent !== "string") {
        throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `docs[${i}].pageContent must be a string; got ${describe(doc?.pageContent)}.`);
      }
      checkMetadata(doc.metadata, `docs[${i}].metadata`); // fail before the encoding cost, naming the document
      if (ids !== undefined) return checkId((ids as unknown[])[i], `options.ids[${i}]`);
      if (doc.id === undefined || doc.id === null) return randomUUID();
      return checkId(doc.id, `docs[${i}].id`);
    });
  }
}

/** `backend` must be a RetrievalBackend of `encoder`'s model (INVALID_ARGUMENT, INDEX_MODEL_MISMATCH). */
export async function checkBackend(encoder: M3EncoderLike, backend: RetrievalBackend): Promise<void> {
  checkEncoder(encoder);
  const primitives = ["candidates", "scoreCandidates", "fetchDocuments"] as const;
  const missing = backend === null || typeof backend !== "object" ? [...primitives] : primitives.filter((m) => typeof backend[m] !== "function");
  if (missing.length > 0) {
    throw new M3Error(
      ErrorCodes.INVALID_ARGUMENT,
      `fromBackend needs a RetrievalBackend (a HybridIndex, a Postgres backend from M3PostgresBackend.connect, or your own with ${primitives.join(", ")}); got ${describe(backend)}, without ${missing.join(", ")}.`,
    );
  }
  checkFingerprint(backend.fingerprint, await encoder.fingerprint(), `the ${backend.kind} backend`);
}

/** The encoder must be an M3 encoder (INVALID_ARGUMENT otherwise). */
export function checkEncoder(encoder: unknown): void {
  const e = encoder as Partial<M3EncoderLike> | null;
  if (e === null || typeof e !== "object" || typeof e.encode !== "function" || typeof e.fingerprint !== "function") {
    throw new M3Error(
      ErrorCodes.INVALID_ARGUMENT,
      `The encoder must be an M3 encoder (M3Embeddings or M3Encoder, with encode() and fingerprint()); got ${describe(encoder)}. Other LangChain embeddings cannot give BGE-M3's sparse and ColBERT outputs.`,
    );
  }
}
