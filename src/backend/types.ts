/**
 * The backend contract: what `retrieve/` needs from a place that stores M3 documents. The
 * embedded index (`index/`: HNSW + inverted lists + ColBERT file) and the server backend
 * (`postgres/`: pg + pgvector) both implement `RetrievalBackend`; neither imports the other,
 * and nothing above this seam knows which one it talks to.
 *
 * A search is planned by `retrieve/` (`SearchPlan`, backend/plan.ts, built and validated once per
 * query). A backend MAY run the plan itself (`search(plan)`); otherwise it MUST supply the
 * primitives the default executor calls: `candidates` (top-N per first stage, one call) →
 * `scoreCandidates` (exact score of every candidate in every searched mode: ids and numbers, no
 * documents) → fuse → top-k → `fetchDocuments` (the documents of the final k only, one call).
 * Scores point the same way everywhere: higher is better.
 *
 * Optional, for backends that keep a compact copy of the ColBERT rows (`capabilities.colbertTiers`):
 * a multi-vector first stage (`CandidateRequest.colbertDepth`) and an approximate ColBERT tier
 * (`prescoreColbert`). The plan then scores the whole pool exactly in dense and sparse and
 * approximately in ColBERT, and asks `scoreCandidates` for exact ColBERT scores of the best few
 * only. Backends without them (the server backend) are planned as before.
 */
import type { ModeScores } from "../math/scores.js";
import type { M3Encoding, ModelFingerprint } from "../types.js";
import type { StoredDocument } from "./document.js";
import type { Filter, MetadataFilter } from "./filter.js";
import type { CandidateSource, SearchHit, SearchMode, SearchPlan, SearchStats } from "./plan.js";

/** A filter as a caller writes it, or as `parseFilter` returned it. */
export type AnyFilter = Filter | MetadataFilter;

export type { CandidateSource, SearchMode };

export type { StoredDocument };

/** A document with its encoding, as a backend takes it. */
export interface BackendEntry {
  id: string;
  pageContent: string;
  metadata?: Record<string, unknown>;
  /** dense, sparse and colbert are required. */
  encoding: M3Encoding;
}

/** Result of `delete`: unknown ids are ignored and listed, not an error. */
export interface DeleteResult {
  deleted: number;
  notFound: string[];
}

export interface UpsertResult {
  added: number;
  replaced: number;
}

/** Options every long call takes. */
export interface CallOptions {
  /** Rejects with `ABORTED` when aborted; a write that is aborted stores nothing. @default none */
  signal?: AbortSignal;
}

export interface CandidateRequest extends CallOptions {
  /** How many top documents each first stage nominates (a source left out is not asked). */
  depth: Partial<Record<CandidateSource, number>>;
  /**
   * How many top documents a multi-vector (ColBERT) first stage nominates, where the backend has
   * one (`capabilities.colbertTiers`); others ignore it. The query must then carry `colbert`.
   * @default 0 (not asked)
   */
  colbertDepth?: number;
  /** Only documents matching this filter may be nominated. @default none */
  filter?: AnyFilter;
}

/** What the first stages nominated, in one call. */
export interface CandidatePool {
  /** Distinct ids, the union of every source's top-N (or every matching document). */
  ids: string[];
  /** True when `ids` is every document matching the filter (a depth covered the population). */
  exhaustive: boolean;
  /** Documents that matched the filter, when the backend counted them. */
  matching?: number;
  /** Per-stage timings (ms) and counters, for logs and benchmarks. */
  stats: CandidateStats;
}

export interface CandidateStats {
  filterMs: number;
  denseMs: number;
  sparseMs: number;
  /** Time of the multi-vector first stage, when it was asked. */
  colbertMs?: number;
  sparsePostingsVisited?: number;
  sparsePostingsTotal?: number;
  /** Bytes received from a server for this call, when the backend is remote. */
  wireBytes?: number;
}

/**
 * Exact per-mode scores of candidates, by id: numbers only, no documents (a search fetches the
 * documents of its final k with `fetchDocuments`). Each stored id once, in the order first asked;
 * ids no longer stored are left out. `scores[i]` belongs to `ids[i]`.
 */
export interface ScoredCandidates {
  ids: string[];
  scores: ModeScores[];
  stats: { scoreMs: number; colbertMs: number; wireBytes?: number };
}

/** The documents of a search's final results, in the order asked; `undefined` for an id no longer stored. */
export interface FetchedDocuments {
  docs: (StoredDocument | undefined)[];
  stats: { fetchMs: number; wireBytes?: number };
}

/** Backend facts for `info` / `m3 info`. */
export interface BackendInfo {
  /** "embedded" or "postgres". */
  kind: string;
  fingerprint: ModelFingerprint;
  documents: number;
  denseDim: number;
  colbertDim: number;
  /** Where the data lives, for humans ("in memory", a directory, "postgres://host/db table t"). */
  location: string;
  /** Bytes by part, where known (dense, sparse, colbert, docs). */
  bytes: Record<string, number>;
}

export interface BackendCapabilities {
  /** Filters may be JavaScript predicates (only a backend that holds documents in-process can run them). */
  predicateFilters: boolean;
  /** `save(dir)` writes a directory that `load` reopens (the embedded index). */
  save: boolean;
  /** The backend has a multi-vector (ColBERT) first stage (`CandidateRequest.colbertDepth`). @default colbertTiers */
  multiVectorStage?: boolean;
  /** The backend has approximate ColBERT scores (`prescoreColbert`) for the two-tier ranking. @default colbertTiers */
  approximateColbert?: boolean;
  /**
   * Both of the above (the older, joint flag; read only where the split flags are left out).
   * @default false
   */
  colbertTiers?: boolean;
}

/**
 * A store of M3 documents that can nominate and score candidates. Every method validates what
 * it is given and throws `M3Error`; writes are atomic per call (all entries or none).
 */
export interface RetrievalBackend {
  readonly kind: string;
  readonly capabilities: BackendCapabilities;
  /** The model the stored encodings come from; queries must come from the same. */
  readonly fingerprint: ModelFingerprint;
  readonly denseDim: number;
  readonly colbertDim: number;

  /** Adds or replaces (by id) documents; within one call a repeated id keeps the last entry. */
  upsert(entries: BackendEntry[], options?: CallOptions): Promise<UpsertResult>;
  /** Removes by id; unknown ids are ignored and reported. */
  delete(ids: string[], options?: CallOptions): Promise<DeleteResult>;
  /** Removes every document matching `filter`; returns how many. */
  deleteWhere(filter: AnyFilter, options?: CallOptions): Promise<number>;
  /** Removes every document. */
  clear(options?: CallOptions): Promise<void>;
  /** Documents by id, in the order asked; `undefined` for an unknown id. `dense` adds the stored dense vectors. */
  getDocuments(ids: string[], options?: CallOptions & { dense?: boolean }): Promise<(StoredDocument & { dense?: Float32Array } | undefined)[]>;
  /** Number of documents (matching `filter`, when given). */
  count(filter?: AnyFilter): Promise<number>;
  /** Every document (id + metadata + text), in pages, for incremental indexing and exports. */
  documents(options?: { filter?: AnyFilter; pageSize?: number }): AsyncIterable<StoredDocument>;

  /** Candidate ids from the first stages, in one call (one round trip for a server). */
  candidates(query: M3Encoding, request: CandidateRequest): Promise<CandidatePool>;
  /** Exact scores of `ids` in each of `modes` (the query must carry those outputs): ids and scores, no documents. */
  scoreCandidates(query: M3Encoding, ids: string[], modes: ReadonlySet<SearchMode>, options?: CallOptions): Promise<ScoredCandidates>;
  /**
   * The documents of `ids` (a search's final k), in one call (one round trip for a server), in the
   * order asked; `undefined` for an id not stored. Copies: changing one does not change the backend.
   */
  fetchDocuments(ids: string[], options?: CallOptions): Promise<FetchedDocuments>;
  /**
   * Approximate ColBERT scores of `ids` (same formula, over compact rows), in the order given;
   * NaN for an id not stored. Only where `capabilities.colbertTiers`; the plan uses them to
   * choose which candidates get exact ColBERT scores, never as a result's score.
   */
  prescoreColbert?(query: M3Encoding, ids: string[], options?: CallOptions): Promise<Float32Array>;

  /**
   * Runs a whole plan in one request (prefetch → fusion → MaxSim, as an engine's own query API
   * would), returning the same hits the default executor would. Optional: without it
   * `retrieve/` runs the plan over `candidates` / `scoreCandidates` / `prescoreColbert` / `fetchDocuments`.
   */
  search?(plan: SearchPlan, options?: CallOptions): Promise<{ hits: SearchHit[]; stats: SearchStats }>;

  info(): Promise<BackendInfo>;
  /** Writes the backend to `dir` (only where `capabilities.save`). */
  save?(dir: string): Promise<void>;
  /** Releases files, sessions and connections; the backend cannot be used afterwards. */
  close(): Promise<void>;
}
