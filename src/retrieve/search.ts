/**
 * Retrieval over any `RetrievalBackend` with a query encoding: `planSearch` (plan.ts) builds and
 * validates the plan once; a backend with `search(plan)` runs it itself, otherwise the default
 * executor here runs it over the primitives: the backend nominates dense top-N ∪ sparse top-N
 * (∪ the multi-vector stage's top-N) in one call, scores every candidate exactly in each
 * searched mode (ColBERT MaxSim included; ids and scores only), this module fuses and cuts to k,
 * and the backend returns the documents of those k in one more call. The plan is the
 * same for every backend, so the same query gives the same results wherever the documents live.
 *
 * With `plan.tiers` (the backend has approximate ColBERT scores, ColBERT is searched, fusion is
 * weighted) the pool is ranked in two tiers: exact dense and sparse scores with approximate
 * ColBERT scores for every candidate (`prescoreColbert`), then exact ColBERT scores for the best
 * `rerank` only; results are ranked by exact scores among those. A pool that covers the corpus,
 * or is no larger than `rerank`, is scored exactly throughout.
 */
import type { SearchHit, SearchPlan, SearchStats } from "../backend/plan.js";
import type { CallOptions, CandidatePool, CandidateRequest, FetchedDocuments, RetrievalBackend, ScoredCandidates, SearchMode } from "../backend/types.js";
import { combineScores, type ModeScores } from "../math/scores.js";
import type { M3Encoding } from "../types.js";
import { rrfFusion, weightedFusion } from "./fusion.js";
import { resolveSearch, type SearchOptions } from "./options.js";
import { planSearch } from "./plan.js";

export type { SearchHit, SearchStats };

export async function search(backend: RetrievalBackend, query: M3Encoding, options?: SearchOptions & CallOptions): Promise<SearchHit[]> {
  return (await searchWithStats(backend, query, options)).hits;
}

export async function searchWithStats(
  backend: RetrievalBackend,
  query: M3Encoding,
  options?: SearchOptions & CallOptions,
): Promise<{ hits: SearchHit[]; stats: SearchStats }> {
  return executePlan(backend, planSearch(backend, query, resolveSearch(options)), options);
}

/** Runs `plan` on `backend`: natively where it has `search(plan)`, else over its primitives. */
export function executePlan(backend: RetrievalBackend, plan: SearchPlan, options?: CallOptions): Promise<{ hits: SearchHit[]; stats: SearchStats }> {
  if (typeof backend.search === "function") return backend.search(plan, { signal: options?.signal });
  return defaultExecutor(backend, plan, options?.signal);
}

async function defaultExecutor(backend: RetrievalBackend, plan: SearchPlan, signal: AbortSignal | undefined): Promise<{ hits: SearchHit[]; stats: SearchStats }> {
  const q = plan.query;
  const { multiVector, ...depth } = plan.stages;
  const request: CandidateRequest = { depth, filter: plan.filter, signal };
  if (multiVector !== undefined) request.colbertDepth = multiVector;
  const pool = await backend.candidates(q, request);
  const tiers = plan.tiers;
  const twoTier = tiers !== undefined && !pool.exhaustive && pool.ids.length > tiers.rerank;
  const scored = twoTier ? await scoreInTiers(backend, q, pool.ids, plan, tiers.rerank, tiers.rounds, signal) : { ...(await backend.scoreCandidates(q, pool.ids, plan.modes, { signal })), poolSize: 0, prescoreMs: 0 };
  const t = performance.now();
  const { ids, scores } = scored;
  const fused = plan.fusion === "rrf" ? rrfFusion(scores, plan.modes, plan.weights, plan.rrfK) : weightedFusion(scores, plan.weights);
  const order = Array.from(ids, (_, i) => i).sort((a, b) => fused[b]! - fused[a]! || compareIds(ids[a]!, ids[b]!));
  const fuseMs = performance.now() - t;
  const final = await fetchFinal(backend, order, scored, fused, plan.k, signal);
  return { hits: final.hits, stats: searchStats(pool, scored, final.stats, twoTier ? scored.poolSize : ids.length, ids.length, plan, fuseMs) };
}

/**
 * The documents of the best `k` (in `order`), in one call. An id deleted since it was scored comes
 * back `undefined` and is passed over: the next best take its place (one more call per such gap).
 */
async function fetchFinal(
  backend: RetrievalBackend, order: number[], scored: ScoredCandidates, fused: Float64Array, k: number, signal: AbortSignal | undefined,
): Promise<{ hits: SearchHit[]; stats: FetchedDocuments["stats"] }> {
  const hits: SearchHit[] = [];
  const stats: FetchedDocuments["stats"] = { fetchMs: 0 };
  for (let at = 0; hits.length < k && at < order.length;) {
    const batch = order.slice(at, at + k - hits.length);
    at += batch.length;
    const got = await backend.fetchDocuments(batch.map((i) => scored.ids[i]!), { signal });
    stats.fetchMs += got.stats.fetchMs;
    if (got.stats.wireBytes !== undefined) stats.wireBytes = (stats.wireBytes ?? 0) + got.stats.wireBytes;
    batch.forEach((i, j) => {
      const d = got.docs[j];
      if (d === undefined) return;
      const id = scored.ids[i]!;
      hits.push({ id, score: fused[i]!, scores: scored.scores[i]!, document: { id, pageContent: d.pageContent, metadata: { ...d.metadata } } });
    });
  }
  return { hits, stats };
}

type TieredScores = ScoredCandidates & { poolSize: number; prescoreMs: number };

/**
 * The two tiers: exact dense/sparse and approximate ColBERT scores of the whole pool, then exact
 * ColBERT scores of the best `rerank` by that fused score. While a candidate not yet rescored
 * could still reach the top k — its approximate fused score, corrected by the mean
 * approximation error of the rescored ones, plus their largest deviation from that mean,
 * reaches the k-th exact fused score — the next `rerank` (in that order) are rescored too, at
 * most `rounds` rounds. Returns the rescored candidates with all exact scores.
 */
async function scoreInTiers(backend: RetrievalBackend, q: M3Encoding, ids: string[], o: SearchPlan, rerank: number, rounds: number, signal: AbortSignal | undefined): Promise<TieredScores> {
  const exactModes = new Set([...o.modes].filter((m) => m !== "colbert"));
  const first = await backend.scoreCandidates(q, ids, exactModes, { signal });
  const t = performance.now();
  const approx = await backend.prescoreColbert!(q, first.ids, { signal });
  const prescoreMs = performance.now() - t;
  const fused = first.scores.map((s, i) => (Number.isNaN(approx[i]!) ? -Infinity : combineScores({ ...s, colbert: approx[i]! }, o.weights)));
  const order = Array.from(first.ids, (_, i) => i)
    .filter((i) => fused[i]! > -Infinity)
    .sort((a, b) => fused[b]! - fused[a]! || compareIds(first.ids[a]!, first.ids[b]!));
  const rescored: string[] = [];
  const scores: ModeScores[] = [];
  const exactFused: number[] = [];
  const stats: ScoredCandidates["stats"] = { scoreMs: first.stats.scoreMs, colbertMs: 0 };
  let wire = first.stats.wireBytes;
  const diffs: number[] = [];
  for (let done = 0, round = 0; done < order.length && round < rounds; round++) {
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
    const second = await backend.scoreCandidates(q, batch.map((i) => first.ids[i]!), new Set<SearchMode>(["colbert"]), { signal });
    stats.scoreMs += second.stats.scoreMs;
    stats.colbertMs += second.stats.colbertMs;
    if (second.stats.wireBytes !== undefined) wire = (wire ?? 0) + second.stats.wireBytes;
    const at = new Map(batch.map((i) => [first.ids[i]!, i]));
    second.ids.forEach((id, j) => {
      const i = at.get(id)!;
      const s = { ...first.scores[i], colbert: second.scores[j]!.colbert };
      const f = combineScores(s, o.weights);
      diffs.push(f - fused[i]!);
      rescored.push(id);
      scores.push(s);
      exactFused.push(f);
    });
  }
  if (wire !== undefined) stats.wireBytes = wire;
  return { ids: rescored, scores, stats, poolSize: first.ids.length, prescoreMs };
}

function searchStats(
  pool: CandidatePool, scored: ScoredCandidates & { prescoreMs: number }, fetched: FetchedDocuments["stats"], poolSize: number, reranked: number, o: SearchPlan, fuseMs: number,
): SearchStats {
  const ps = pool.stats;
  const parts = [ps.wireBytes, scored.stats.wireBytes, fetched.wireBytes];
  const wire = parts.every((w) => w === undefined) ? undefined : parts.reduce<number>((a, w) => a + (w ?? 0), 0);
  const stats: SearchStats = {
    poolSize,
    reranked: o.modes.has("colbert") ? reranked : 0,
    strategy: pool.exhaustive ? "exhaustive" : "candidates",
    sparsePostingsVisited: ps.sparsePostingsVisited ?? 0,
    sparsePostingsTotal: ps.sparsePostingsTotal ?? 0,
    timings: {
      filter: ps.filterMs, dense: ps.denseMs, sparse: ps.sparseMs, multiVector: ps.colbertMs ?? 0,
      score: scored.stats.scoreMs, prescore: scored.prescoreMs, colbert: scored.stats.colbertMs, fuse: fuseMs, fetch: fetched.fetchMs,
    },
  };
  if (o.filter !== undefined && pool.matching !== undefined) stats.filteredDocuments = pool.matching;
  if (wire !== undefined) stats.wireBytes = wire;
  return stats;
}

/** Code-unit order, the same on every platform (unlike localeCompare). */
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
