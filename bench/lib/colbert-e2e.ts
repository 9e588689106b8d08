/**
 * End-to-end recall@10 of each ColBERT codec × pool factor: a `HybridIndex` (dense HNSW + sparse
 * + ColBERT store of that configuration) over one synthetic corpus (bench/lib/synthetic.ts, the
 * index tests' generator: BGE-M3-like dense / sparse / ColBERT statistics, 64–256 ColBERT rows
 * per document by default), searched
 * with the default options (k 10, 100 candidates from each of dense and sparse, weights
 * 0.4 / 0.2 / 0.4), against the exhaustive float32 fused ranking: every document scored with
 * dense + lexical + float32 MaxSim at the spec weights (the float32 / no-pooling index searched
 * with `candidates` = corpus size, i.e. strategy "exhaustive"; checked against
 * src/math/scores.ts on the top hits). recall@10 = |top10(search) ∩ top10(exhaustive)| / 10,
 * averaged over queries.
 *
 * Pooled configurations receive matrices pooled once by `poolTokens(m, poolFactor)` — exactly
 * what a store with that `poolFactor` does inside `put` — so the (slow) pooling runs once per
 * document instead of once per codec; their stores hold byte-identical records.
 */
import { poolTokens } from "../../src/index/colbert/index.js";
import type { ColbertCodecName } from "../../src/index/colbert/index.js";
import { HybridIndex, type IndexEntry } from "../../src/index/hybrid-index.js";
import { colbertScore, combineScores, denseScore, lexicalScore } from "../../src/math/scores.js";
import { search, searchWithStats } from "../../src/retrieve/search.js";
import { DEFAULT_WEIGHTS, type MultiVector } from "../../src/types.js";
import { log, now, percentile, round } from "./machine.js";
import { createSyntheticGenerator, type SyntheticDoc } from "./synthetic.js";

type SyntheticQuery = ReturnType<ReturnType<typeof createSyntheticGenerator>["query"]>;

export interface E2eSpec {
  docs: number;
  queries: number;
  dim: number;
  /** ColBERT rows per document, inclusive. */
  tokens: [number, number];
  seed: number;
  codecs: ColbertCodecName[];
  pools: number[];
}

export interface E2eRow {
  config: string;
  e2eRecallAt10: number;
  /** Wall time of one default `search` (p50 over queries), ms. */
  e2eSearchMsP50: number;
  /** Mean size of the scored candidate pool (dense top-100 ∪ sparse top-100). */
  e2ePoolSize: number;
}

export interface E2eResult {
  corpus: { docs: number; queries: number; dim: number; minTokens: number; maxTokens: number; seed: number; colbertTokens: number; pooledTokens: number; exhaustiveMsPerQuery: number; buildSecondsPerConfig: number };
  rows: E2eRow[];
}

export async function e2eRecall(spec: E2eSpec): Promise<E2eResult> {
  const g = createSyntheticGenerator({ docs: spec.docs, denseDim: spec.dim, colbertDim: spec.dim, colbertTokens: spec.tokens, seed: spec.seed });
  const t0 = now();
  const docs: SyntheticDoc[] = Array.from({ length: spec.docs }, (_, i) => g.doc(i));
  const queries: SyntheticQuery[] = Array.from({ length: spec.queries }, (_, q) => g.query(q, docs[g.targetOf(q)]));
  const colbertTokens = docs.reduce((s, d) => s + d.encoding.colbert.tokens, 0);
  log(`e2e: ${spec.docs} docs (${colbertTokens} ColBERT rows), ${spec.queries} queries generated in ${round((now() - t0) / 1000, 1)} s`);
  const fingerprint = g.fingerprint;
  const pooledCache = new Map<number, MultiVector[]>();
  const matrices = (pool: number): MultiVector[] => {
    if (pool === 1) return docs.map((d) => d.encoding.colbert);
    let m = pooledCache.get(pool);
    if (m === undefined) {
      const tp = now();
      m = docs.map((d) => poolTokens(d.encoding.colbert, pool));
      log(`e2e: pooled (factor ${pool}) in ${round((now() - tp) / 1000, 1)} s`);
      pooledCache.set(pool, m);
    }
    return m;
  };

  // Ground truth first (float32, no pooling, every document), so it is there for every config.
  const order = [...spec.pools].sort((a, b) => a - b).flatMap((pool) => {
    const cs = [...spec.codecs].sort((a, b) => (a === "float32" ? -1 : b === "float32" ? 1 : 0));
    return cs.map((codec) => ({ codec, pool }));
  });
  if (order[0]?.codec !== "float32" || order[0].pool !== 1) throw new Error("e2e: the float32 / pool factor 1 configuration is the reference and must be measured");
  let truth: string[][] = [];
  let exhaustiveMs = 0;
  let buildMs = 0;
  const found = new Map<string, E2eRow>();
  for (const { codec, pool } of order) {
    const key = `${codec}/pf${pool}`;
    const tb = now();
    const index = await HybridIndex.create(fingerprint, { denseDim: spec.dim, colbertDim: spec.dim, colbert: { codec, poolFactor: 1 } });
    try {
      const m = matrices(pool);
      const entries: IndexEntry[] = docs.map((d, i) => ({ id: d.id, pageContent: d.pageContent, metadata: d.metadata, encoding: { ...d.encoding, colbert: m[i]! } }));
      await index.upsert(entries);
      buildMs += now() - tb;
      if (truth.length === 0) {
        const te = now();
        truth = [];
        for (const q of queries) {
          const r = await searchWithStats(index, q, { candidates: index.size });
          if (r.stats.strategy !== "exhaustive") throw new Error("e2e: ground truth was not exhaustive");
          truth.push(r.hits.map((h) => h.id));
          if (truth.length === 1) checkReference(r.hits, docs, q);
        }
        exhaustiveMs = (now() - te) / queries.length;
        log(`e2e: exhaustive float32 fused scoring ${round(exhaustiveMs / 1000, 2)} s/query`);
      }
      let hit = 0, poolSum = 0;
      const ms: number[] = [];
      for (let qi = 0; qi < queries.length; qi++) {
        const t = now();
        const r = await searchWithStats(index, queries[qi]!);
        ms.push(now() - t);
        poolSum += r.stats.poolSize;
        const want = new Set(truth[qi]!);
        hit += r.hits.filter((h) => want.has(h.id)).length / Math.max(1, want.size);
      }
      const row = { config: key, e2eRecallAt10: round(hit / queries.length, 3), e2eSearchMsP50: round(percentile(ms, 50), 1), e2ePoolSize: round(poolSum / queries.length, 1) };
      found.set(key, row);
      log(`e2e: ${JSON.stringify(row)}`);
    } finally {
      await index.close();
    }
  }
  const pooledTokens = pooledCache.get(2)?.reduce((s, m) => s + m.tokens, 0) ?? 0;
  return {
    corpus: {
      docs: spec.docs, queries: spec.queries, dim: spec.dim, minTokens: spec.tokens[0], maxTokens: spec.tokens[1], seed: spec.seed, colbertTokens, pooledTokens,
      exhaustiveMsPerQuery: round(exhaustiveMs, 1), buildSecondsPerConfig: round(buildMs / order.length / 1000, 2),
    },
    rows: order.map(({ codec, pool }) => found.get(`${codec}/pf${pool}`)!),
  };
}

/** The index's fused scores of the ground truth agree with the reference formulas of src/math/scores.ts. */
function checkReference(hits: Awaited<ReturnType<typeof search>>, docs: SyntheticDoc[], q: SyntheticQuery): void {
  const byId = new Map(docs.map((d) => [d.id, d]));
  for (const h of hits) {
    const d = byId.get(h.id)!.encoding;
    const ref = combineScores({
      dense: denseScore(q.dense, d.dense),
      sparse: lexicalScore(q.sparse, d.sparse),
      colbert: colbertScore(q.colbert, d.colbert),
    }, DEFAULT_WEIGHTS);
    if (Math.abs(ref - h.score) > 1e-4) throw new Error(`e2e: exhaustive score of ${h.id} is ${h.score}, reference ${ref}`);
  }
}
