import { beforeAll, describe, expect, it } from "vitest";
import { isM3Error } from "../src/errors.js";
import { HybridIndex } from "../src/index/hybrid-index.js";
import { search, searchWithStats } from "../src/retrieve/search.js";
import { bruteSearch, modeScores, type Mode } from "./helpers/brute.js";
import { memoryColbertFactory } from "./helpers/memory-colbert.js";
import { generateSyntheticCorpus, type SyntheticCorpusData as SyntheticCorpus } from "../bench/lib/synthetic.js";

let corpus: SyntheticCorpus;
let index: HybridIndex;

beforeAll(async () => {
  corpus = generateSyntheticCorpus({ docs: 1500, queries: 12, denseDim: 48, colbertDim: 24, colbertTokens: [3, 10], seed: 5, clusters: 30 });
  index = await HybridIndex.create(corpus.fingerprint, { colbertDim: 24, colbertFactory: memoryColbertFactory });
  await index.upsert(corpus.docs);
});

const MODE_SETS: Mode[][] = [["dense", "sparse", "colbert"], ["dense"], ["sparse"], ["colbert"], ["dense", "sparse"], ["sparse", "colbert"]];

describe("search with a pool covering the corpus equals exhaustive fused scoring", () => {
  for (const modes of MODE_SETS) {
    it(`modes ${modes.join("+")}`, async () => {
      for (const q of corpus.queries) {
        const got = await search(index, q, { k: 10, candidates: 1500, modes });
        const want = bruteSearch(corpus.docs, q, 10, { modes });
        expect(got.map((h) => h.id)).toEqual(want.map((h) => h.id));
        got.forEach((h, i) => {
          expect(h.score).toBe(want[i]!.score);
          expect(h.scores).toEqual(want[i]!.scores);
          expect(h.document.pageContent).toBe(corpus.docs[Number(h.id.slice(4))]!.pageContent);
        });
      }
    });
  }

  it("with custom weights", async () => {
    const weights = { dense: 1, sparse: 0.3, colbert: 0 };
    for (const q of corpus.queries.slice(0, 4)) {
      const got = await search(index, q, { k: 7, candidates: 5000, weights });
      expect(got.map((h) => h.id)).toEqual(bruteSearch(corpus.docs, q, 7, { weights }).map((h) => h.id));
    }
  });

  it("reciprocal-rank fusion ranks by sum w / (60 + rank)", async () => {
    const q = corpus.queries[0]!;
    const got = await search(index, q, { k: 5, candidates: 1500, fusion: "rrf" });
    const scored = corpus.docs.map((d) => ({ id: d.id, s: modeScores(q, d.encoding, ["dense", "sparse", "colbert"]) }));
    const fused = new Map<string, number>(scored.map((d) => [d.id, 0]));
    for (const [m, w] of [["dense", 0.4], ["sparse", 0.2], ["colbert", 0.4]] as const) {
      const sorted = [...scored].sort((a, b) => b.s[m]! - a.s[m]!);
      let rank = 0;
      sorted.forEach((d, pos) => {
        if (pos === 0 || d.s[m] !== sorted[pos - 1]!.s[m]) rank = pos + 1;
        fused.set(d.id, fused.get(d.id)! + w / (60 + rank));
      });
    }
    const want = [...fused].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 5);
    expect(got.map((h) => h.id)).toEqual(want.map((w) => w[0]));
    got.forEach((h, i) => expect(h.score).toBeCloseTo(want[i]![1], 12));
  });
});

describe("candidate retrieval", () => {
  it("scores dense top-N ∪ sparse top-N and reports per-stage stats", async () => {
    const { hits, stats } = await searchWithStats(index, corpus.queries[1]!, { k: 10, candidates: 50, colbertCandidates: 0, rerank: 1500 });
    expect(hits).toHaveLength(10);
    expect(stats.strategy).toBe("candidates");
    expect(stats.poolSize).toBeGreaterThanOrEqual(50);
    expect(stats.poolSize).toBeLessThanOrEqual(100);
    expect(stats.reranked).toBe(stats.poolSize);
    for (const h of hits) expect(Object.keys(h.scores).sort()).toEqual(["colbert", "dense", "sparse"]);
  });

  it("adds the ColBERT first stage and gives exact ColBERT scores to the best `rerank` of the pool only", async () => {
    const q = corpus.queries[1]!;
    const { hits, stats } = await searchWithStats(index, q, { k: 10, candidates: 50, colbertCandidates: 50, rerank: 20 });
    expect(stats.poolSize).toBeGreaterThan(50);
    expect(stats.poolSize).toBeLessThanOrEqual(150);
    expect(stats.reranked).toBeGreaterThanOrEqual(20); // then more, in rounds of 20, while the approximation error allows
    expect(stats.reranked).toBeLessThanOrEqual(80);
    // every returned score is exact (the approximate ones only chose whom to rescore)
    for (const h of hits) expect(h.scores).toEqual(modeScores(q, corpus.docs[Number(h.id.slice(4))]!.encoding, ["dense", "sparse", "colbert"]));
    const pool = await index.candidates(q, { depth: { dense: 50, sparse: 50 }, colbertDepth: 50 });
    expect(pool.ids.length).toBe(stats.poolSize);
    const plain = await index.candidates(q, { depth: { dense: 50, sparse: 50 } });
    expect(plain.ids.every((id) => pool.ids.includes(id))).toBe(true);
  });

  it("finds the query's target document", async () => {
    let found = 0;
    for (const q of corpus.queries) if ((await search(index, q, { k: 10 })).some((h) => h.id === `doc-${q.target}`)) found++;
    expect(found).toBeGreaterThanOrEqual(corpus.queries.length - 1);
  });
});

describe("filters", () => {
  it("an equality object and a predicate give the same exact results", async () => {
    const q = corpus.queries[2]!;
    const a = await search(index, q, { k: 10, candidates: 1500, filter: { parity: "even" } });
    const b = await search(index, q, { k: 10, candidates: 1500, filter: (d) => d.metadata.parity === "even" });
    const want = bruteSearch(corpus.docs, q, 10, { accept: (d) => d.metadata?.parity === "even" });
    expect(a.map((h) => h.id)).toEqual(want.map((h) => h.id));
    expect(b.map((h) => h.id)).toEqual(want.map((h) => h.id));
  });

  it("still returns k results with a selective filter in candidate mode", async () => {
    for (const cluster of [3, 17]) {
      const hits = await search(index, corpus.queries[3]!, { k: 10, candidates: 20, filter: { cluster } });
      expect(hits).toHaveLength(10);
      for (const h of hits) expect(h.document.metadata.cluster).toBe(cluster);
    }
    const half = await search(index, corpus.queries[3]!, { k: 30, candidates: 30, filter: { parity: "odd" } });
    expect(half).toHaveLength(30);
    expect(half.every((h) => h.document.metadata.parity === "odd")).toBe(true);
  });

  it("fewer matches than k returns them all; no match returns none", async () => {
    expect(await search(index, corpus.queries[0]!, { k: 10, filter: { n: 7 } })).toHaveLength(1);
    expect(await search(index, corpus.queries[0]!, { k: 10, filter: { cluster: "none" } })).toHaveLength(0);
  });
});

describe("bad search input gives typed errors", () => {
  const code = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (e) {
      return isM3Error(e) ? e.code : "untyped";
    }
    return "no error";
  };
  it("k, candidates, modes, weights, fusion, filter, query shape", async () => {
    const q = corpus.queries[0]!;
    for (const k of [0, -1, NaN, 1.5, Infinity]) expect(await code(search(index, q, { k }))).toBe("OUT_OF_RANGE");
    expect(await code(search(index, q, { candidates: 0 }))).toBe("OUT_OF_RANGE");
    for (const colbertCandidates of [-1, 2.5, NaN, "10" as unknown as number]) expect(await code(search(index, q, { colbertCandidates }))).toBe("OUT_OF_RANGE");
    for (const rerank of [0, -3, 1.5, Infinity]) expect(await code(search(index, q, { rerank }))).toBe("OUT_OF_RANGE");
    expect(await code(index.candidates(q, { depth: { dense: 10 }, colbertDepth: -1 }))).toBe("OUT_OF_RANGE");
    expect(await code(index.prescoreColbert({ ...q, colbert: undefined }, ["doc-1"]))).toBe("INVALID_ARGUMENT");
    expect(await code(index.prescoreColbert(q, "doc-1" as unknown as string[]))).toBe("INVALID_ARGUMENT");
    expect(await code(search(index, q, { modes: [] }))).toBe("INVALID_ARGUMENT");
    expect(await code(search(index, q, { modes: ["bm25" as Mode] }))).toBe("INVALID_ARGUMENT");
    expect(await code(search(index, q, { weights: { dense: -1 } }))).toBe("OUT_OF_RANGE");
    expect(await code(search(index, q, { modes: ["sparse"], weights: { sparse: 0 } }))).toBe("OUT_OF_RANGE");
    expect(await code(search(index, q, { fusion: "max" as "rrf" }))).toBe("INVALID_ARGUMENT");
    for (const filter of ["cluster = 3", [1, 2], 42, { cluster: { $regex: "3" } }, { $or: [] }, { cluster: { $in: "3" } }, new Map()]) {
      expect(await code(search(index, q, { filter: filter as never }))).toBe("INVALID_ARGUMENT");
    }
    expect(await code(search(index, { ...q, dense: new Float32Array(5) }))).toBe("INVALID_ARGUMENT");
    expect(await code(search(index, { tokenCount: 1, dense: q.dense }, { modes: ["dense", "sparse"] }))).toBe("INVALID_ARGUMENT");
  });
});
