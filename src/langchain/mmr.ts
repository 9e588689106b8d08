/**
 * Maximal marginal relevance over an `M3HybridStore`.
 *
 * 1. Candidates: the top `fetchK` (at least `k`) of the store's hybrid search — the same
 *    ranking `similaritySearch` gives, with the same filter, modes and weights.
 * 2. Selection (greedy, as LangChain's `maximalMarginalRelevance`): first the most relevant
 *    candidate, then repeatedly the one maximising
 *    `lambda · relevance(query, d) − (1 − lambda) · max over selected s of similarity(d, s)`.
 *    Relevance and redundancy use the SAME similarity, so `lambda` means what it means in
 *    LangChain (1 = relevance only, 0 = diversity only):
 *    - `"dense"` (default; LangChain's MMR): cosine of the dense vectors (stored vectors, read
 *      with `getDocuments(ids, { dense: true })`; no extra encoding).
 *    - `"colbert"` (M3 variant): ColBERT MaxSim; between two documents the symmetric MaxSim
 *      `(MaxSim(a, b) + MaxSim(b, a)) / 2`, which sees token-level overlap that one pooled
 *      vector blurs. Costs one encoding (ColBERT output) of the `fetchK` candidate texts per call,
 *      as backends return no stored ColBERT rows.
 */
import { ErrorCodes, M3Error } from "../errors.js";
import { colbertScore, denseScore } from "../math/scores.js";
import type { HybridStore as M3HybridStore } from "../retrieve/hybrid-store.js";
import type { MetadataFilter, SearchOptions } from "../retrieve/options.js";
import type { SearchHit } from "../retrieve/search.js";
import type { MultiVector } from "../types.js";
import { checkInt, checkNumber, describe } from "../util/validate.js";
import { encodeWithOptions } from "./encode-calls.js";
import { checkSignalOption } from "./signal.js";

/** What measures relevance and redundancy in MMR (see the module comment). */
export type MmrSimilarity = "dense" | "colbert";

export interface MmrOptions {
  /** Documents to return. @default 4 (LangChain's default k) */
  k?: number;
  /** Candidates taken from the hybrid search before selecting (at least `k` are taken). @default 20 */
  fetchK?: number;
  /** 1 = relevance only, 0 = diversity only. @default 0.5 */
  lambda?: number;
  /** The similarity of relevance and redundancy. @default "dense" */
  mmrSimilarity?: MmrSimilarity;
  /** Metadata filter of the candidate search. @default none */
  filter?: MetadataFilter;
  /** Rejects with ABORTED once aborted. @default none */
  signal?: AbortSignal;
}

export const MMR_DEFAULTS = Object.freeze({ k: 4, fetchK: 20, lambda: 0.5, mmrSimilarity: "dense" as MmrSimilarity });

export interface ResolvedMmr {
  k: number;
  fetchK: number;
  lambda: number;
  mmrSimilarity: MmrSimilarity;
}

/** Checks and fills MMR options (the filter and signal are checked by the search). */
export function resolveMmr(o: Omit<MmrOptions, "filter" | "signal"> | undefined, defaults: Partial<ResolvedMmr> = {}): ResolvedMmr {
  if (o !== undefined && (o === null || typeof o !== "object")) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `MMR options must be an object such as { k: 4, fetchK: 20, lambda: 0.5 }; got ${describe(o)}.`);
  }
  const k = checkInt("k", o?.k ?? defaults.k ?? MMR_DEFAULTS.k, 1, 1_000_000);
  const fetchK = checkInt("fetchK", o?.fetchK ?? defaults.fetchK ?? MMR_DEFAULTS.fetchK, 1, 1_000_000);
  const lambda = checkNumber("lambda", o?.lambda ?? defaults.lambda ?? MMR_DEFAULTS.lambda, 0, 1);
  const mmrSimilarity = o?.mmrSimilarity ?? defaults.mmrSimilarity ?? MMR_DEFAULTS.mmrSimilarity;
  if (mmrSimilarity !== "dense" && mmrSimilarity !== "colbert") {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `mmrSimilarity must be "dense" or "colbert"; got ${describe(mmrSimilarity)}.`);
  }
  return { k, fetchK, lambda, mmrSimilarity };
}

/**
 * Greedy MMR selection: indices of up to `k` items, in selection order. `relevance[i]` is item
 * i's similarity to the query, `similarity(i, j)` the similarity of two items. Ties go to the
 * lower index (the better-ranked candidate).
 */
export function selectByMmr(relevance: ArrayLike<number>, similarity: (i: number, j: number) => number, k: number, lambda: number): number[] {
  const n = relevance.length;
  const chosen: number[] = [];
  const taken = new Uint8Array(n);
  const maxSim = new Float64Array(n).fill(-Infinity);
  while (chosen.length < Math.min(k, n)) {
    let best = -1;
    let bestScore = -Infinity;
    for (let i = 0; i < n; i++) {
      if (taken[i]) continue;
      const score = chosen.length === 0 ? relevance[i]! : lambda * relevance[i]! - (1 - lambda) * maxSim[i]!;
      if (best === -1 || score > bestScore) {
        best = i;
        bestScore = score;
      }
    }
    taken[best] = 1;
    chosen.push(best);
    for (let i = 0; i < n; i++) if (!taken[i]) maxSim[i] = Math.max(maxSim[i]!, similarity(i, best));
  }
  return chosen;
}

/** MMR over `store` (see the module comment). `search` holds the store-level search options (modes, weights, candidates). */
export async function mmrSearch(store: M3HybridStore, query: string, search: SearchOptions, mmr: ResolvedMmr, filter: MetadataFilter | undefined, signalOption: unknown): Promise<SearchHit[]> {
  const signal = checkSignalOption(signalOption, "maxMarginalRelevanceSearch");
  const hits = await store.search(query, { ...search, k: Math.max(mmr.fetchK, mmr.k), filter, signal });
  if (hits.length === 0) return [];
  const what = "maxMarginalRelevanceSearch";
  if (mmr.mmrSimilarity === "dense") {
    const docs = await store.backend.getDocuments(hits.map((h) => h.id), { dense: true, signal });
    const kept = hits.flatMap((h, i) => (docs[i]?.dense === undefined ? [] : [{ hit: h, v: docs[i]!.dense! }]));
    const needQuery = kept.some((x) => x.hit.scores.dense === undefined);
    const q = needQuery ? (await encodeWithOptions(store.encoder, [query], { dense: true, sparse: false, colbert: false }, { signal }, what))[0]!.dense! : undefined;
    const rel = kept.map((x) => x.hit.scores.dense ?? denseScore(q!, x.v));
    return selectByMmr(rel, (i, j) => denseScore(kept[i]!.v, kept[j]!.v), mmr.k, mmr.lambda).map((i) => kept[i]!.hit);
  }
  const needQuery = hits.some((h) => h.scores.colbert === undefined);
  const texts = [...(needQuery ? [query] : []), ...hits.map((h) => h.document.pageContent)];
  const enc = await encodeWithOptions(store.encoder, texts, { dense: false, sparse: false, colbert: true }, { signal }, what);
  const q = needQuery ? enc[0]!.colbert! : undefined;
  const rows: MultiVector[] = enc.slice(needQuery ? 1 : 0).map((e) => e.colbert!);
  const rel = hits.map((h, i) => h.scores.colbert ?? colbertScore(q!, rows[i]!));
  const cache = new Map<number, number>();
  const sim = (i: number, j: number): number => {
    const key = Math.min(i, j) * hits.length + Math.max(i, j);
    let s = cache.get(key);
    if (s === undefined) {
      s = (colbertScore(rows[i]!, rows[j]!) + colbertScore(rows[j]!, rows[i]!)) / 2;
      cache.set(key, s);
    }
    return s;
  };
  return selectByMmr(rel, sim, mmr.k, mmr.lambda).map((i) => hits[i]!);
}
