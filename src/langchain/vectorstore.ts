/**
 * `M3VectorStore`: a LangChain `SaveableVectorStore` over the hybrid index. Text searches
 * (`similaritySearch`, `similaritySearchWithScore`, `asRetriever`) are hybrid — the fused score
 * of dense, sparse and ColBERT; `similaritySearchVectorWithScore` searches the dense part only.
 * Works with LangChain's indexing API: `addDocuments(docs, { ids })` upserts by id and
 * `delete({ ids })` removes (unknown ids are ignored).
 */
import type { Callbacks } from "@langchain/core/callbacks/manager";
import type { DocumentInterface } from "@langchain/core/documents";
import { Document } from "@langchain/core/documents";
import type { EmbeddingsInterface } from "@langchain/core/embeddings";
import { SaveableVectorStore } from "@langchain/core/vectorstores";
import { ErrorCodes, M3Error } from "../errors.js";
import { M3HybridStore, type M3HybridStoreLoadOptions, type M3HybridStoreOptions } from "../retrieve/hybrid-store.js";
import type { MetadataFilter, SearchOptions } from "../retrieve/options.js";
import { search } from "../retrieve/search.js";
import type { M3EncoderLike } from "../types.js";
import { describe } from "../util/validate.js";
import { M3_SCORES_KEY, hitToDocument } from "./documents.js";

/** An encoder usable by LangChain: `M3Embeddings` is one. */
export type M3EncoderEmbeddings = M3EncoderLike & EmbeddingsInterface;

export class M3VectorStore extends SaveableVectorStore {
  declare FilterType: MetadataFilter;

  override lc_namespace = ["langchain_m3", "vectorstores"];

  /** The hybrid store underneath (index + encoder). */
  readonly store: M3HybridStore;
  /** Options of the text searches (k and filter come from the call). */
  readonly searchOptions: SearchOptions;

  constructor(embeddings: M3EncoderEmbeddings, fields: { store: M3HybridStore; search?: SearchOptions }) {
    super(embeddings, fields as unknown as Record<string, unknown>);
    this.store = fields.store;
    this.searchOptions = { ...fields.search };
  }

  /** An empty store for `embeddings`' model. */
  static async create(embeddings: M3EncoderEmbeddings, options: M3HybridStoreOptions = {}): Promise<M3VectorStore> {
    return new M3VectorStore(embeddings, { store: await M3HybridStore.create(embeddings, options), search: options.search });
  }

  static override async fromDocuments(docs: DocumentInterface[], embeddings: M3EncoderEmbeddings, options: M3HybridStoreOptions = {}): Promise<M3VectorStore> {
    const vs = await M3VectorStore.create(embeddings, options);
    await vs.addDocuments(docs);
    return vs;
  }

  static override async fromTexts(texts: string[], metadatas: object[] | object, embeddings: M3EncoderEmbeddings, options: M3HybridStoreOptions = {}): Promise<M3VectorStore> {
    const docs = texts.map((t, i) => new Document({ pageContent: t, metadata: (Array.isArray(metadatas) ? metadatas[i] : metadatas) ?? {} }));
    return M3VectorStore.fromDocuments(docs, embeddings, options);
  }

  _vectorstoreType(): string {
    return "m3-hybrid";
  }

  /** Encodes (all three outputs) and upserts; ids from `options.ids`, else `doc.id`, else generated. */
  async addDocuments(documents: DocumentInterface[], options?: { ids?: string[] }): Promise<string[]> {
    return this.store.addDocuments(
      documents.map((d) => ({ pageContent: d.pageContent, metadata: stripScores(d.metadata), id: d.id })),
      { ids: options?.ids },
    );
  }

  /**
   * Adds documents with precomputed dense vectors (checked against the index's dimension); their
   * sparse and ColBERT outputs are computed from `pageContent`, as the index holds all three.
   */
  async addVectors(vectors: number[][], documents: DocumentInterface[], options?: { ids?: string[] }): Promise<string[]> {
    const dim = this.store.backend.denseDim;
    if (!Array.isArray(vectors) || !Array.isArray(documents) || vectors.length !== documents.length) {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `addVectors needs one vector per document; got ${describe(vectors)} for ${describe(documents)}.`);
    }
    const dense = vectors.map((v, i) => {
      if (!Array.isArray(v) || v.length !== dim || v.some((x) => typeof x !== "number" || !Number.isFinite(x))) {
        throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `vectors[${i}] must be ${dim} finite numbers (the index's dense dimension); got ${describe(v)}. Embed with the index's model.`);
      }
      return Float32Array.from(v);
    });
    if (options?.ids !== undefined && (!Array.isArray(options.ids) || options.ids.length !== documents.length)) {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `options.ids must have one id per document (${documents.length}); got ${describe(options.ids)}.`);
    }
    const enc = await this.store.encoder.encode(documents.map((d) => d.pageContent), { dense: false, sparse: true, colbert: true });
    const ids = documents.map((d, i) => options?.ids?.[i] ?? (typeof d.id === "string" && d.id.length > 0 ? d.id : crypto.randomUUID()));
    await this.store.addEncoded(
      documents.map((d, i) => ({ id: ids[i]!, pageContent: d.pageContent, metadata: stripScores(d.metadata), encoding: { ...enc[i]!, dense: dense[i]! } })),
    );
    return ids;
  }

  /** Deletes by `{ ids }`; unknown ids are ignored. Anything else is INVALID_ARGUMENT. */
  override async delete(params?: { ids?: string[] }): Promise<void> {
    if (params === undefined || !Array.isArray(params.ids)) {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `delete expects { ids: string[] }; got ${describe(params)}.`);
    }
    await this.store.delete(params.ids);
  }

  /** Dense-only search with a raw query vector; the score is the inner product (higher is better). */
  async similaritySearchVectorWithScore(query: number[], k: number, filter?: MetadataFilter): Promise<[Document, number][]> {
    const dim = this.store.backend.denseDim;
    if (!Array.isArray(query) || query.length !== dim || query.some((x) => typeof x !== "number" || !Number.isFinite(x))) {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `The query vector must be ${dim} finite numbers; got ${describe(query)}.`);
    }
    const hits = await search(this.store.backend, { dense: Float32Array.from(query), tokenCount: 0 }, { ...this.searchOptions, k, filter, modes: ["dense"] });
    return hits.map((h) => [hitToDocument(h), h.score]);
  }

  /** Hybrid search; the score is the fused score (also in `metadata.m3Scores`). */
  override async similaritySearchWithScore(query: string, k = 4, filter?: MetadataFilter, _callbacks?: Callbacks): Promise<[Document, number][]> {
    const hits = await this.store.search(query, { ...this.searchOptions, k, filter });
    return hits.map((h) => [hitToDocument(h), h.score]);
  }

  override async similaritySearch(query: string, k = 4, filter?: MetadataFilter, _callbacks?: Callbacks): Promise<Document[]> {
    return (await this.similaritySearchWithScore(query, k, filter)).map(([d]) => d);
  }

  /** Saves the index into `directory` (atomic; see the README's persistence section). */
  async save(directory: string): Promise<void> {
    await this.store.save(directory);
  }

  /** Loads a saved store; INDEX_MODEL_MISMATCH when `embeddings` is another model. */
  static override async load(directory: string, embeddings: M3EncoderEmbeddings, options: M3HybridStoreLoadOptions = {}): Promise<M3VectorStore> {
    return new M3VectorStore(embeddings, { store: await M3HybridStore.load(directory, embeddings, options), search: options.search });
  }
}

/** Documents coming back from a search carry scores; they are not stored as metadata. */
function stripScores(metadata: Record<string, unknown> | undefined): Record<string, unknown> {
  if (metadata === undefined || metadata === null) return {};
  if (!(M3_SCORES_KEY in metadata)) return metadata;
  const { [M3_SCORES_KEY]: _s, ...rest } = metadata;
  return rest;
}
