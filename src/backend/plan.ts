/**
 * The search plan and its result, as types: what `retrieve/` asks of a backend for one query
 * (`RetrievalBackend.search(plan)`, for a backend that runs the whole plan itself) and what it
 * returns. Built by `retrieve/plan.ts`; run by the default executor in `retrieve/search.ts` over
 * a backend's primitives when the backend has no `search`.
 */
import type { ModeScores } from "../math/scores.js";
import type { M3Encoding, ModeWeights } from "../types.js";
import type { StoredDocument } from "./document.js";
import type { Filter } from "./filter.js";

/** A retrieval mode: each has an exact score per (query, document). */
export type SearchMode = "dense" | "sparse" | "colbert";

/** A first stage that can nominate candidates: dense (ANN or scan) and sparse (inverted lists). */
export type CandidateSource = "dense" | "sparse";

/** "weighted": the spec's weighted combination; "rrf": weighted reciprocal-rank fusion. */
export type FusionMethod = "weighted" | "rrf";

export interface SearchPlan {
  /** The query encoding, checked (it carries exactly the outputs the stages and modes need). */
  query: M3Encoding;
  /** Results to return. */
  k: number;
  /** Modes scored and fused. */
  modes: ReadonlySet<SearchMode>;
  fusion: FusionMethod;
  weights: ModeWeights;
  rrfK: number;
  /** Only matching documents are candidates. */
  filter: Filter | undefined;
  /**
   * First stages and their depths (top-N each): dense and/or sparse always; `multiVector` (the
   * ColBERT first stage) only where the backend has one and ColBERT is searched with weighted fusion.
   */
  stages: Partial<Record<CandidateSource | "multiVector", number>>;
  /**
   * The two tiers (exact dense + sparse and approximate ColBERT over the pool, exact ColBERT for
   * the best `rerank` per round, at most `rounds` rounds), where the backend has approximate
   * ColBERT scores and ColBERT is searched with weighted fusion; undefined: the pool is scored
   * exactly in every mode.
   */
  tiers: { rerank: number; rounds: number } | undefined;
}

/**
 * One result. `score` is the fused score (higher is better); `scores` has each searched mode's
 * score; `document` is a copy (changing it does not change the index).
 */
export interface SearchHit {
  id: string;
  score: number;
  scores: ModeScores;
  document: StoredDocument;
}

/** What a search did, for benchmarks and logs. Times in milliseconds. */
export interface SearchStats {
  poolSize: number;
  /** Candidates that got exact ColBERT scores (the pool, unless the two tiers ran). */
  reranked: number;
  /** "exhaustive" when the pool was every (matching) document. */
  strategy: "candidates" | "exhaustive";
  filteredDocuments?: number;
  sparsePostingsVisited: number;
  sparsePostingsTotal: number;
  /** Bytes received from a server backend (candidates + scores + the final documents), when it counts them. */
  wireBytes?: number;
  /**
   * `multiVector`: the ColBERT first stage; `prescore`: approximate ColBERT scores of the pool;
   * `score`: exact dense and sparse scores; `colbert`: exact ColBERT scores; `fetch`: the documents
   * of the final k.
   */
  timings: { filter: number; dense: number; sparse: number; multiVector: number; score: number; prescore: number; colbert: number; fuse: number; fetch: number };
}
