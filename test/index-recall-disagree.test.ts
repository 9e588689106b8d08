/**
 * recall@10 of the default search against exhaustive fused float32 scoring on a corpus where the
 * three modes disagree: queries drawn independently of the documents (bench/lib/synthetic.ts,
 * queryModel "independent": dense, text and ColBERT context from three different clusters), so
 * a document ColBERT likes need not be near the top of dense or sparse. The dense ∪ sparse
 * top-100 pool alone finds ~0.93 of the exhaustive top-10 here; the ColBERT first stage (means of
 * sketched rows) and the two-tier rerank keep recall at 0.99, also after deleting a third of the
 * documents, replacing a tenth and a save/load round trip.
 *
 * CI sizes: 4,000 documents, dense 512 (at 64 dimensions the synthetic query's dense noise is
 * so large that the dense mode is much noisier than at 1,024), ColBERT rows of 128 columns,
 * 4..12 per document. The default sketch width (128) is the full width here, so the sketch is
 * the int8 rows themselves: this test holds the first stage and the two tiers; the count
 * sketch's error is tested in index-sketch.test.ts, and the default 1,024 → 128 sketch on the
 * full-size corpora by bench/retrieval.ts.
 */
import * as fsp from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HybridIndex } from "../src/index/hybrid-index.js";
import { loadIndex, saveIndex } from "../src/index/persist.js";
import { search, type SearchHit } from "../src/retrieve/search.js";
import type { SearchOptions } from "../src/retrieve/options.js";
import { hashInt } from "../bench/lib/rng.js";
import { generateSyntheticCorpus, type SyntheticCorpusData, type SyntheticDoc } from "../bench/lib/synthetic.js";

const N = 4000;
let root: string;
let corpus: SyntheticCorpusData;

beforeAll(async () => {
  root = await fsp.mkdtemp(join(tmpdir(), "m3-recall-disagree-"));
  corpus = generateSyntheticCorpus({
    docs: N + N / 10, queries: 30, denseDim: 512, colbertDim: 128, colbertTokens: [4, 12], seed: 2024, clusters: 80, queryModel: "independent",
  });
});
afterAll(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

const entry = (d: SyntheticDoc) => ({ id: d.id, pageContent: d.pageContent, metadata: d.metadata, encoding: d.encoding });

/** Mean recall@10 of `options` against the exhaustive search of the same index (the exact path). */
async function recall(index: HybridIndex, options: SearchOptions = {}): Promise<number> {
  let hit = 0;
  let total = 0;
  const ids = (hits: SearchHit[]) => hits.map((h) => h.id);
  for (const q of corpus.queries) {
    const exact = new Set(ids(await search(index, q, { k: 10, candidates: 1_000_000 })));
    hit += ids(await search(index, q, { k: 10, ...options })).filter((id) => exact.has(id)).length;
    total += exact.size;
  }
  return hit / total;
}

describe("recall where the modes disagree (independent queries)", () => {
  it("default search: recall@10 >= 0.99 against exhaustive fused float32 scoring, after deletes and replacements, and after save/load", async () => {
    let index = await HybridIndex.create(corpus.fingerprint, { denseDim: 512, colbertDim: 128, colbert: { codec: "float32" } });
    const docs = corpus.docs.slice(0, N);
    for (let i = 0; i < N; i += 500) await index.upsert(docs.slice(i, i + 500).map(entry));
    // The corpus is one where the modes disagree: the dense ∪ sparse top-100 pool alone misses.
    expect(await recall(index, { colbertCandidates: 0, rerank: 1_000_000 })).toBeLessThan(0.97);
    expect(await recall(index)).toBeGreaterThanOrEqual(0.99);

    const pick = (i: number) => hashInt(i ^ 0x5bd1e995) % 30;
    const removed = docs.filter((d) => pick(d.index) < 10).map((d) => d.id);
    const replaced = docs.filter((d) => pick(d.index) >= 10 && pick(d.index) < 13).slice(0, N / 10);
    expect((await index.delete(removed)).deleted).toBe(removed.length);
    const fresh = corpus.docs.slice(N, N + replaced.length);
    expect(await index.upsert(replaced.map((d, i) => ({ ...entry(fresh[i]!), id: d.id })))).toEqual({ added: 0, replaced: replaced.length });
    expect(index.size).toBe(N - removed.length);
    expect(await recall(index)).toBeGreaterThanOrEqual(0.99);

    const dir = join(root, "index");
    await saveIndex(index, dir);
    await index.close();
    index = await loadIndex(dir, { fingerprint: corpus.fingerprint });
    expect(index.capabilities.colbertTiers).toBe(true);
    expect(await recall(index)).toBeGreaterThanOrEqual(0.99);
    await index.close();
  });
});
