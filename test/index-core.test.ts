import { beforeAll, describe, expect, it, vi } from "vitest";
import { isM3Error } from "../src/errors.js";
import { HybridIndex } from "../src/index/hybrid-index.js";
import { search } from "../src/retrieve/search.js";
import { M3HybridStore } from "../src/open.js";
import { bruteSearch } from "./helpers/brute.js";
import { FakeM3Encoder } from "./helpers/fake-encoder.js";
import { memoryColbertFactory } from "./helpers/memory-colbert.js";
import { generateSyntheticCorpus, type SyntheticCorpusData as SyntheticCorpus } from "../bench/lib/synthetic.js";

let corpus: SyntheticCorpus;
beforeAll(() => {
  corpus = generateSyntheticCorpus({ docs: 3000, queries: 8, denseDim: 32, colbertDim: 16, colbertTokens: [3, 8], seed: 11, clusters: 60 });
});
const newIndex = () => HybridIndex.create(corpus.fingerprint, { colbertDim: 16, colbertFactory: memoryColbertFactory });
const codeOf = async (p: Promise<unknown> | (() => unknown)) => {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    return isM3Error(e) ? e.code : `untyped: ${String(e)}`;
  }
  return "no error";
};

describe("upsert and delete", () => {
  it("an existing id is replaced in every part; a repeated id in one batch keeps the last", async () => {
    const index = await newIndex();
    await index.upsert(corpus.docs.slice(0, 200));
    const r = await index.upsert([
      { ...corpus.docs[300]!, id: "doc-5", metadata: { v: 1 } },
      { ...corpus.docs[301]!, id: "doc-5", metadata: { v: 2 } },
      corpus.docs[200]!,
    ]);
    expect(r).toEqual({ added: 1, replaced: 1 });
    expect(index.size).toBe(201);
    expect(index.get("doc-5")).toEqual({ id: "doc-5", pageContent: corpus.docs[301]!.pageContent, metadata: { v: 2 } });
    // searching with doc 301's own encoding finds doc-5 first, with doc 301's scores
    const q = corpus.docs[301]!.encoding;
    const live = [...corpus.docs.slice(0, 201).filter((d) => d.id !== "doc-5"), { ...corpus.docs[301]!, id: "doc-5" }];
    const got = await search(index, q, { k: 5, candidates: 1000 });
    expect(got.map((h) => h.id)).toEqual(bruteSearch(live, q, 5).map((h) => h.id));
    expect(got[0]!.id).toBe("doc-5");
    expect(index.sparse.postingCount).toBe(live.reduce((a, d) => a + d.encoding.sparse.indices.length, 0));
  });

  it("delete removes from all three parts, ignores unknown ids (reported), and re-uses slots", async () => {
    const index = await newIndex();
    await index.upsert(corpus.docs.slice(0, 100));
    const slot = index.docs.slotOf("doc-7")!;
    const r = await index.delete(["doc-7", "nope", "doc-7", "doc-8"]);
    expect(r).toEqual({ deleted: 2, notFound: ["nope", "doc-7"] });
    expect(index.size).toBe(98);
    expect(index.dense.has(slot)).toBe(false);
    expect(index.sparse.vector(slot)).toBeUndefined();
    expect(index.colbert.has(slot)).toBe(false);
    for (const q of corpus.queries) {
      const hits = await search(index, q, { k: 100, candidates: 1000 });
      expect(hits.some((h) => h.id === "doc-7" || h.id === "doc-8")).toBe(false);
    }
    await index.upsert([corpus.docs[500]!]);
    expect(index.docs.slotOf("doc-500")).toBe(slot);
    expect(index.stats().slots).toBe(100);
    expect(index.stats().freeSlots).toBe(1);
  });

  it("stays exact and accurate after heavy churn (graph rebuild, slot re-use)", async () => {
    const index = await newIndex();
    await index.upsert(corpus.docs);
    const gone = corpus.docs.filter((_, i) => i % 5 !== 0).map((d) => d.id);
    await index.delete(gone);
    const live = corpus.docs.filter((_, i) => i % 5 === 0);
    expect(index.size).toBe(600);
    let agree = 0;
    for (const q of corpus.queries) {
      const exact = await search(index, q, { k: 10, candidates: 100000 });
      expect(exact.map((h) => h.id)).toEqual(bruteSearch(live, q, 10).map((h) => h.id));
      const approx = await search(index, q, { k: 10 });
      agree += approx.filter((h) => exact.some((e) => e.id === h.id)).length;
    }
    expect(agree / (10 * corpus.queries.length)).toBeGreaterThanOrEqual(0.99);
    await index.upsert(corpus.docs.slice(1, 1000)); // fills freed slots again
    expect(index.stats().slots).toBe(3000);
  });
});

describe("bad input: typed errors, nothing stored is lost", () => {
  it("a bad entry rejects the whole batch", async () => {
    const index = await newIndex();
    await index.upsert(corpus.docs.slice(0, 10));
    const d = corpus.docs[20]!;
    const bad = [
      { ...d, encoding: { ...d.encoding, dense: new Float32Array(31) } },
      { ...d, encoding: { ...d.encoding, colbert: { ...d.encoding.colbert, dim: 8 } } },
      { ...d, encoding: { ...d.encoding, sparse: undefined } },
      { ...d, id: "" },
      { ...d, id: 5 as unknown as string },
      { ...d, metadata: [1] as unknown as Record<string, unknown> },
      { ...d, pageContent: undefined as unknown as string },
      { ...d, encoding: { ...d.encoding, dense: Float32Array.from(d.encoding.dense, (x, i) => (i === 3 ? NaN : x)) } },
    ];
    for (const b of bad) {
      expect(await codeOf(index.upsert([corpus.docs[10]!, b]))).toBe("INVALID_ARGUMENT");
      expect(index.size).toBe(10);
      expect(index.has("doc-10")).toBe(false);
    }
    expect(await codeOf(index.delete("doc-1" as unknown as string[]))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(index.delete([""]))).toBe("INVALID_ARGUMENT");
    expect(index.size).toBe(10);
  });

  it("unsorted sparse input with repeats is normalised (max weight kept)", async () => {
    const index = await newIndex();
    const d = corpus.docs[0]!;
    await index.upsert([{ ...d, encoding: { ...d.encoding, sparse: { indices: Uint32Array.of(9, 4, 9), values: Float32Array.of(0.1, 0.2, 0.3) } } }]);
    const v = index.sparse.vector(0)!;
    expect(Array.from(v.indices)).toEqual([4, 9]);
    expect(Array.from(v.values)).toEqual([Math.fround(0.2), Math.fround(0.3)]);
  });

  it("closing makes the index unusable with DISPOSED", async () => {
    const index = await newIndex();
    await index.close();
    expect(await codeOf(index.upsert([]))).toBe("DISPOSED");
    expect(await codeOf(search(index, corpus.queries[0]!))).toBe("DISPOSED");
  });
});

describe("M3HybridStore", () => {
  const texts = [
    "The cat sat on the warm mat near the fireplace",
    "Dogs are loyal companions and love long walks",
    "Quantum computers use qubits in superposition",
    "A recipe for sourdough bread needs a starter",
    "The stock market fell sharply on Monday",
  ];
  it("stats.encodeMs is the time spent in the query's encode call, and only that", async () => {
    const enc = new FakeM3Encoder({ dim: 24 });
    const store = await M3HybridStore.create(enc, { colbertFactory: memoryColbertFactory });
    await store.addDocuments([{ pageContent: "a cat on the mat" }, { pageContent: "qubits and gates" }]);
    // A clock that moves only inside encode (by 7 ms) and inside the backend search (by 1000 ms).
    let clock = 1_000;
    const now = vi.spyOn(performance, "now").mockImplementation(() => clock);
    const encode = enc.encode.bind(enc);
    enc.encode = async (...args: Parameters<typeof enc.encode>) => {
      clock += 7;
      return encode(...args);
    };
    const candidates = store.backend.candidates.bind(store.backend);
    store.backend.candidates = async (...args: Parameters<typeof candidates>) => {
      clock += 1_000;
      return candidates(...args);
    };
    try {
      const { stats } = await store.searchWithStats("qubits", { k: 1 });
      expect(stats.encodeMs).toBe(7);
    } finally {
      now.mockRestore();
      await store.close();
    }
  });

  it("encodes documents, honours Document.id and options.ids, encodes each query once", async () => {
    const enc = new FakeM3Encoder({ dim: 24 });
    const store = await M3HybridStore.create(enc, { colbertFactory: memoryColbertFactory, batchSize: 2 });
    const ids = await store.addDocuments(texts.map((t, i) => ({ pageContent: t, metadata: { i }, id: i === 0 ? "cat" : undefined })));
    expect(ids[0]).toBe("cat");
    expect(new Set(ids).size).toBe(5);
    expect(enc.calls.length).toBe(3);
    await store.addDocuments([{ pageContent: "Cats purr when happy" }], { ids: ["cat2"] });
    enc.calls = [];
    const hits = await store.search("where did the cat sit", { k: 2 });
    expect(enc.calls).toHaveLength(1);
    expect(enc.calls[0]!.options).toEqual({ dense: true, sparse: true, colbert: true });
    expect(hits[0]!.id).toBe("cat");
    const { stats } = await store.searchWithStats("qubits", { k: 1, modes: ["dense"] });
    expect(stats.encodeMs).toBeTypeOf("number");
    expect(enc.calls[1]!.options).toEqual({ dense: true, sparse: false, colbert: false });
    expect(await codeOf(store.search(""))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(store.search("   "))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(store.search("x", { k: 0 }))).toBe("OUT_OF_RANGE");
    expect(await codeOf(store.addDocuments([{ pageContent: "x" }], { ids: ["a", "b"] }))).toBe("INVALID_ARGUMENT");
    expect(await store.delete(["cat2", "unknown"])).toEqual({ deleted: 1, notFound: ["unknown"] });
    expect(await store.count()).toBe(5);
  });

  it("refuses an index built with another model", async () => {
    const index = await HybridIndex.create(await new FakeM3Encoder({ dim: 24 }).fingerprint(), { colbertFactory: memoryColbertFactory });
    expect(await codeOf(M3HybridStore.fromIndex(new FakeM3Encoder({ dim: 24, tokenizerSha256: "x" }), index))).toBe("INDEX_MODEL_MISMATCH");
  });
});
