/**
 * M3VectorStore beyond the shared properties (test/langchain-properties.test.ts): hybrid vs
 * dense-only scores, constructors (lazy, store, backend, saved directory), close, MMR details
 * (LangChain's algorithm, the ColBERT variant, options), cancellation and progress, LangChain's
 * indexing API, and every bad input's error code.
 */
import * as fsp from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Document } from "@langchain/core/documents";
import { index } from "@langchain/core/indexing";
import { maximalMarginalRelevance } from "@langchain/core/utils/math";
import { FakeEmbeddings } from "@langchain/core/utils/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { isM3Error } from "../src/errors.js";
import { HybridIndex } from "../src/index/hybrid-index.js";
import { defaultColbertFactory } from "../src/index/default-colbert.js";
import { M3_SCORES_KEY } from "../src/langchain/documents.js";
import { selectByMmr } from "../src/langchain/mmr.js";
import { M3VectorStore } from "../src/langchain/vectorstore.js";
import { M3VectorStoreRetriever } from "../src/langchain/vectorstore-retriever.js";
import { M3HybridStore } from "../src/open.js";
import { Rng, randomUnit } from "../bench/lib/rng.js";
import { FakeM3Encoder } from "./helpers/fake-encoder.js";
import { InMemoryRecordManager } from "./helpers/record-manager.js";

const enc = new FakeM3Encoder({ dim: 256 });
const docs = () => [
  new Document({ id: "cats", pageContent: "The cat sat on the warm mat near the fireplace", metadata: { topic: "pets", source: "a.txt" } }),
  new Document({ id: "dogs", pageContent: "Dogs are loyal companions and love long walks", metadata: { topic: "pets", source: "a.txt" } }),
  new Document({ id: "qubits", pageContent: "Quantum computers use qubits in superposition", metadata: { topic: "science", source: "b.txt" } }),
  new Document({ id: "bread", pageContent: "A recipe for sourdough bread needs a lively starter", metadata: { topic: "food", source: "c.txt" } }),
];
let root: string;
const opened: Array<{ close(): Promise<void> }> = [];
const keep = <T extends { close(): Promise<void> }>(x: T): T => {
  opened.push(x);
  return x;
};
beforeAll(async () => {
  root = await fsp.mkdtemp(join(tmpdir(), "m3-vs-"));
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((x) => x.close()));
});
afterAll(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});
const codeOf = async (p: Promise<unknown> | (() => unknown)) => {
  try {
    await (typeof p === "function" ? p() : p);
    return "no error";
  } catch (e) {
    return isM3Error(e) ? e.code : `untyped: ${String(e)}`;
  }
};

/** An encoder that waits for `release()` before encoding (to abort a call in flight). */
class GatedEncoder extends FakeM3Encoder {
  gate: Promise<void> = Promise.resolve();
  release: () => void = () => undefined;
  close() {
    this.gate = new Promise((r) => (this.release = r));
  }
  override async encode(...args: Parameters<FakeM3Encoder["encode"]>) {
    await this.gate;
    return super.encode(...args);
  }
}

describe("M3VectorStore: searches", () => {
  it("hybrid text search, dense-only vector search, both with scores and exact metadata", async () => {
    const vs = keep(await M3VectorStore.create(enc));
    expect(vs._vectorstoreType()).toBe("m3-hybrid");
    expect(await vs.addDocuments(docs())).toEqual(["cats", "dogs", "qubits", "bread"]);
    const [[top, score]] = (await vs.similaritySearchWithScore("cat on a mat", 1)) as [[Document, number]];
    expect(top.id).toBe("cats");
    expect(top.metadata).toStrictEqual({ topic: "pets", source: "a.txt" });
    const [hit] = await vs.store.search("cat on a mat", { k: 1 });
    expect(score).toBe(hit!.score);
    const byVector = await vs.similaritySearchVectorWithScore(await enc.embedQuery("quantum qubits"), 2);
    expect(byVector[0]![0].id).toBe("qubits");
    const [denseHit] = await vs.store.search("quantum qubits", { k: 1, modes: ["dense"] });
    expect(byVector[0]![1]).toBeCloseTo(denseHit!.scores.dense!, 6);
    expect(M3_SCORES_KEY in byVector[0]![0].metadata).toBe(false);
    expect((await vs.similaritySearch("pets", 4, { topic: "food" })).map((d) => d.id)).toEqual(["bread"]);
  });

  it("the vector search's score is the dense inner product whatever the store's fusion and weights", async () => {
    const vs = keep(await M3VectorStore.create(enc, { search: { fusion: "rrf", weights: { dense: 0, sparse: 1, colbert: 1 } } }));
    await vs.addDocuments(docs());
    const q = await enc.embedQuery("sourdough bread");
    const [[d, s]] = (await vs.similaritySearchVectorWithScore(q, 1)) as [[Document, number]];
    const stored = await vs.store.backend.getDocuments([d.id!], { dense: true });
    expect(s).toBeCloseTo(q.reduce((a, x, i) => a + x * stored[0]!.dense![i]!, 0), 5);
  });

  it("addVectors checks the dimension and keeps all three parts; bad inputs are typed errors", async () => {
    const vs = keep(await M3VectorStore.create(enc));
    const d = docs();
    const vectors = await enc.embedDocuments(d.map((x) => x.pageContent));
    expect(await vs.addVectors(vectors, d)).toEqual(["cats", "dogs", "qubits", "bread"]);
    const hits = await vs.store.search("sourdough bread", { k: 1 });
    expect(hits[0]!.id).toBe("bread");
    expect(Object.keys(hits[0]!.scores).sort()).toEqual(["colbert", "dense", "sparse"]);
    expect(await codeOf(vs.addVectors([[1, 2, 3]], [d[0]!]))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(vs.addVectors([vectors[0]!, vectors[1]!], [d[0]!]))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(vs.addVectors([vectors[0]!], [{ pageContent: 7 } as never]))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(vs.addVectors([vectors[0]!], [d[0]!], { ids: ["a", "b"] }))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(vs.similaritySearchVectorWithScore([0.5, 0.5], 2))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(vs.addDocuments("docs" as never))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(vs.addDocuments([{ pageContent: null } as never]))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(vs.addDocuments(d, "ids" as never))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(vs.addDocuments(d, { onProgress: 1 as never }))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(vs.addDocuments([new Document({ pageContent: "x", metadata: [1] as never })]))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(vs.similaritySearch("", 2))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(vs.similaritySearch("cats", 0))).toBe("OUT_OF_RANGE");
    expect(await codeOf(vs.similaritySearch("cats", 2, "topic=pets" as never))).toBe("INVALID_ARGUMENT");
    expect(await vs.store.count()).toBe(4);
  });

  it("works with LangChain's indexing API (index() with a record manager)", async () => {
    const vs = keep(new M3VectorStore(enc, {}));
    const rm = new InMemoryRecordManager();
    const opts = { cleanup: "incremental", sourceIdKey: "source" } as const;
    const first = await index({ docsSource: docs(), recordManager: rm, vectorStore: vs, options: opts });
    expect(first).toMatchObject({ numAdded: 4, numDeleted: 0, numSkipped: 0 });
    expect(await vs.store.count()).toBe(4);
    const again = await index({ docsSource: docs(), recordManager: rm, vectorStore: vs, options: opts });
    expect(again).toMatchObject({ numAdded: 0, numSkipped: 4, numDeleted: 0 });
    const changed = docs().slice(0, 3);
    changed[2] = new Document({ pageContent: "Quantum error correction protects qubits", metadata: { topic: "science", source: "b.txt" } });
    const third = await index({ docsSource: changed, recordManager: rm, vectorStore: vs, options: opts });
    expect(third).toMatchObject({ numAdded: 1, numDeleted: 1, numSkipped: 2 });
    expect(await vs.store.count()).toBe(4);
    const full = await index({ docsSource: changed, recordManager: rm, vectorStore: vs, options: { cleanup: "full" } });
    expect(full).toMatchObject({ numDeleted: 1 });
    expect(await vs.store.count()).toBe(3);
    const hits = await vs.similaritySearch("quantum error correction", 1);
    expect(hits[0]!.pageContent).toContain("error correction");
  });
});

describe("M3VectorStore: constructors, opening and closing", () => {
  it("new M3VectorStore(embeddings, {}) opens an embedded index on first use", async () => {
    const vs = keep(new M3VectorStore(enc, {}));
    expect(await codeOf(() => vs.store)).toBe("INVALID_ARGUMENT"); // not open yet: says to await getStore()
    expect(await vs.similaritySearch("anything", 2)).toEqual([]);
    expect(vs.store).toBeInstanceOf(M3HybridStore);
    expect(await vs.getStore()).toBe(vs.store);
    const bare = keep(new M3VectorStore(enc));
    expect(await bare.addDocuments(docs())).toHaveLength(4);
    const fromTexts = keep(await M3VectorStore.fromTexts(["a cat", "a dog"], [{ n: 1 }, { n: 2 }], enc));
    expect((await fromTexts.similaritySearch("cat", 1))[0]!.metadata).toStrictEqual({ n: 1 });
    const shared = keep(await M3VectorStore.fromTexts(["x", "y"], { same: true }, enc, { search: { k: 1 } }));
    expect((await shared.similaritySearch("x", 2)).map((d) => d.metadata)).toEqual([{ same: true }, { same: true }]);
  });

  it("refuses embeddings that are not BGE-M3, and bad options, with INVALID_ARGUMENT / OUT_OF_RANGE", async () => {
    const err = await (async () => new M3VectorStore(new FakeEmbeddings() as never, {}))().catch((e: unknown) => e);
    expect(isM3Error(err, "INVALID_ARGUMENT")).toBe(true);
    expect(String((err as Error).message)).toMatch(/FakeEmbeddings.*M3Embeddings|M3Embeddings.*FakeEmbeddings/);
    expect(await codeOf(() => new M3VectorStore(null as never))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(() => M3VectorStore.fromDocuments(docs(), new FakeEmbeddings() as never))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(() => M3VectorStore.load(root, new FakeEmbeddings() as never))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(() => new M3VectorStore(enc, "dir" as never))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(() => new M3VectorStore(enc, { store: {} as never }))).toBe("INVALID_ARGUMENT");
    const store = keep(await M3HybridStore.create(enc));
    expect(await codeOf(() => new M3VectorStore(enc, { store, backend: store.backend }))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(() => new M3VectorStore(enc, { search: { k: 0 } }))).toBe("OUT_OF_RANGE");
    expect(await codeOf(() => new M3VectorStore(enc, { lambda: 2 }))).toBe("OUT_OF_RANGE");
    expect(await codeOf(() => new M3VectorStore(enc, { fetchK: 0 }))).toBe("OUT_OF_RANGE");
    expect(await codeOf(() => new M3VectorStore(enc, { mmrSimilarity: "fused" as never }))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(M3VectorStore.fromTexts("a" as never, [], enc))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(M3VectorStore.fromDocuments([{ pageContent: 1 } as never], enc))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(M3VectorStore.load(root, enc, { lambda: 5 }))).toBe("OUT_OF_RANGE");
    // a bad index option surfaces on first use, typed, and the store can be fixed by a new one
    const lazyBad = keep(new M3VectorStore(enc, { dense: { M: 0 } }));
    expect(await codeOf(lazyBad.addDocuments(docs()))).toBe("OUT_OF_RANGE");
  });

  it("{ store } wraps an open store; { backend } and fromBackend take any RetrievalBackend", async () => {
    const store = await M3HybridStore.create(enc);
    await store.addDocuments([{ id: "s", pageContent: "a stored text", metadata: { k: 1 } }]);
    const wrapped = keep(new M3VectorStore(enc, { store }));
    expect(wrapped.store).toBe(store);
    expect((await wrapped.similaritySearch("stored text", 1))[0]!.id).toBe("s");

    const fp = await enc.fingerprint();
    const backend = await HybridIndex.create(fp, { denseDim: enc.dim, colbertDim: enc.dim, colbertFactory: defaultColbertFactory });
    const viaOption = keep(new M3VectorStore(enc, { backend }));
    await viaOption.addDocuments(docs());
    expect(await backend.count()).toBe(4);
    const viaStatic = keep(await M3VectorStore.fromBackend(enc, backend, { search: { k: 2 } }));
    expect((await viaStatic.similaritySearch("sourdough", 1))[0]!.id).toBe("bread");

    const other = await HybridIndex.create({ ...fp, tokenizerSha256: "another model" }, { denseDim: enc.dim, colbertDim: enc.dim, colbertFactory: defaultColbertFactory });
    keep(other);
    expect(await codeOf(M3VectorStore.fromBackend(enc, other))).toBe("INDEX_MODEL_MISMATCH");
    const lazyMismatch = keep(new M3VectorStore(enc, { backend: other }));
    expect(await codeOf(lazyMismatch.addDocuments(docs()))).toBe("INDEX_MODEL_MISMATCH");
    expect(await codeOf(lazyMismatch.similaritySearch("x", 1))).toBe("INDEX_MODEL_MISMATCH"); // retried, same answer
    expect(await codeOf(M3VectorStore.fromBackend(enc, { kind: "nope" } as never))).toBe("INVALID_ARGUMENT");
  });

  it("save, load and fromExistingIndex round-trip; another model and bad directories are refused", async () => {
    const vs = keep(await M3VectorStore.fromDocuments(docs(), enc));
    const dir = join(root, "vs");
    await vs.save(dir);
    const loaded = keep(await M3VectorStore.load(dir, enc));
    const opened2 = keep(await M3VectorStore.fromExistingIndex(enc, { directory: dir, lambda: 0.9 }));
    expect(opened2.mmrDefaults.lambda).toBe(0.9);
    const a = await vs.similaritySearchWithScore("cat mat", 4);
    for (const other of [loaded, opened2]) {
      const b = await other.similaritySearchWithScore("cat mat", 4);
      expect(b.map(([d, s]) => [d.id, s, d.metadata])).toEqual(a.map(([d, s]) => [d.id, s, d.metadata]));
    }
    expect(await codeOf(M3VectorStore.load(dir, new FakeM3Encoder({ dim: 256, tokenizerSha256: "other" })))).toBe("INDEX_MODEL_MISMATCH");
    expect(await codeOf(M3VectorStore.fromExistingIndex(enc, { directory: join(root, "missing") }))).toBe("NOT_FOUND");
    expect(await codeOf(M3VectorStore.fromExistingIndex(enc, {} as never))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(M3VectorStore.fromExistingIndex(enc, undefined as never))).toBe("INVALID_ARGUMENT");
  });

  it("close() releases the store once, waits for writes, and later calls get DISPOSED", async () => {
    const vs = await M3VectorStore.create(enc);
    const spy = vi.spyOn(vs.store.backend, "close");
    const adding = vs.addDocuments(docs());
    await vs.close();
    expect(await adding).toHaveLength(4); // the write in flight finished first
    await vs.close();
    expect(spy).toHaveBeenCalledTimes(1);
    for (const call of [() => vs.similaritySearch("x"), () => vs.addDocuments(docs()), () => vs.delete({ deleteAll: true }), () => vs.store, () => vs.getStore()]) {
      expect(await codeOf(call)).toBe("DISPOSED");
    }
    await new M3VectorStore(enc, {}).close(); // never opened: nothing to release
  });
});

describe("M3VectorStore: MMR", () => {
  it("selectByMmr picks what LangChain's maximalMarginalRelevance picks (dense cosine)", () => {
    const rng = new Rng(7);
    for (let trial = 0; trial < 20; trial++) {
      const dim = 8;
      const q = Array.from(randomUnit(rng, dim));
      const vs = Array.from({ length: 12 }, () => Array.from(randomUnit(rng, dim)));
      const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);
      for (const lambda of [0, 0.3, 0.5, 1]) {
        for (const k of [1, 4, 12]) {
          const ours = selectByMmr(vs.map((v) => dot(q, v)), (i, j) => dot(vs[i]!, vs[j]!), k, lambda);
          expect(ours, `trial ${trial} lambda ${lambda} k ${k}`).toEqual(maximalMarginalRelevance(q, vs, lambda, k));
        }
      }
    }
    expect(selectByMmr([], () => 0, 3, 0.5)).toEqual([]);
  });

  it("the ColBERT variant re-encodes the candidates; the dense one reads the stored vectors", async () => {
    const counting = new FakeM3Encoder({ dim: 64 });
    const vs = keep(await M3VectorStore.fromDocuments(docs(), counting));
    counting.calls = [];
    await vs.maxMarginalRelevanceSearch("warm mat", { k: 2, fetchK: 4 });
    expect(counting.calls.map((c) => c.texts)).toEqual([["warm mat"]]); // the query only
    counting.calls = [];
    const got = await vs.maxMarginalRelevanceSearch("warm mat", { k: 2, fetchK: 4, mmrSimilarity: "colbert" });
    expect(got).toHaveLength(2);
    expect(counting.calls).toHaveLength(2);
    expect(counting.calls[1]!.texts.sort()).toEqual(docs().map((d) => d.pageContent).sort());
    expect(counting.calls[1]!.options).toMatchObject({ colbert: true, dense: false, sparse: false });
  });

  it("store-level MMR defaults apply to the retriever; a store without the dense mode still ranks by dense relevance", async () => {
    const vs = keep(await M3VectorStore.fromDocuments(docs(), enc, { search: { modes: ["sparse"] }, lambda: 1 }));
    const r = vs.asRetriever({ k: 4, searchType: "mmr", searchKwargs: { fetchK: 4 } });
    expect(r).toBeInstanceOf(M3VectorStoreRetriever);
    const got = await r.invoke("dogs walks");
    const dense = await vs.similaritySearchVectorWithScore(await enc.embedQuery("dogs walks"), 4);
    const candidates = (await vs.similaritySearch("dogs walks", 4)).map((d) => d.id);
    expect(got.map((d) => d.id)).toEqual(dense.map(([d]) => d.id).filter((id) => candidates.includes(id)));
  });

  it("bad MMR options are typed errors", async () => {
    const vs = keep(await M3VectorStore.fromDocuments(docs(), enc));
    expect(await codeOf(vs.maxMarginalRelevanceSearch("x", { k: 0 }))).toBe("OUT_OF_RANGE");
    expect(await codeOf(vs.maxMarginalRelevanceSearch("x", { k: 2, fetchK: 1.5 }))).toBe("OUT_OF_RANGE");
    expect(await codeOf(vs.maxMarginalRelevanceSearch("x", { k: 2, lambda: -0.1 }))).toBe("OUT_OF_RANGE");
    expect(await codeOf(vs.maxMarginalRelevanceSearch("x", { k: 2, mmrSimilarity: "sparse" as never }))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(vs.maxMarginalRelevanceSearch("x", null as never))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(vs.maxMarginalRelevanceSearch("x", { k: 2, signal: "stop" as never }))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(vs.maxMarginalRelevanceSearch("", { k: 2 }))).toBe("INVALID_ARGUMENT");
  });
});

describe("M3VectorStore: cancellation and progress", () => {
  it("addDocuments reports progress per batch and then the write", async () => {
    const vs = keep(await M3VectorStore.create(enc, { batchSize: 2 }));
    const events: unknown[] = [];
    const more = [...docs(), new Document({ pageContent: "one more text", metadata: {} })];
    await vs.addDocuments(more, { onProgress: (e) => events.push(e) });
    expect(events).toEqual([
      { phase: "encode", done: 2, total: 5 },
      { phase: "encode", done: 4, total: 5 },
      { phase: "encode", done: 5, total: 5 },
      { phase: "write", done: 5, total: 5 },
    ]);
  });

  it("an abort during encoding rejects with ABORTED and adds nothing; so does an aborted signal up front", async () => {
    const vs = keep(await M3VectorStore.create(enc, { batchSize: 1 }));
    await vs.addDocuments(docs().slice(0, 1));
    const ac = new AbortController();
    const err = await vs.addDocuments(docs().slice(1), { signal: ac.signal, onProgress: (e) => e.done === 1 && ac.abort() }).catch((e: unknown) => e);
    expect(isM3Error(err, "ABORTED")).toBe(true);
    expect(await vs.store.count()).toBe(1);
    expect(await codeOf(vs.addDocuments(docs(), { signal: AbortSignal.abort() }))).toBe("ABORTED");
    const v = await enc.embedDocuments(["x"]);
    expect(await codeOf(vs.addVectors(v, [new Document({ pageContent: "x" })], { signal: AbortSignal.abort() }))).toBe("ABORTED");
    expect(await codeOf(vs.delete({ ids: ["cats"], signal: AbortSignal.abort() }))).toBe("ABORTED");
    expect(await codeOf(vs.maxMarginalRelevanceSearch("cats", { k: 1, signal: AbortSignal.abort() }))).toBe("ABORTED");
    expect(await codeOf(vs.addDocuments(docs(), { signal: { aborted: false } as never }))).toBe("INVALID_ARGUMENT");
    expect(await vs.store.count()).toBe(1);
  });

  it("the retriever honours RunnableConfig.signal and timeout: ABORTED, and the search stops", async () => {
    const gated = new GatedEncoder({ dim: 64 });
    const vs = keep(await M3VectorStore.fromDocuments(docs(), gated));
    const candidates = vi.spyOn(vs.store.backend, "candidates");
    const retriever = vs.asRetriever(2);
    expect(M3VectorStoreRetriever.lc_name()).toBe("M3VectorStoreRetriever");
    expect(await codeOf(retriever.invoke("cats", { signal: AbortSignal.abort() }))).toBe("ABORTED");

    gated.close();
    const ac = new AbortController();
    const pending = retriever.invoke("cats", { signal: ac.signal });
    ac.abort();
    expect(await codeOf(pending)).toBe("ABORTED");
    const timed = retriever.invoke("cats", { timeout: 20 });
    expect(await codeOf(timed)).toBe("ABORTED");
    const mmr = vs.asRetriever({ k: 2, searchType: "mmr" }).invoke("cats", { timeout: 20 });
    expect(await codeOf(mmr)).toBe("ABORTED");
    gated.release();
    await new Promise((r) => setTimeout(r, 20));
    expect(candidates).not.toHaveBeenCalled(); // the aborted searches never reached the backend

    expect((await retriever.invoke("the cat on a warm mat", { timeout: 60_000 })).map((d) => d.id)).toContain("cats");
    expect(await retriever.batch(["cats", "bread"], { signal: new AbortController().signal })).toHaveLength(2);
    expect(await codeOf(retriever.invoke("cats", { timeout: -1 }))).toBe("OUT_OF_RANGE");
  });
});
