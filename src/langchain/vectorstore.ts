/**
 * `M3VectorStore`: a LangChain `SaveableVectorStore` over an `M3HybridStore` (the embedded
 * index, or any `RetrievalBackend`). Text searches (`similaritySearch`,
 * `similaritySearchWithScore`, `asRetriever`) are hybrid — the fused score of dense, sparse and
 * ColBERT; `similaritySearchVectorWithScore` searches the dense part only;
 * `maxMarginalRelevanceSearch` re-selects hybrid candidates by MMR (see mmr.ts). Results carry
 * exactly the stored metadata; scores come only as the numbers of the `...WithScore` methods.
 *
 * Opening: `new M3VectorStore(embeddings, {})` creates an empty embedded index on first use
 * (LangChain-style); `{ store }` wraps an open store, `{ backend }` any backend;
 * `fromExistingIndex(embeddings, { directory })` / `load(directory, embeddings)` open a saved one.
 */
import type { Callbacks } from "@langchain/core/callbacks/manager";
import type { DocumentInterface } from "@langchain/core/documents";
import { Document } from "@langchain/core/documents";
import { SaveableVectorStore, type VectorStoreRetriever, type VectorStoreRetrieverInput } from "@langchain/core/vectorstores";
import type { RetrievalBackend } from "../backend/types.js";
import { ErrorCodes, M3Error } from "../errors.js";
import { M3HybridStore, type M3HybridStoreLoadOptions } from "../open.js";
import type { StoreOptions } from "../retrieve/hybrid-store.js";
import { resolveSearch, type MetadataFilter, type SearchOptions } from "../retrieve/options.js";
import { search } from "../retrieve/search.js";
import { describe } from "../util/validate.js";
import { hitToDocument } from "./documents.js";
import { mmrSearch, resolveMmr, type ResolvedMmr } from "./mmr.js";
import { inheritedSignal } from "./signal.js";
import { M3VectorStoreRetriever } from "./vectorstore-retriever.js";
import { addDocumentsTo, addVectorsTo, openStore } from "./vectorstore-writes.js";
import {
  checkAddOptions, checkEmbeddings, denseVector, parseDeleteParams,
  type M3AddOptions, type M3DeleteParams, type M3EncoderEmbeddings, type M3MmrDefaults, type M3MmrSearchOptions, type M3VectorStoreArgs,
} from "./vectorstore-options.js";

export type { M3AddOptions, M3DeleteParams, M3EncoderEmbeddings, M3MmrDefaults, M3MmrSearchOptions, M3VectorStoreArgs } from "./vectorstore-options.js";

export class M3VectorStore extends SaveableVectorStore {
  declare FilterType: MetadataFilter;

  static override lc_name(): string {
    return "M3VectorStore";
  }

  override lc_namespace = ["langchain_m3", "vectorstores"];

  /** Options of the text searches (k and filter come from the call). */
  readonly searchOptions: SearchOptions;
  /** MMR defaults (fetchK, lambda, mmrSimilarity). */
  readonly mmrDefaults: ResolvedMmr;
  private readonly args: M3VectorStoreArgs;
  private opened: M3HybridStore | undefined;
  private opening: Promise<M3HybridStore> | undefined;
  private closed = false;
  private readonly active = new Set<Promise<void>>();

  /**
   * LangChain-style: `new M3VectorStore(embeddings, {})` is usable at once; the embedded index
   * is created on first use. `embeddings` must be BGE-M3 (`M3Embeddings`): INVALID_ARGUMENT
   * otherwise, as other embeddings have no sparse or ColBERT outputs.
   */
  constructor(embeddings: M3EncoderEmbeddings, fields: M3VectorStoreArgs = {}) {
    checkEmbeddings(embeddings);
    if (fields === null || typeof fields !== "object") {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `M3VectorStore options must be an object such as {} or { store }, { backend }; got ${describe(fields)}.`);
    }
    if ([fields.store, fields.backend, fields.postgres].filter((x) => x !== undefined).length > 1) {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, "Give M3VectorStore one of { store }, { backend } or { postgres }, not several.");
    }
    if (fields.postgres !== undefined && (fields.postgres === null || typeof fields.postgres !== "object")) {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `{ postgres } must be { connectionString | pool, table?, ... }; got ${describe(fields.postgres)}.`);
    }
    if (fields.store !== undefined && (fields.store === null || typeof fields.store !== "object" || typeof (fields.store as Partial<M3HybridStore>).search !== "function")) {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `{ store } must be an M3HybridStore; got ${describe(fields.store)}. For a backend, pass { backend }.`);
    }
    super(embeddings, fields as unknown as Record<string, unknown>);
    this.args = { ...fields };
    this.searchOptions = { ...fields.search };
    resolveSearch(this.searchOptions); // fail fast on bad options
    this.mmrDefaults = resolveMmr({ fetchK: fields.fetchK, lambda: fields.lambda, mmrSimilarity: fields.mmrSimilarity });
    this.opened = fields.store;
  }

  /** An empty embedded store for `embeddings`' model, opened now. */
  static async create(embeddings: M3EncoderEmbeddings, options: Omit<M3VectorStoreArgs, "store" | "backend"> = {}): Promise<M3VectorStore> {
    const vs = new M3VectorStore(embeddings, { ...options, store: undefined, backend: undefined });
    await vs.getStore();
    return vs;
  }

  /** A store over any `RetrievalBackend`; INDEX_MODEL_MISMATCH when `embeddings` is another model. */
  static async fromBackend(embeddings: M3EncoderEmbeddings, backend: RetrievalBackend, options: StoreOptions & M3MmrDefaults = {}): Promise<M3VectorStore> {
    const vs = new M3VectorStore(embeddings, { ...options, backend });
    await vs.getStore();
    return vs;
  }

  /**
   * Opens an existing collection: `{ directory }` — a folder written by `save` (LangChain's
   * `fromExistingIndex` form of `load`) — or `{ postgres: { connectionString | pool, table } }` — a
   * Postgres collection, which must exist (NOT_FOUND otherwise) and hold this model's encodings.
   */
  static async fromExistingIndex(
    embeddings: M3EncoderEmbeddings,
    options: (M3HybridStoreLoadOptions & M3MmrDefaults & { directory: string }) | (StoreOptions & M3MmrDefaults & { postgres: NonNullable<M3VectorStoreArgs["postgres"]> }),
  ): Promise<M3VectorStore> {
    if (options !== null && typeof options === "object" && "postgres" in options && options.postgres !== undefined) {
      const vs = new M3VectorStore(embeddings, { ...options, postgres: { ...options.postgres, create: false } });
      await vs.getStore();
      return vs;
    }
    if (options === null || typeof options !== "object" || !("directory" in options) || typeof options.directory !== "string" || options.directory.length === 0) {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `fromExistingIndex needs { directory: "<a folder written by save()>" } or { postgres: { connectionString, table } }; got ${describe(options)}.`);
    }
    const { directory, ...rest } = options;
    return M3VectorStore.load(directory, embeddings, rest);
  }

  /** Loads a saved store; INDEX_CORRUPT on a missing or damaged directory, INDEX_MODEL_MISMATCH for another model. */
  static override async load(directory: string, embeddings: M3EncoderEmbeddings, options: M3HybridStoreLoadOptions & M3MmrDefaults = {}): Promise<M3VectorStore> {
    checkEmbeddings(embeddings);
    const fields = { search: options?.search, fetchK: options?.fetchK, lambda: options?.lambda, mmrSimilarity: options?.mmrSimilarity };
    resolveSearch({ ...fields.search });
    resolveMmr(fields); // fail before opening anything
    const store = await M3HybridStore.load(directory, embeddings, options);
    return new M3VectorStore(embeddings, { ...fields, store });
  }

  static override async fromDocuments(docs: DocumentInterface[], embeddings: M3EncoderEmbeddings, options: M3VectorStoreArgs = {}): Promise<M3VectorStore> {
    const vs = new M3VectorStore(embeddings, options);
    try {
      await vs.addDocuments(docs);
    } catch (err) {
      await vs.close().catch(() => undefined); // release what was opened; the caller gets no store
      throw err;
    }
    return vs;
  }

  static override async fromTexts(texts: string[], metadatas: object[] | object, embeddings: M3EncoderEmbeddings, options: M3VectorStoreArgs = {}): Promise<M3VectorStore> {
    if (!Array.isArray(texts)) throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `fromTexts expects an array of strings; got ${describe(texts)}.`);
    const docs = texts.map((t, i) => new Document({ pageContent: t, metadata: { ...((Array.isArray(metadatas) ? metadatas[i] : metadatas) ?? {}) } }));
    return M3VectorStore.fromDocuments(docs, embeddings, options);
  }

  _vectorstoreType(): string {
    return "m3-hybrid";
  }

  /**
   * The hybrid store underneath, once open. A store made with `new M3VectorStore(embeddings, {})`
   * opens on first use; before that, use `await vectorStore.getStore()`.
   */
  get store(): M3HybridStore {
    this.checkOpen();
    if (this.opened === undefined) {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, "This M3VectorStore opens its store on first use; call `await vectorStore.getStore()` (or create it with `await M3VectorStore.create(embeddings)`) before reading `.store`.");
    }
    return this.opened;
  }

  /** The hybrid store underneath, opened (created, or the backend checked) on the first call. */
  getStore(): Promise<M3HybridStore> {
    this.checkOpen();
    if (this.opened !== undefined) return Promise.resolve(this.opened);
    if (this.opening === undefined) {
      const p = openStore(this.embeddings as M3EncoderEmbeddings, this.args).then((s) => {
        this.opened = s;
        return s;
      });
      this.opening = p;
      p.catch(() => {
        if (this.opening === p) this.opening = undefined; // a failed open can be retried
      });
    }
    return this.opening;
  }

  /**
   * Encodes (all three outputs) and upserts; ids from `options.ids`, else `doc.id`, else
   * generated. `signal` → ABORTED with nothing stored; `onProgress` per batch.
   */
  override async addDocuments(documents: DocumentInterface[], options?: M3AddOptions): Promise<string[]> {
    const o = checkAddOptions(options);
    if (!Array.isArray(documents)) throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `addDocuments expects an array of Documents; got ${describe(documents)}.`);
    return this.run((store) => addDocumentsTo(store, documents, o));
  }

  /**
   * Adds documents with precomputed dense vectors (checked against the index's dimension); their
   * sparse and ColBERT outputs are computed from `pageContent`, as the index holds all three.
   */
  async addVectors(vectors: number[][], documents: DocumentInterface[], options?: M3AddOptions): Promise<string[]> {
    const o = checkAddOptions(options);
    return this.run((store) => addVectorsTo(store, vectors, documents, o));
  }

  /** Deletes `{ ids }` (unknown ids ignored), `{ filter }` or `{ deleteAll: true }`; anything else is INVALID_ARGUMENT. */
  override async delete(params?: M3DeleteParams): Promise<void> {
    const d = parseDeleteParams(params);
    return this.run(async (store) => {
      if (d.kind === "ids") await store.delete(d.ids, { signal: d.signal });
      else if (d.kind === "filter") await store.deleteWhere(d.filter, { signal: d.signal });
      else await store.clear({ signal: d.signal });
    });
  }

  /** Dense-only search with a raw query vector; the score is the inner product (higher is better). */
  async similaritySearchVectorWithScore(query: number[], k: number, filter?: MetadataFilter): Promise<[Document, number][]> {
    return this.run(async (store) => {
      const dense = denseVector(query, store.backend.denseDim, "The query vector");
      const hits = await search(store.backend, { dense, tokenCount: 0 }, {
        ...this.searchOptions, k, filter, modes: ["dense"], fusion: "weighted", weights: { dense: 1 }, signal: inheritedSignal(),
      });
      return hits.map((h) => [hitToDocument(h), h.score]);
    });
  }

  /** Hybrid search; the score is the fused score (higher is better). Metadata is exactly as stored. */
  override async similaritySearchWithScore(query: string, k = 4, filter?: MetadataFilter, _callbacks?: Callbacks): Promise<[Document, number][]> {
    return this.run(async (store) => {
      const hits = await store.search(query, { ...this.searchOptions, k, filter, signal: inheritedSignal() });
      return hits.map((h) => [hitToDocument(h), h.score]);
    });
  }

  override async similaritySearch(query: string, k = 4, filter?: MetadataFilter, _callbacks?: Callbacks): Promise<Document[]> {
    return (await this.similaritySearchWithScore(query, k, filter)).map(([d]) => d);
  }

  /**
   * Maximal marginal relevance: `fetchK` hybrid candidates (default 20, at least k), then k of
   * them chosen greedily by `lambda · relevance − (1 − lambda) · redundancy`, both measured with
   * `mmrSimilarity` ("dense" = LangChain's MMR, "colbert" = MaxSim). Defaults from the store's
   * options, then LangChain's (fetchK 20, lambda 0.5).
   */
  override async maxMarginalRelevanceSearch(query: string, options: M3MmrSearchOptions, _callbacks?: Callbacks): Promise<Document[]> {
    if (options === null || typeof options !== "object") {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `maxMarginalRelevanceSearch needs options such as { k: 4, fetchK: 20, lambda: 0.5 }; got ${describe(options)}.`);
    }
    return this.run(async (store) => {
      const mmr = resolveMmr(options, this.mmrDefaults);
      const { filter: _f, ...search } = this.searchOptions;
      const hits = await mmrSearch(store, query, search, mmr, options.filter, options.signal ?? inheritedSignal());
      return hits.map((h) => hitToDocument(h));
    });
  }

  /**
   * LangChain's `asRetriever` (same arguments: k, filter, searchType "similarity" | "mmr",
   * searchKwargs { fetchK, lambda }), returning an `M3VectorStoreRetriever`, which also honours
   * `RunnableConfig.signal` and `timeout`.
   */
  override asRetriever(
    kOrFields?: number | Partial<VectorStoreRetrieverInput<this>>,
    filter?: this["FilterType"],
    callbacks?: Callbacks,
    tags?: string[],
    metadata?: Record<string, unknown>,
    verbose?: boolean,
  ): VectorStoreRetriever<this> {
    const r = super.asRetriever(kOrFields, filter, callbacks, tags, metadata, verbose);
    const common = { vectorStore: this as M3VectorStore, k: r.k, filter: r.filter, tags: r.tags, metadata: r.metadata, verbose: r.verbose, callbacks: r.callbacks };
    const retriever = r.searchType === "mmr"
      ? new M3VectorStoreRetriever({ ...common, searchType: "mmr", searchKwargs: r.searchKwargs })
      : new M3VectorStoreRetriever({ ...common, searchType: "similarity" });
    return retriever as unknown as VectorStoreRetriever<this>;
  }

  /** Saves the index into `directory` (atomic; see the README's persistence section). */
  async save(directory: string): Promise<void> {
    await this.run((store) => store.save(directory));
  }

  /** Waits for writes in flight and releases the store (files, connections). Idempotent; later calls get DISPOSED. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.active);
    const store = this.opened ?? (await this.opening?.catch(() => undefined));
    await store?.close();
  }

  /** Runs `job` on the open store as a call that `close()` waits for. */
  private run<T>(job: (store: M3HybridStore) => Promise<T>): Promise<T> {
    let p: Promise<T>;
    try {
      p = this.getStore().then(job);
    } catch (err) {
      return Promise.reject(err);
    }
    const settled = p.then(() => undefined, () => undefined);
    this.active.add(settled);
    void settled.then(() => this.active.delete(settled));
    return p;
  }

  private checkOpen(): void {
    if (this.closed) throw new M3Error(ErrorCodes.DISPOSED, "This M3VectorStore was closed; open a new one (M3VectorStore.load / fromExistingIndex / create).");
  }
}
