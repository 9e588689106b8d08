/**
 * `M3HybridRetriever`: LangChain retriever over an `M3HybridStore`. `invoke(query)` encodes the
 * query once, searches dense ∪ sparse candidates, fuses (optionally with ColBERT) and returns
 * Documents with `id` and `metadata.m3Scores = { fused, dense, sparse, colbert }`.
 */
import type { CallbackManagerForRetrieverRun } from "@langchain/core/callbacks/manager";
import type { Document } from "@langchain/core/documents";
import { BaseRetriever, type BaseRetrieverInput } from "@langchain/core/retrievers";
import { ErrorCodes, M3Error } from "../errors.js";
import type { M3HybridStore } from "../retrieve/hybrid-store.js";
import { resolveSearch, type SearchOptions } from "../retrieve/options.js";
import { hitToDocument } from "./documents.js";

export interface M3HybridRetrieverInput extends BaseRetrieverInput, SearchOptions {
  /** The store to search. */
  store: M3HybridStore;
}

export class M3HybridRetriever extends BaseRetriever {
  static override lc_name(): string {
    return "M3HybridRetriever";
  }

  lc_namespace = ["langchain_m3", "retrievers"];

  readonly store: M3HybridStore;
  /** Search options of every call (k, candidates, weights, filter, modes, fusion, rrfK). */
  readonly searchOptions: SearchOptions;

  constructor(fields: M3HybridRetrieverInput) {
    super(fields);
    if (fields === null || typeof fields !== "object" || fields.store === undefined) {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, "M3HybridRetriever needs { store: M3HybridStore, ...searchOptions }.");
    }
    const { store, callbacks: _c, tags: _t, metadata: _m, verbose: _v, ...search } = fields;
    resolveSearch(search); // fail fast on bad options
    this.store = store;
    this.searchOptions = search;
  }

  override async _getRelevantDocuments(query: string, runManager?: CallbackManagerForRetrieverRun): Promise<Document[]> {
    const { hits, stats } = await this.store.searchWithStats(query, this.searchOptions);
    const t = stats.timings;
    await runManager?.handleText(
      `M3HybridRetriever: ${hits.length} hits from a pool of ${stats.poolSize} (${stats.strategy}); ms: encode ${stats.encodeMs.toFixed(1)}, dense ${t.dense.toFixed(1)}, sparse ${t.sparse.toFixed(1)}, colbert ${t.colbert.toFixed(1)}, fuse ${t.fuse.toFixed(1)}`,
    );
    return hits.map(hitToDocument);
  }
}
