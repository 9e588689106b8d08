/**
 * Retrieval over a `HybridIndex` with a query encoding: dense top-N ∪ sparse top-N,
 * every candidate scored in each searched mode (ColBERT through the store's blocked MaxSim),
 * then fused and cut to k.
 */
import { ErrorCodes, M3Error } from "../errors.js";
import type { IndexedDocument } from "../index/docs.js";
import type { HybridIndex } from "../index/hybrid-index.js";
import { checkColbert, checkDense, checkSparse } from "../index/validate-entry.js";
import type { ModeScores } from "../math/scores.js";
import type { M3Encoding } from "../types.js";
import { describe } from "../util/validate.js";
import { rrfFusion, weightedFusion } from "./fusion.js";
import { resolveSearch, type SearchMode, type SearchOptions } from "./options.js";

/**
 * One result. `score` is the fused score (higher is better); `scores` has each searched mode's
 * score; `document` is a copy (changing it does not change the index).
 */
export interface SearchHit {
  id: string;
  score: number;
  scores: ModeScores;
  document: IndexedDocument;
}

/** What a search did, for benchmarks and logs. Times in milliseconds. */
export interface SearchStats {
  poolSize: number;
  /** "exhaustive" when the pool was every (matching) document. */
  strategy: "candidates" | "exhaustive";
  filteredDocuments?: number;
  sparsePostingsVisited: number;
  sparsePostingsTotal: number;
  timings: { filter: number; dense: number; sparse: number; score: number; colbert: number; fuse: number };
}

/** Below this fraction of matching documents a filtered dense search scans the matches instead of the graph. */
const FILTER_SCAN_FRACTION = 0.1;

export async function search(index: HybridIndex, query: M3Encoding, options?: SearchOptions): Promise<SearchHit[]> {
  return (await searchWithStats(index, query, options)).hits;
}

export async function searchWithStats(index: HybridIndex, query: M3Encoding, options?: SearchOptions): Promise<{ hits: SearchHit[]; stats: SearchStats }> {
  const o = resolveSearch(options);
  index.checkOpen();
  const sources = poolSources(o.modes);
  const q = checkQuery(query, index, new Set<SearchMode>([...o.modes, ...sources]));
  const stats: SearchStats = {
    poolSize: 0,
    strategy: "candidates",
    sparsePostingsVisited: 0,
    sparsePostingsTotal: 0,
    timings: { filter: 0, dense: 0, sparse: 0, score: 0, colbert: 0, fuse: 0 },
  };
  let t = performance.now();
  const lap = () => {
    const now = performance.now();
    const d = now - t;
    t = now;
    return d;
  };

  // Which documents may be returned.
  let accept: ((slot: number) => boolean) | undefined;
  let allowed: number[] | undefined;
  if (o.filter !== undefined) {
    const pred = o.filter;
    allowed = [];
    const mask = new Uint8Array(index.docs.slotCount);
    for (const slot of index.docs.slots()) {
      if (pred(index.documentAt(slot)!)) {
        mask[slot] = 1;
        allowed.push(slot);
      }
    }
    accept = (slot) => mask[slot] === 1;
    stats.filteredDocuments = allowed.length;
  }
  stats.timings.filter = lap();

  // Candidate pool.
  const n = Math.max(o.candidates, o.k);
  const population = allowed?.length ?? index.size;
  let pool: Uint32Array;
  if (n >= population) {
    pool = Uint32Array.from(allowed ?? index.liveSlots());
    stats.strategy = "exhaustive";
  } else {
    const set = new Set<number>();
    if (sources.has("dense")) {
      const scan = allowed !== undefined && allowed.length < FILTER_SCAN_FRACTION * index.size;
      const r = scan ? index.denseScan(q.dense!, n, accept) : index.denseTopK(q.dense!, n, accept);
      for (const s of r.slots) set.add(s);
      stats.timings.dense = lap();
    }
    if (sources.has("sparse")) {
      const r = index.sparseTopK(q.sparse!, n, accept);
      for (const s of r.slots) set.add(s);
      stats.sparsePostingsVisited = r.postingsVisited;
      stats.sparsePostingsTotal = r.postingsTotal;
      stats.timings.sparse = lap();
    }
    pool = Uint32Array.from(set).sort();
  }
  stats.poolSize = pool.length;

  // Documents are captured before any await, so a concurrent delete cannot pull one away mid-search.
  const docs = Array.from(pool, (slot) => index.documentAt(slot)!);
  // Score every candidate in every searched mode.
  const scores: ModeScores[] = Array.from(pool, (slot) => {
    const s: ModeScores = {};
    if (o.modes.has("dense")) s.dense = index.denseScore(q.dense!, slot);
    if (o.modes.has("sparse")) s.sparse = index.sparseScore(q.sparse!, slot);
    return s;
  });
  stats.timings.score = lap();
  if (o.modes.has("colbert") && pool.length > 0) {
    const c = await index.colbertScores(q.colbert!, pool);
    for (let i = 0; i < pool.length; i++) scores[i]!.colbert = Number.isNaN(c[i]!) ? 0 : c[i]!;
    stats.timings.colbert = lap();
  }

  const fused = o.fusion === "rrf" ? rrfFusion(scores, o.modes, o.weights, o.rrfK) : weightedFusion(scores, o.weights);
  const order = Array.from(pool, (_, i) => i).sort((a, b) => fused[b]! - fused[a]! || compareIds(docs[a]!.id, docs[b]!.id));
  const hits = order.slice(0, o.k).map((i) => {
    const d = docs[i]!;
    return { id: d.id, score: fused[i]!, scores: scores[i]!, document: { id: d.id, pageContent: d.pageContent, metadata: { ...d.metadata } } };
  });
  stats.timings.fuse = lap();
  return { hits, stats };
}

/** Which of dense / sparse supply candidates. */
function poolSources(modes: Set<SearchMode>): Set<SearchMode> {
  const s = new Set<SearchMode>();
  if (modes.has("dense")) s.add("dense");
  if (modes.has("sparse")) s.add("sparse");
  if (s.size === 0) {
    s.add("dense");
    s.add("sparse");
  }
  return s;
}

function checkQuery(e: M3Encoding, index: HybridIndex, need: Set<SearchMode>): M3Encoding {
  if (e === null || typeof e !== "object") throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `The query must be an M3Encoding; got ${describe(e)}.`);
  const missing = [...need].filter((m) => e[m] === undefined);
  if (missing.length > 0) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `The query encoding lacks ${missing.join(", ")}, needed by modes ${[...need].join(", ")}. Encode the query with those outputs.`);
  }
  return {
    tokenCount: e.tokenCount,
    dense: need.has("dense") ? checkDense(e.dense, index.denseDim, "query.dense") : undefined,
    sparse: need.has("sparse") ? checkSparse(e.sparse, "query.sparse") : undefined,
    colbert: need.has("colbert") ? checkColbert(e.colbert, index.colbertDim, "query.colbert") : undefined,
  };
}

/** Code-unit order, the same on every platform (unlike localeCompare). */
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
