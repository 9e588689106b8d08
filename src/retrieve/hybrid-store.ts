/**
 * `M3HybridStore`: an encoder (anything `M3EncoderLike`) tied to a `HybridIndex`. Encodes
 * documents with all three outputs, encodes each query once, searches, saves and loads.
 */
import { randomUUID } from "node:crypto";
import { ErrorCodes, M3Error } from "../errors.js";
import type { ColbertStoreFactory, ColbertStoreOptions } from "../index/colbert/types.js";
import { defaultColbertFactory } from "../index/default-colbert.js";
import type { IndexedDocument } from "../index/docs.js";
import { HybridIndex, type DeleteResult, type IndexEntry, type IndexStats } from "../index/hybrid-index.js";
import { checkFingerprint } from "../index/manifest.js";
import type { HybridIndexOptions } from "../index/options.js";
import { loadIndex, saveIndex, type SaveOptions } from "../index/persist.js";
import type { M3Encoding, M3EncoderLike } from "../types.js";
import { checkInt, describe } from "../util/validate.js";
import { resolveSearch, type SearchOptions } from "./options.js";
import { searchWithStats, type SearchHit, type SearchStats } from "./search.js";

/** A document to add: text, optional metadata, optional id (`Document.id` is honoured). */
export interface DocumentInput {
  pageContent: string;
  metadata?: Record<string, unknown>;
  id?: string;
}

export interface M3HybridStoreOptions extends HybridIndexOptions {
  /** Texts per `encode` call when adding documents. @default 32 */
  batchSize?: number;
  /** Search options used when a call does not give them. @default SEARCH_DEFAULTS */
  search?: SearchOptions;
}

export interface M3HybridStoreLoadOptions {
  /** @default 32 */
  batchSize?: number;
  /** @default SEARCH_DEFAULTS */
  search?: SearchOptions;
  /** @default the package's ColBERT store */
  colbertFactory?: ColbertStoreFactory;
  /** ColBERT options at open time (cacheBytes, kernel, kernelThreads; the codec and pooling come from the saved index). */
  colbert?: ColbertStoreOptions;
  /** Overrides the saved HNSW efSearch. @default the saved value */
  efSearch?: number;
}

export class M3HybridStore {
  private readonly batchSize: number;
  private readonly searchDefaults: SearchOptions;

  private constructor(
    readonly encoder: M3EncoderLike,
    readonly index: HybridIndex,
    options: { batchSize?: number; search?: SearchOptions },
  ) {
    this.batchSize = checkInt("batchSize", options.batchSize ?? 32, 1, 1_000_000);
    this.searchDefaults = { ...options.search };
    resolveSearch(this.searchDefaults);
  }

  /** An empty store for `encoder`'s model. */
  static async create(encoder: M3EncoderLike, options: M3HybridStoreOptions = {}): Promise<M3HybridStore> {
    const fp = await encoder.fingerprint();
    const index = await HybridIndex.create(fp, { ...options, colbertFactory: options.colbertFactory ?? defaultColbertFactory });
    return new M3HybridStore(encoder, index, options);
  }

  /** Wraps an existing index; the encoder must be the index's model (else INDEX_MODEL_MISMATCH). */
  static async fromIndex(encoder: M3EncoderLike, index: HybridIndex, options: { batchSize?: number; search?: SearchOptions } = {}): Promise<M3HybridStore> {
    checkFingerprint(index.fingerprint, await encoder.fingerprint(), "the given index");
    return new M3HybridStore(encoder, index, options);
  }

  /** Loads a store saved with `save`; INDEX_CORRUPT / INDEX_MODEL_MISMATCH on a bad directory or another model. */
  static async load(dir: string, encoder: M3EncoderLike, options: M3HybridStoreLoadOptions = {}): Promise<M3HybridStore> {
    const index = await loadIndex(dir, {
      fingerprint: await encoder.fingerprint(),
      colbertFactory: options.colbertFactory ?? defaultColbertFactory,
      colbert: options.colbert,
      efSearch: options.efSearch,
    });
    return new M3HybridStore(encoder, index, options);
  }

  get size(): number {
    return this.index.size;
  }

  /**
   * Encodes and adds (or replaces, by id) documents. Ids: `options.ids[i]`, else `doc.id`, else a
   * random UUID. Returns the ids in input order.
   */
  async addDocuments(docs: DocumentInput[], options: { ids?: string[] } = {}): Promise<string[]> {
    if (!Array.isArray(docs)) throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `addDocuments expects an array of documents; got ${describe(docs)}.`);
    const ids = options.ids;
    if (ids !== undefined && (!Array.isArray(ids) || ids.length !== docs.length)) {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `options.ids must have one id per document (${docs.length}); got ${describe(ids)}.`);
    }
    docs.forEach((d, i) => {
      if (d === null || typeof d !== "object" || typeof d.pageContent !== "string") {
        throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `docs[${i}].pageContent must be a string; got ${describe(d?.pageContent)}.`);
      }
    });
    const out = docs.map((d, i) => ids?.[i] ?? (typeof d.id === "string" && d.id.length > 0 ? d.id : randomUUID()));
    const encodings: M3Encoding[] = [];
    for (let i = 0; i < docs.length; i += this.batchSize) {
      const texts = docs.slice(i, i + this.batchSize).map((d) => d.pageContent);
      const enc = await this.encoder.encode(texts, { dense: true, sparse: true, colbert: true });
      if (!Array.isArray(enc) || enc.length !== texts.length) {
        throw new M3Error(ErrorCodes.INFERENCE_ERROR, `The encoder returned ${describe(enc)} for ${texts.length} texts; expected one encoding per text.`);
      }
      encodings.push(...enc);
    }
    await this.addEncoded(docs.map((d, i) => ({ id: out[i]!, pageContent: d.pageContent, metadata: d.metadata, encoding: encodings[i]! })));
    return out;
  }

  /** Adds documents whose encodings are already computed (all three outputs). */
  async addEncoded(entries: IndexEntry[]): Promise<{ added: number; replaced: number }> {
    return this.index.upsert(entries);
  }

  /** Deletes by id from every part. Unknown ids are not an error: they are counted in `notFound`. */
  delete(ids: string[]): Promise<DeleteResult> {
    return this.index.delete(ids);
  }

  get(id: string): IndexedDocument | undefined {
    return this.index.get(id);
  }

  /** Encodes `query` once (the outputs the modes need) and searches. */
  async search(query: string, options?: SearchOptions): Promise<SearchHit[]> {
    return (await this.searchWithStats(query, options)).hits;
  }

  /** `search` plus what it did, including the query encoding time. */
  async searchWithStats(query: string, options?: SearchOptions): Promise<{ hits: SearchHit[]; stats: SearchStats & { encodeMs: number } }> {
    if (typeof query !== "string" || query.trim().length === 0) {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `The query must be a non-empty string; got ${describe(query)}.`);
    }
    const merged: SearchOptions = { ...this.searchDefaults, ...options };
    const o = resolveSearch(merged);
    const colbertOnly = !o.modes.has("dense") && !o.modes.has("sparse");
    const t0 = performance.now();
    const [q] = await this.encoder.encode([query], {
      dense: o.modes.has("dense") || colbertOnly,
      sparse: o.modes.has("sparse") || colbertOnly,
      colbert: o.modes.has("colbert"),
    });
    const encodeMs = performance.now() - t0;
    if (q === undefined) throw new M3Error(ErrorCodes.INFERENCE_ERROR, "The encoder returned no encoding for the query.");
    const r = await searchWithStats(this.index, q, merged);
    return { hits: r.hits, stats: { ...r.stats, encodeMs } };
  }

  /** Saves to `dir` atomically (see saveIndex). */
  save(dir: string, options?: SaveOptions): Promise<void> {
    return saveIndex(this.index, dir, options);
  }

  stats(): IndexStats {
    return this.index.stats();
  }

  close(): Promise<void> {
    return this.index.close();
  }
}
