/**
 * Retrieval over any `RetrievalBackend` with a query encoding: the backend nominates dense
 * top-N ∪ sparse top-N in one call, scores every candidate exactly in each searched mode
 * (ColBERT MaxSim included), and this module fuses and cuts to k. The plan is the same for
 * every backend, so the same query gives the same results wherever the documents live.
 *
 * Where the backend has ColBERT tiers (`capabilities.colbertTiers`), ColBERT is searched and the
 * fusion is weighted, the pool also takes the multi-vector first stage's top-N, and is ranked
 * in two tiers: exact dense and sparse scores with approximate ColBERT scores for every
 * candidate (`prescoreColbert`), then exact ColBERT scores for the best `rerank` only; results
 * are ranked by exact scores among those. A pool that covers the corpus, or is no larger than
 * `rerank`, is scored exactly throughout.
 */
import { hasPredicate } from "../backend/filter.js";
import type { CallOptions, CandidatePool, CandidateRequest, CandidateSource, RetrievalBackend, ScoredCandidates, SearchMode, StoredDocument } from "../backend/types.js";
import { checkQuery } from "../backend/validate.js";
import { ErrorCodes, M3Error } from "../errors.js";
import { combineScores, type ModeScores } from "../math/scores.js";
import type { M3Encoding } from "../types.js";
import { rrfFusion, weightedFusion } from "./fusion.js";
import { resolveSearch, type ResolvedSearch, type SearchOptions } from "./options.js";

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
  /** Bytes received from a server backend (candidates + scores), when it counts them. */
  wireBytes?: number;
  /**
   * `multiVector`: the ColBERT first stage; `prescore`: approximate ColBERT scores of the pool;
   * `score`: exact dense and sparse scores; `colbert`: exact ColBERT scores.
   */
  timings: { filter: number; dense: number; sparse: number; multiVector: number; score: number; prescore: number; colbert: number; fuse: number };
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
  const tiers = backend.capabilities.colbertTiers === true && typeof backend.prescoreColbert === "function" && o.modes.has("colbert") && o.fusion === "weighted";
  const sources = poolSources(o.modes);
  const q = checkQuery(query, new Set<string>([...o.modes, ...sources]), backend.denseDim, backend.colbertDim);
  const n = Math.max(o.candidates, o.k);
  const depth: Partial<Record<CandidateSource, number>> = {};
  for (const s of sources) depth[s] = n;
  const signal = options?.signal;
  const request: CandidateRequest = { depth, filter: o.filter, signal };
  if (tiers && o.colbertCandidates > 0) request.colbertDepth = Math.max(o.colbertCandidates, o.k);
  const pool = await backend.candidates(q, request);
  const rerank = Math.max(o.rerank, o.k);
  const twoTier = tiers && !pool.exhaustive && pool.ids.length > rerank;
  const scored = twoTier ? await scoreInTiers(backend, q, pool.ids, o, rerank, signal) : { ...(await backend.scoreCandidates(q, pool.ids, o.modes, { signal })), poolSize: 0, prescoreMs: 0 };
  const t = performance.now();
  const { docs, scores } = scored;
  const fused = o.fusion === "rrf" ? rrfFusion(scores, o.modes, o.weights, o.rrfK) : weightedFusion(scores, o.weights);
  const order = Array.from(docs, (_, i) => i).sort((a, b) => fused[b]! - fused[a]! || compareIds(docs[a]!.id, docs[b]!.id));
  const hits = order.slice(0, o.k).map((i) => {
    const d = docs[i]!;
    return { id: d.id, score: fused[i]!, scores: scores[i]!, document: { id: d.id, pageContent: d.pageContent, metadata: { ...d.metadata } } };
  });
  return { hits, stats: searchStats(pool, scored, twoTier ? scored.poolSize : docs.length, docs.length, o, performance.now() - t) };
}

type TieredScores = ScoredCandidates & { poolSize: number; prescoreMs: number };

/** The exact tier rescores at most this many times `rerank` candidates. */
const RERANK_ROUNDS = 4;

/**
 * The two tiers: exact dense/sparse and approximate ColBERT scores of the whole pool, then exact
 * ColBERT scores of the best `rerank` by that fused score. While a candidate not yet rescored
 * could still reach the top k — its approximate fused score, corrected by the mean
 * approximation error of the rescored ones, plus their largest deviation from that mean,
 * reaches the k-th exact fused score — the next `rerank` (in that order) are rescored too, at
 * most RERANK_ROUNDS rounds. Returns the rescored candidates with all exact scores.
 */
async function scoreInTiers(backend: RetrievalBackend, q: M3Encoding, ids: string[], o: ResolvedSearch, rerank: number, signal: AbortSignal | undefined): Promise<TieredScores> {
  const exactModes = new Set([...o.modes].filter((m) => m !== "colbert"));
  const first = await backend.scoreCandidates(q, ids, exactModes, { signal });
  const t = performance.now();
  const approx = await backend.prescoreColbert!(q, first.docs.map((d) => d.id), { signal });
  const prescoreMs = performance.now() - t;
  const fused = first.scores.map((s, i) => (Number.isNaN(approx[i]!) ? -Infinity : combineScores({ ...s, colbert: approx[i]! }, o.weights)));
  const order = Array.from(first.docs, (_, i) => i)
    .filter((i) => fused[i]! > -Infinity)
    .sort((a, b) => fused[b]! - fused[a]! || compareIds(first.docs[a]!.id, first.docs[b]!.id));
  const docs: StoredDocument[] = [];
  const scores: ModeScores[] = [];
  const exactFused: number[] = [];
  const stats: ScoredCandidates["stats"] = { scoreMs: first.stats.scoreMs, colbertMs: 0 };
  let wire = first.stats.wireBytes;
  const diffs: number[] = [];
  for (let done = 0, round = 0; done < order.length && round < RERANK_ROUNDS; round++) {
    if (round > 0) {
      // The k-th best exact fused score so far; stop when no remaining candidate can reach it,
      // its approximate score corrected by the mean error seen, plus the largest deviation from it.
      const kth = [...exactFused].sort((a, b) => b - a)[o.k - 1] ?? -Infinity;
      const bias = diffs.reduce((a, b) => a + b, 0) / Math.max(1, diffs.length);
      const spread = diffs.reduce((m, d) => Math.max(m, Math.abs(d - bias)), 0);
      if (fused[order[done]!]! + bias + spread < kth) break;
    }
    const batch = order.slice(done, done + rerank);
    done += batch.length;
    const second = await backend.scoreCandidates(q, batch.map((i) => first.docs[i]!.id), new Set<SearchMode>(["colbert"]), { signal });
    stats.scoreMs += second.stats.scoreMs;
    stats.colbertMs += second.stats.colbertMs;
    if (second.stats.wireBytes !== undefined) wire = (wire ?? 0) + second.stats.wireBytes;
    const at = new Map(batch.map((i) => [first.docs[i]!.id, i]));
    second.docs.forEach((d, j) => {
      const i = at.get(d.id)!;
      const s = { ...first.scores[i], colbert: second.scores[j]!.colbert };
      const f = combineScores(s, o.weights);
      diffs.push(f - fused[i]!);
      docs.push(d);
      scores.push(s);
      exactFused.push(f);
    });
  }
  if (wire !== undefined) stats.wireBytes = wire;
  return { docs, scores, stats, poolSize: first.docs.length, prescoreMs };
}

function searchStats(pool: CandidatePool, scored: ScoredCandidates & { prescoreMs: number }, poolSize: number, reranked: number, o: ResolvedSearch, fuseMs: number): SearchStats {
  const ps = pool.stats;
  const wire = ps.wireBytes === undefined && scored.stats.wireBytes === undefined ? undefined : (ps.wireBytes ?? 0) + (scored.stats.wireBytes ?? 0);
  const stats: SearchStats = {
    poolSize,
    reranked: o.modes.has("colbert") ? reranked : 0,
    strategy: pool.exhaustive ? "exhaustive" : "candidates",
    sparsePostingsVisited: ps.sparsePostingsVisited ?? 0,
    sparsePostingsTotal: ps.sparsePostingsTotal ?? 0,
    timings: {
      filter: ps.filterMs, dense: ps.denseMs, sparse: ps.sparseMs, multiVector: ps.colbertMs ?? 0,
      score: scored.stats.scoreMs, prescore: scored.prescoreMs, colbert: scored.stats.colbertMs, fuse: fuseMs,
    },
  };
  if (o.filter !== undefined && pool.matching !== undefined) stats.filteredDocuments = pool.matching;
  if (wire !== undefined) stats.wireBytes = wire;
  return stats;
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
