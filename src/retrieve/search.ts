/**
 * Retrieval over any `RetrievalBackend` with a query encoding: the backend nominates dense
 * top-N ∪ sparse top-N in one call, scores every candidate exactly in each searched mode
 * (ColBERT MaxSim included), and this module fuses and cuts to k. The plan is the same for
 * every backend, so the same query gives the same results wherever the documents live.
 */
import { hasPredicate } from "../backend/filter.js";
import type { CallOptions, CandidateSource, RetrievalBackend, SearchMode, StoredDocument } from "../backend/types.js";
import { checkQuery } from "../backend/validate.js";
import { ErrorCodes, M3Error } from "../errors.js";
import type { ModeScores } from "../math/scores.js";
import type { M3Encoding } from "../types.js";
import { rrfFusion, weightedFusion } from "./fusion.js";
import { resolveSearch, type SearchOptions } from "./options.js";

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
  /** "exhaustive" when the pool was every (matching) document. */
  strategy: "candidates" | "exhaustive";
  filteredDocuments?: number;
  sparsePostingsVisited: number;
  sparsePostingsTotal: number;
  /** Bytes received from a server backend (candidates + scores), when it counts them. */
  wireBytes?: number;
  timings: { filter: number; dense: number; sparse: number; score: number; colbert: number; fuse: number };
}

export async function search(backend: RetrievalBackend, query: M3Encoding, options?: SearchOptions & CallOptions): Promise<SearchHit[]> {
  return (await searchWithStats(backend, query, options)).hits;
}

export async function searchWithStats(
  backend: RetrievalBackend,
  query: M3Encoding,
  options?: SearchOptions & CallOptions,
): Promise<{ hits: SearchHit[]; stats: SearchStats }> {
  const o = resolveSearch(options);
  if (o.filter !== undefined && hasPredicate(o.filter) && !backend.capabilities.predicateFilters) {
    throw new M3Error(
      ErrorCodes.INVALID_ARGUMENT,
      `The ${backend.kind} backend cannot run a JavaScript predicate filter; write the filter as an object ({ key: value }, $in, $gt, $and, ...), which it translates.`,
    );
  }
  const sources = poolSources(o.modes);
  const q = checkQuery(query, new Set<string>([...o.modes, ...sources]), backend.denseDim, backend.colbertDim);
  const n = Math.max(o.candidates, o.k);
  const depth: Partial<Record<CandidateSource, number>> = {};
  for (const s of sources) depth[s] = n;
  const signal = options?.signal;
  const pool = await backend.candidates(q, { depth, filter: o.filter, signal });
  const scored = await backend.scoreCandidates(q, pool.ids, o.modes, { signal });
  const t = performance.now();
  const { docs, scores } = scored;
  const fused = o.fusion === "rrf" ? rrfFusion(scores, o.modes, o.weights, o.rrfK) : weightedFusion(scores, o.weights);
  const order = Array.from(docs, (_, i) => i).sort((a, b) => fused[b]! - fused[a]! || compareIds(docs[a]!.id, docs[b]!.id));
  const hits = order.slice(0, o.k).map((i) => {
    const d = docs[i]!;
    return { id: d.id, score: fused[i]!, scores: scores[i]!, document: { id: d.id, pageContent: d.pageContent, metadata: { ...d.metadata } } };
  });
  const ps = pool.stats;
  const wire = ps.wireBytes === undefined && scored.stats.wireBytes === undefined ? undefined : (ps.wireBytes ?? 0) + (scored.stats.wireBytes ?? 0);
  const stats: SearchStats = {
    poolSize: docs.length,
    strategy: pool.exhaustive ? "exhaustive" : "candidates",
    sparsePostingsVisited: ps.sparsePostingsVisited ?? 0,
    sparsePostingsTotal: ps.sparsePostingsTotal ?? 0,
    timings: { filter: ps.filterMs, dense: ps.denseMs, sparse: ps.sparseMs, score: scored.stats.scoreMs, colbert: scored.stats.colbertMs, fuse: performance.now() - t },
  };
  if (o.filter !== undefined && pool.matching !== undefined) stats.filteredDocuments = pool.matching;
  if (wire !== undefined) stats.wireBytes = wire;
  return { hits, stats };
}

/** Which of dense / sparse supply candidates: the searched ones, or both when only ColBERT is searched. */
function poolSources(modes: ReadonlySet<SearchMode>): Set<CandidateSource> {
  const s = new Set<CandidateSource>();
  if (modes.has("dense")) s.add("dense");
  if (modes.has("sparse")) s.add("sparse");
  if (s.size === 0) {
    s.add("dense");
    s.add("sparse");
  }
  return s;
}

/** Code-unit order, the same on every platform (unlike localeCompare). */
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
