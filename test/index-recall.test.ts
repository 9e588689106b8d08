/**
 * recall@10 of the default retrieval (dense HNSW top-100 ∪ sparse top-100, fused with the
 * default weights) against exhaustive fused scoring of every document, on a 20k-document
 * synthetic corpus with BGE-M3-like statistics (bench/lib/synthetic.ts). For CI speed the
 * dense dimension is 64 and ColBERT rows are 32-dim, 4..12 per document; the score
 * distributions (anisotropic dense, clusters, Zipf token ids, learned-weight ranges) are kept.
 * Full-size numbers: `npx tsx test/helpers/measure-index.ts` (see its header).
 */
import { describe, expect, it } from "vitest";
import { HybridIndex } from "../src/index/hybrid-index.js";
import { defaultColbertFactory } from "../src/index/default-colbert.js";
import { search } from "../src/retrieve/search.js";
import { generateSyntheticCorpus } from "../bench/lib/synthetic.js";

describe("recall on a 20k-document synthetic corpus", () => {
  it("recall@10 >= 0.99 against exhaustive fused scoring with default settings", async () => {
    const corpus = generateSyntheticCorpus({ docs: 20000, queries: 25, denseDim: 64, colbertDim: 32, colbertTokens: [4, 12], seed: 2024 });
    const index = await HybridIndex.create(corpus.fingerprint, { colbertDim: 32, colbertFactory: defaultColbertFactory });
    for (let i = 0; i < corpus.docs.length; i += 2000) await index.upsert(corpus.docs.slice(i, i + 2000));
    let hit = 0;
    let total = 0;
    let hitDS = 0;
    let totalDS = 0;
    for (const [qi, q] of corpus.queries.entries()) {
      const exact = new Set((await search(index, q, { k: 10, candidates: 20000 })).map((h) => h.id));
      const got = await search(index, q, { k: 10 });
      hit += got.filter((h) => exact.has(h.id)).length;
      total += exact.size;
      if (qi % 5 !== 0) continue;
      const modes = ["dense", "sparse"] as const;
      const exactDS = new Set((await search(index, q, { k: 10, candidates: 20000, modes })).map((h) => h.id));
      hitDS += (await search(index, q, { k: 10, modes })).filter((h) => exactDS.has(h.id)).length;
      totalDS += exactDS.size;
    }
    await index.close();
    expect(hit / total).toBeGreaterThanOrEqual(0.99);
    expect(hitDS / totalDS).toBeGreaterThanOrEqual(0.99);
  });
});
