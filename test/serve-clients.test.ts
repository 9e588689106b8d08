/**
 * The remote clients against a real `createM3Server` on 127.0.0.1: `M3RemoteEmbeddings` as the
 * encoder of M3VectorStore / M3SparseEmbeddings (no model in the app process), its retries,
 * timeout and AbortSignal, and `M3Reranker` in a ContextualCompressionRetriever over LangChain's
 * in-memory vector store, in process and through /v1/rerank.
 */
import { Document } from "@langchain/core/documents";
import { ContextualCompressionRetriever } from "@langchain/classic/retrievers/contextual_compression";
import { MemoryVectorStore } from "@langchain/classic/vectorstores/memory";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  createM3Server, M3Embeddings, M3Encoder, M3RemoteEmbeddings, M3Reranker, M3SparseEmbeddings, M3VectorStore, RELEVANCE_SCORE_KEY, type M3Server,
} from "../src/index.js";

const MODEL = join(import.meta.dirname, "fixtures/models/encoder-only");
const DOCS = [
  "Bread dough rises because yeast makes gas.",
  "The quick brown fox jumps over the lazy dog.",
  "Sourdough needs a starter of flour and water.",
  "Tokyo is the capital of Japan.",
  "Yeast eats sugar and releases carbon dioxide.",
  "A cat sleeps in the sun.",
];

let local: M3Embeddings;
let server: M3Server;

beforeAll(async () => {
  local = new M3Embeddings({ modelPath: MODEL });
  await local.load();
  server = await createM3Server({ encoder: local.encoder, port: 0, limits: { retryAfterSeconds: 0 } });
  await server.ready();
});

afterAll(async () => {
  await server?.close();
  await local?.dispose();
});

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-6): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(tol);
}

describe("M3RemoteEmbeddings", () => {
  it("encode gives the server's three outputs as typed arrays, equal to the local encoder", async () => {
    const remote = new M3RemoteEmbeddings({ url: server.url, batchSize: 4 });
    const [r, l] = await Promise.all([remote.encode(DOCS), local.encode(DOCS)]);
    expect(r.length).toBe(DOCS.length);
    r.forEach((e, i) => {
      expect(e.dense).toBeInstanceOf(Float32Array);
      close(e.dense!, l[i]!.dense!);
      expect(Array.from(e.sparse!.indices)).toEqual(Array.from(l[i]!.sparse!.indices));
      close(e.sparse!.values, l[i]!.sparse!.values);
      expect(e.colbert!.tokens).toBe(l[i]!.colbert!.tokens);
      close(e.colbert!.data, l[i]!.colbert!.data);
      expect(e.tokenCount).toBe(l[i]!.tokenCount);
    });
    expect(await remote.fingerprint()).toEqual(await local.fingerprint());
    close(await remote.embedQuery("bread"), await local.embedQuery("bread"));
  });

  it("an app server with no model files: M3VectorStore and M3SparseEmbeddings over the remote encoder equal the local ones", async () => {
    const remote = new M3RemoteEmbeddings({ url: server.url });
    const rs = new M3VectorStore(remote, {});
    const ls = new M3VectorStore(local, {});
    const docs = DOCS.map((t, i) => new Document({ id: `d${i}`, pageContent: t, metadata: { i } }));
    await rs.addDocuments(docs);
    await ls.addDocuments(docs);
    const [a, b] = await Promise.all([rs.similaritySearchWithScore("yeast gas", 4), ls.similaritySearchWithScore("yeast gas", 4)]);
    expect(a.map(([d]) => d.id)).toEqual(b.map(([d]) => d.id));
    a.forEach(([, s], i) => expect(s).toBeCloseTo(b[i]![1], 6));
    await rs.close();
    await ls.close();
    const sr = await new M3SparseEmbeddings(remote).embedDocuments(DOCS.slice(0, 2));
    const sl = await new M3SparseEmbeddings(local).embedDocuments(DOCS.slice(0, 2));
    expect(sr.map((s) => s.indices)).toEqual(sl.map((s) => s.indices));
  });

  it("the server's error codes come back as M3Errors; an unreachable server is BACKEND_UNAVAILABLE", async () => {
    const remote = new M3RemoteEmbeddings({ url: server.url });
    await expect(remote.encode(["a"], { maxLength: 1 })).rejects.toMatchObject({ name: "M3Error", code: "OUT_OF_RANGE" });
    const dead = new M3RemoteEmbeddings({ url: "http://127.0.0.1:1", maxRetries: 1, retryBaseMs: 1 });
    await expect(dead.embedQuery("a")).rejects.toMatchObject({ code: "BACKEND_UNAVAILABLE" });
    expect(() => new M3RemoteEmbeddings({ url: "ftp://x" })).toThrow(/http/);
  });

  it("retries a 429 with back-off until the queue has room; timeout and AbortSignal end a call that gets no answer", async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const enc = Object.create(local.encoder) as M3Encoder;
    enc.encode = async (texts, options) => {
      await gate;
      return local.encoder.encode(texts, options);
    };
    const text = "one two three four five";
    const n = (await local.encoder.tokenize([text]))[0]!.length;
    const s = await createM3Server({ encoder: enc, port: 0, limits: { queueTokens: n, maxRequestTokens: n, retryAfterSeconds: 0 } });
    try {
      const holder = new M3RemoteEmbeddings({ url: s.url, maxRetries: 0 }).embedQuery(text);
      await vi.waitFor(() => expect(s.metrics.render()).toMatch(/m3_queue_requests 1/));
      const retrying = new M3RemoteEmbeddings({ url: s.url, maxRetries: 50, retryBaseMs: 1 }).embedQuery(text);
      await vi.waitFor(() => expect(s.metrics.errors.get({ code: "OVERLOADED" })).toBeGreaterThanOrEqual(1));
      const ac = new AbortController();
      const aborted = new M3RemoteEmbeddings({ url: s.url, maxRetries: 50, retryBaseMs: 1 }).embedDocuments([text], { signal: ac.signal });
      ac.abort();
      await expect(aborted).rejects.toMatchObject({ code: "ABORTED" });
      open();
      close(await retrying, await local.embedQuery(text));
      await holder;
      let hold!: () => void;
      const never = new Promise<void>((r) => (hold = r));
      enc.encode = async () => {
        await never;
        return [];
      };
      await expect(new M3RemoteEmbeddings({ url: s.url, timeoutMs: 50, maxRetries: 0 }).embedQuery("x")).rejects.toMatchObject({ code: "TIMEOUT" });
      hold();
    } finally {
      open();
      await s.close();
    }
  });
});

describe("M3Reranker", () => {
  it("reorders a MemoryVectorStore retriever's documents by M3's fused score, in process and via /v1/rerank alike", async () => {
    const base = await MemoryVectorStore.fromTexts(DOCS, DOCS.map((_, i) => ({ i })), local);
    const query = "yeast sugar gas";
    const candidates = await base.asRetriever(5).invoke(query);
    const pairs = await local.computeScore(candidates.map((d) => [query, d.pageContent] as [string, string]));
    const expected = pairs.map((p, j) => ({ j, s: p.combined })).sort((a, b) => b.s - a.s || a.j - b.j).slice(0, 3);
    for (const encoder of [local, new M3RemoteEmbeddings({ url: server.url })]) {
      const retriever = new ContextualCompressionRetriever({ baseCompressor: new M3Reranker({ encoder, topN: 3 }), baseRetriever: base.asRetriever(5) });
      const got = await retriever.invoke(query);
      expect(got.map((d) => d.pageContent)).toEqual(expected.map((e) => candidates[e.j]!.pageContent));
      got.forEach((d, r) => expect(d.metadata[RELEVANCE_SCORE_KEY]).toBeCloseTo(expected[r]!.s, 5));
      expect(got[0]!.metadata["i"]).toBe(candidates[expected[0]!.j]!.metadata["i"]);
    }
  });

  it("weights change the order (dense only equals the base store's cosine order) and bad options are typed errors", async () => {
    const r = new M3Reranker({ encoder: local, topN: 6, weights: { dense: 1, sparse: 0, colbert: 0 } });
    const docs = DOCS.map((t) => new Document({ pageContent: t }));
    const got = await r.compressDocuments(docs, "capital city");
    const base = await MemoryVectorStore.fromTexts(DOCS, {}, local);
    const ref = await base.similaritySearch("capital city", 6);
    expect(got.map((d) => d.pageContent)).toEqual(ref.map((d) => d.pageContent));
    expect(() => new M3Reranker({ encoder: local, weights: { dense: 0, sparse: 0, colbert: 0 } })).toThrow(/sum to 0/);
    expect(() => new M3Reranker({ encoder: {} as never })).toThrow(/M3Reranker needs/);
  });
});
