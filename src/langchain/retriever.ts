/**
 * `M3HybridRetriever`: LangChain retriever over an `M3HybridStore`. `invoke(query)` encodes the
 * query once, searches dense ∪ sparse candidates, fuses (optionally with ColBERT) and returns
 * Documents with `id` and exactly the stored metadata — plus `metadata.m3Scores` when
 * `includeScores` is on. `searchType: "mmr"` re-selects the hybrid candidates by maximal
 * marginal relevance. `RunnableConfig.signal` and `timeout` stop the search (ABORTED).
 */
import type { CallbackManagerForRetrieverRun } from "@langchain/core/callbacks/manager";
import type { Document } from "@langchain/core/documents";
import { BaseRetriever, type BaseRetrieverInput } from "@langchain/core/retrievers";
import type { RunnableConfig } from "@langchain/core/runnables";
import { ErrorCodes, M3Error } from "../errors.js";
import type { HybridStore as M3HybridStore } from "../retrieve/hybrid-store.js";
import { resolveSearch, SEARCH_DEFAULTS, type SearchOptions } from "../retrieve/options.js";
import { describe } from "../util/validate.js";
import { hitToDocument } from "./documents.js";
import { mmrSearch, resolveMmr, type MmrSimilarity, type ResolvedMmr } from "./mmr.js";
import { configSignal, inheritedSignal, raceSignal, withSignal } from "./signal.js";

export interface M3HybridRetrieverInput extends BaseRetrieverInput, SearchOptions {
  /** The store to search. */
  store: M3HybridStore;
  /** Adds each result's scores under `metadata.m3Scores` (`M3_SCORES_KEY`). @default false */
  includeScores?: boolean;
  /** "similarity": the hybrid ranking; "mmr": maximal marginal relevance over it. @default "similarity" */
  searchType?: "similarity" | "mmr";
  /** MMR only: candidates taken from the hybrid search (at least k). @default 20 */
  fetchK?: number;
  /** MMR only: 1 = relevance only, 0 = diversity only. @default 0.5 */
  lambda?: number;
  /** MMR only: the similarity of relevance and redundancy ("dense" = LangChain's). @default "dense" */
  mmrSimilarity?: MmrSimilarity;
}

export class M3HybridRetriever extends BaseRetriever {
  static override lc_name(): string {
    return "M3HybridRetriever";
  }

  lc_namespace = ["langchain_m3", "retrievers"];

  readonly store: M3HybridStore;
  /** Search options of every call (k, candidates, weights, filter, modes, fusion, rrfK). */
  readonly searchOptions: SearchOptions;
  readonly includeScores: boolean;
  readonly searchType: "similarity" | "mmr";
  /** The MMR settings (used when `searchType` is "mmr"). */
  readonly mmr: ResolvedMmr;

  constructor(fields: M3HybridRetrieverInput) {
    if (fields === null || typeof fields !== "object" || fields.store === undefined) {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `M3HybridRetriever needs { store: M3HybridStore, ...searchOptions }; got ${describe(fields)}.`);
    }
    super(fields);
    const { store, callbacks: _c, tags: _t, metadata: _m, verbose: _v, includeScores, searchType, fetchK, lambda, mmrSimilarity, ...search } = fields;
    resolveSearch(search); // fail fast on bad options
    if (includeScores !== undefined && typeof includeScores !== "boolean") {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `includeScores must be true or false; got ${describe(includeScores)}.`);
    }
    if (searchType !== undefined && searchType !== "similarity" && searchType !== "mmr") {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `searchType must be "similarity" or "mmr"; got ${describe(searchType)}.`);
    }
    this.store = store;
    this.searchOptions = search;
    this.includeScores = includeScores ?? false;
    this.searchType = searchType ?? "similarity";
    this.mmr = resolveMmr({ k: search.k ?? SEARCH_DEFAULTS.k, fetchK, lambda, mmrSimilarity });
  }

  /** As `BaseRetriever.invoke`, and `options.signal` / `options.timeout` stop the search (ABORTED). */
  override async invoke(input: string, options?: RunnableConfig): Promise<Document[]> {
    const signal = configSignal(options);
    if (signal === undefined) return super.invoke(input, options);
    return raceSignal(
      withSignal(signal, () => super.invoke(input, options)),
      signal,
      "M3HybridRetriever.invoke",
    );
  }

  override async _getRelevantDocuments(query: string, runManager?: CallbackManagerForRetrieverRun): Promise<Document[]> {
    const signal = inheritedSignal();
    if (this.searchType === "mmr") {
      const { filter, ...search } = this.searchOptions;
      const hits = await mmrSearch(this.store, query, search, this.mmr, filter, signal);
      return hits.map((h) => hitToDocument(h, this.includeScores));
    }
    const { hits, stats } = await this.store.searchWithStats(query, { ...this.searchOptions, signal });
    const t = stats.timings;
    await runManager?.handleText(
      `M3HybridRetriever: ${hits.length} hits from a pool of ${stats.poolSize} (${stats.strategy}); ms: encode ${stats.encodeMs.toFixed(1)}, dense ${t.dense.toFixed(1)}, sparse ${t.sparse.toFixed(1)}, colbert ${t.colbert.toFixed(1)}, fuse ${t.fuse.toFixed(1)}`,
    );
    return hits.map((h) => hitToDocument(h, this.includeScores));
  }
}
