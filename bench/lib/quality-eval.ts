/**
 * Retrieval quality on the held-out man-page evaluation set (data/manpages/eval.json.gz, written
 * by scripts/train/manpages.py): encode the corpus and the queries with a model, index them in a
 * HybridIndex, and score each mode configuration with the default search plan and with
 * exhaustive fused scoring (every document in the pool). Relevance: a query's target is its
 * man page; any passage of that page (in any language) is relevant. Used by bench/quality.ts and
 * test/quality-trained.test.ts.
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { HybridIndex } from "../../src/index/hybrid-index.js";
import type { HybridIndexOptions } from "../../src/index/options.js";
import { search } from "../../src/retrieve/search.js";
import type { SearchMode } from "../../src/backend/types.js";
import type { M3Encoding, ModelFingerprint } from "../../src/types.js";

export interface EvalItem { id: string; page: string; lang: string; text: string }
export interface EvalSet { meta: Record<string, unknown>; corpus: EvalItem[]; queries: EvalItem[] }

export function loadEvalSet(path: string): EvalSet {
  const raw = readFileSync(path);
  const text = path.endsWith(".gz") ? gunzipSync(raw).toString("utf8") : raw.toString("utf8");
  return JSON.parse(text) as EvalSet;
}

/** The paper's table rows: which modes are scored and fused (weighted, default weights). */
export const MODE_CONFIGS: Readonly<Record<string, readonly SearchMode[]>> = Object.freeze({
  Dense: ["dense"],
  Sparse: ["sparse"],
  "Multi-vec": ["colbert"],
  "Dense+Sparse": ["dense", "sparse"],
  All: ["dense", "sparse", "colbert"],
});

export interface Metrics { "recall@1": number; "recall@10": number; "recall@100": number; "MRR@10": number; "nDCG@10": number }

/** Mean metrics of ranked page lists against each query's page. recall@k = the page among the first k. */
export function pageMetrics(rankings: string[][], targets: string[], relevantCounts: number[]): Metrics {
  const m: Metrics = { "recall@1": 0, "recall@10": 0, "recall@100": 0, "MRR@10": 0, "nDCG@10": 0 };
  rankings.forEach((pages, qi) => {
    const t = targets[qi]!;
    const first = pages.indexOf(t);
    if (first >= 0 && first < 1) m["recall@1"]++;
    if (first >= 0 && first < 10) m["recall@10"]++;
    if (first >= 0 && first < 100) m["recall@100"]++;
    if (first >= 0 && first < 10) m["MRR@10"] += 1 / (first + 1);
    let dcg = 0;
    pages.slice(0, 10).forEach((p, r) => {
      if (p === t) dcg += 1 / Math.log2(r + 2);
    });
    let ideal = 0;
    for (let r = 0; r < Math.min(10, relevantCounts[qi]!); r++) ideal += 1 / Math.log2(r + 2);
    m["nDCG@10"] += ideal > 0 ? dcg / ideal : 0;
  });
  for (const k of Object.keys(m) as (keyof Metrics)[]) m[k] /= rankings.length;
  return m;
}

export interface Encoded { docs: M3Encoding[]; queries: M3Encoding[] }

/** Encodes texts in batches with any encoder that has `encode(texts)`. */
export async function encodeAll(encoder: { encode(texts: string[]): Promise<M3Encoding[]> }, texts: string[], batch = 64): Promise<M3Encoding[]> {
  const out: M3Encoding[] = [];
  for (let i = 0; i < texts.length; i += batch) out.push(...(await encoder.encode(texts.slice(i, i + batch))));
  return out;
}

export async function buildIndex(fp: ModelFingerprint, set: EvalSet, docs: M3Encoding[], options: HybridIndexOptions = {}): Promise<HybridIndex> {
  const index = await HybridIndex.create(fp, options);
  const entries = set.corpus.map((d, i) => ({ id: d.id, pageContent: d.text, metadata: { page: d.page, lang: d.lang }, encoding: docs[i]! }));
  for (let i = 0; i < entries.length; i += 500) await index.upsert(entries.slice(i, i + 500));
  return index;
}

/** Top `k` document ids per query for one mode configuration; `exhaustive` puts every document in the pool. */
export async function rank(index: HybridIndex, queries: M3Encoding[], modes: readonly SearchMode[], k: number, exhaustive: boolean): Promise<string[][]> {
  const n = await index.count();
  const out: string[][] = [];
  for (const q of queries) {
    const hits = await search(index, q, { k, modes: [...modes], ...(exhaustive ? { candidates: n, rerank: n } : {}) });
    out.push(hits.map((h) => h.id));
  }
  return out;
}

/** Page ranking of document ids (first passage of each page counts; later ones are dropped). */
export function pagesOf(set: EvalSet, ids: string[]): string[] {
  const page = new Map(set.corpus.map((d) => [d.id, d.page]));
  const seen = new Set<string>();
  const out: string[] = [];
  for (const id of ids) {
    const p = page.get(id)!;
    if (!seen.has(p)) {
      seen.add(p);
      out.push(p);
    }
  }
  return out;
}

/** Metrics of one configuration. */
export async function evaluate(set: EvalSet, index: HybridIndex, queries: M3Encoding[], modes: readonly SearchMode[], exhaustive: boolean): Promise<Metrics> {
  const ranked = await rank(index, queries, modes, 100, exhaustive);
  // rankings are of pages (a page's later passages dropped), so each query has one relevant item
  return pageMetrics(
    ranked.map((ids) => pagesOf(set, ids)),
    set.queries.map((q) => q.page),
    set.queries.map(() => 1),
  );
}

/** recall@10 of `got` against `exact` (shared ids / |exact|), over all queries. */
export function recallVs(got: string[][], exact: string[][]): number {
  let hit = 0;
  let total = 0;
  got.forEach((g, i) => {
    const e = new Set(exact[i]!.slice(0, 10));
    hit += g.slice(0, 10).filter((id) => e.has(id)).length;
    total += e.size;
  });
  return total === 0 ? 1 : hit / total;
}
