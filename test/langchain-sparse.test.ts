/**
 * Sparse and multi-vector embeddings for other stores (M3SparseEmbeddings,
 * M3MultiVectorEmbeddings), and cancellation / progress of the embedding calls.
 */
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { isM3Error } from "../src/errors.js";
import { M3Embeddings } from "../src/langchain/embeddings.js";
import { M3MultiVectorEmbeddings, M3SparseEmbeddings } from "../src/langchain/sparse.js";
import { colbertScore, lexicalScore } from "../src/math/scores.js";
import { FakeM3Encoder } from "./helpers/fake-encoder.js";

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

const model = join(import.meta.dirname, "fixtures/models/encoder-only");
const texts = ["BGE-M3 is an embedding model.", "Paris is the capital of France.", "Grüße aus Köln"];
const codeOf = async (p: Promise<unknown> | (() => unknown)) => {
  try {
    await (typeof p === "function" ? p() : p);
    return "no error";
  } catch (e) {
    return isM3Error(e) ? e.code : `untyped: ${String(e)}`;
  }
};

describe("M3SparseEmbeddings and M3MultiVectorEmbeddings over one M3Embeddings", () => {
  const m3 = new M3Embeddings({ modelPath: model });
  afterAll(() => m3.dispose());

  it("give the encoder's sparse and ColBERT outputs as plain arrays, from the one shared model", async () => {
    const sparse = new M3SparseEmbeddings(m3);
    const multi = new M3MultiVectorEmbeddings(m3.encoder);
    const full = await m3.encode(texts);
    const s = await sparse.embedDocuments(texts);
    const m = await multi.embedDocuments(texts);
    expect(s).toHaveLength(texts.length);
    s.forEach((v, i) => {
      expect(Array.isArray(v.indices) && Array.isArray(v.values)).toBe(true);
      expect(v.indices).toEqual(Array.from(full[i]!.sparse!.indices));
      expect(v.values).toEqual(Array.from(full[i]!.sparse!.values));
      expect([...v.indices].sort((a, b) => a - b)).toEqual(v.indices);
      expect(v.values.every((x) => x > 0)).toBe(true);
    });
    m.forEach((rows, i) => {
      const c = full[i]!.colbert!;
      expect(rows).toHaveLength(c.tokens);
      expect(rows.every((r) => r.length === c.dim)).toBe(true);
      expect(Float32Array.from(rows.flat())).toEqual(c.data);
    });
    // the store-side scores computed from the plain arrays equal the package's scores
    const q = await sparse.embedQuery("capital of France");
    const qm = await multi.embedQuery("capital of France");
    const [qe] = await m3.encode(["capital of France"]);
    const dot = q.indices.reduce((acc, t, j) => acc + q.values[j]! * (s[1]!.values[s[1]!.indices.indexOf(t)] ?? 0), 0);
    expect(dot).toBeCloseTo(lexicalScore(qe!.sparse!, full[1]!.sparse!), 5);
    const maxSim = qm.reduce((acc, r) => acc + Math.max(...m[1]!.map((d) => d.reduce((x, v, k) => x + v * r[k]!, 0))), 0) / qm.length;
    expect(maxSim).toBeCloseTo(colbertScore(qe!.colbert!, full[1]!.colbert!), 5);
    // one model: the wrappers use m3's encoder, loaded once
    expect(m3.info?.layout).toBe("encoder-only");
  });

  it("honour maxLength, signal and onProgress; bad inputs are typed errors", async () => {
    const short = new M3SparseEmbeddings(m3, { maxLength: 4 });
    const [v] = await short.embedDocuments(["one two three four five six seven eight"]);
    expect(v!.indices.length).toBeLessThanOrEqual(2);
    const events: unknown[] = [];
    await new M3MultiVectorEmbeddings(m3).embedDocuments(texts, { chunkSize: 2, onProgress: (e) => events.push(e) });
    expect(events).toEqual([{ phase: "encode", done: 2, total: 3 }, { phase: "encode", done: 3, total: 3 }]);
    expect(await codeOf(new M3SparseEmbeddings(m3).embedDocuments(texts, { signal: AbortSignal.abort() }))).toBe("ABORTED");
    expect(await codeOf(new M3SparseEmbeddings(m3).embedQuery("x", { signal: AbortSignal.abort() }))).toBe("ABORTED");
    expect(await codeOf(() => new M3SparseEmbeddings({} as never))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(() => new M3MultiVectorEmbeddings(m3, null as never))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(new M3SparseEmbeddings(m3).embedDocuments("text" as never))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(new M3SparseEmbeddings(m3).embedQuery(3 as never))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(new M3MultiVectorEmbeddings(m3).embedDocuments(texts, { chunkSize: 0 }))).toBe("OUT_OF_RANGE");
    expect(await codeOf(new M3MultiVectorEmbeddings(m3).embedDocuments(texts, { onProgress: "log" as never }))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(new M3SparseEmbeddings(m3, { maxLength: 1 }).embedQuery("x"))).toBe("OUT_OF_RANGE");
  });
});

describe("M3Embeddings: cancellation and progress", () => {
  const m3 = new M3Embeddings({ modelPath: model });
  afterAll(() => m3.dispose());

  it("embedDocuments and encode in chunks with progress; an abort between chunks rejects with ABORTED", async () => {
    const plain = await m3.embedDocuments(texts);
    const events: Array<{ done: number; total: number }> = [];
    const chunked = await m3.embedDocuments(texts, { chunkSize: 1, onProgress: (e) => events.push(e) });
    expect(events.map((e) => e.done)).toEqual([1, 2, 3]);
    chunked.forEach((v, i) => v.forEach((x, j) => expect(x).toBeCloseTo(plain[i]![j]!, 5)));
    const ac = new AbortController();
    const err = await m3.encode(texts, { chunkSize: 1, signal: ac.signal, onProgress: () => ac.abort() }).catch((e: unknown) => e);
    expect(isM3Error(err, "ABORTED")).toBe(true);
    expect(await codeOf(m3.embedQuery("x", { signal: AbortSignal.abort() }))).toBe("ABORTED");
    expect(await codeOf(m3.embedDocuments(texts, { signal: {} as never }))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(m3.encode(texts, "dense" as never))).toBe("INVALID_ARGUMENT");
  });

  it("without signal or progress the texts go to the encoder in one call; with them, one call per chunk", async () => {
    const fake = new FakeM3Encoder({ dim: 16 });
    const sparse = new M3SparseEmbeddings(fake);
    await sparse.embedDocuments(["a", "b", "c", "d", "e"]);
    expect(fake.calls.map((c) => c.texts.length)).toEqual([5]);
    fake.calls = [];
    await sparse.embedDocuments(["a", "b", "c", "d", "e"], { chunkSize: 2, signal: new AbortController().signal });
    expect(fake.calls.map((c) => c.texts.length)).toEqual([2, 2, 1]);
    expect(fake.calls[0]!.options).toMatchObject({ dense: false, sparse: true, colbert: false });
  });
});
