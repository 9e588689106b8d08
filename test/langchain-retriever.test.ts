import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import { Document } from "@langchain/core/documents";
import { describe, expect, it } from "vitest";
import { isM3Error } from "../src/errors.js";
import { M3_SCORES_KEY } from "../src/langchain/documents.js";
import { M3HybridRetriever } from "../src/langchain/retriever.js";
import { M3HybridStore } from "../src/open.js";
import { FakeM3Encoder } from "./helpers/fake-encoder.js";

const TEXTS = [
  ["cats", "The cat sat on the warm mat near the fireplace", { topic: "pets" }],
  ["dogs", "Dogs are loyal companions and love long walks in the park", { topic: "pets" }],
  ["qubits", "Quantum computers use qubits held in superposition", { topic: "science" }],
  ["bread", "A recipe for sourdough bread needs a lively starter", { topic: "food" }],
  ["stocks", "The stock market fell sharply on Monday morning", { topic: "finance" }],
  ["kittens", "Kittens and cats enjoy sleeping on a warm mat", { topic: "pets" }],
] as const;

async function makeStore() {
  const store = await M3HybridStore.create(new FakeM3Encoder({ dim: 256 }), { colbert: { codec: "float32" } });
  await store.addDocuments(TEXTS.map(([id, text, metadata]) => ({ id, pageContent: text, metadata: { ...metadata } })));
  return store;
}

class Recorder extends BaseCallbackHandler {
  name = "recorder";
  texts: string[] = [];
  ended: Document[][] = [];
  started = 0;
  override async handleText(text: string) {
    this.texts.push(text);
  }
  override async handleRetrieverStart() {
    this.started++;
  }
  override async handleRetrieverEnd(docs: Document[]) {
    this.ended.push(docs);
  }
}

describe("M3HybridRetriever", () => {
  it("invoke returns Documents with id and exactly the stored metadata by default", async () => {
    const store = await makeStore();
    const docs = await new M3HybridRetriever({ store, k: 6 }).invoke("a cat on a warm mat");
    expect(docs).toHaveLength(6);
    for (const d of docs) expect(d.metadata).toStrictEqual(Object.fromEntries([["topic", TEXTS.find(([id]) => id === d.id)![2].topic]]));
    await store.close();
  });

  it("with includeScores: metadata.m3Scores holds the fused and per-mode scores; callbacks are told", async () => {
    const store = await makeStore();
    const retriever = new M3HybridRetriever({ store, k: 3, includeScores: true });
    expect(M3HybridRetriever.lc_name()).toBe("M3HybridRetriever");
    expect(retriever.lc_namespace).toEqual(["langchain_m3", "retrievers"]);
    const rec = new Recorder();
    const docs = await retriever.invoke("a cat on a warm mat", { callbacks: [rec] });
    expect(docs).toHaveLength(3);
    expect(docs[0]).toBeInstanceOf(Document);
    expect(["cats", "kittens"]).toContain(docs[0]!.id);
    const s = docs[0]!.metadata[M3_SCORES_KEY];
    expect(Object.keys(s).sort()).toEqual(["colbert", "dense", "fused", "sparse"]);
    expect(s.fused).toBeCloseTo(0.4 * s.dense + 0.2 * s.sparse + 0.4 * s.colbert, 10);
    expect(docs[0]!.metadata.topic).toBe("pets");
    expect(docs.map((d) => d.metadata[M3_SCORES_KEY].fused)).toEqual([...docs.map((d) => d.metadata[M3_SCORES_KEY].fused)].sort((a, b) => b - a));
    expect(rec.started).toBe(1);
    expect(rec.ended[0]).toHaveLength(3);
    expect(rec.texts.some((t) => t.includes("M3HybridRetriever") && t.includes("pool"))).toBe(true);
    await store.close();
  });

  it("modes, fusion and filters pass through; bad options fail at construction", async () => {
    const store = await makeStore();
    const dense = await new M3HybridRetriever({ store, k: 2, modes: ["dense"], includeScores: true }).invoke("stock market");
    expect(Object.keys(dense[0]!.metadata[M3_SCORES_KEY]).sort()).toEqual(["dense", "fused"]);
    const filtered = await new M3HybridRetriever({ store, k: 10, filter: { topic: "pets" } }).invoke("warm mat");
    expect(filtered.map((d) => d.id).sort()).toEqual(["cats", "dogs", "kittens"]);
    const pred = await new M3HybridRetriever({ store, k: 10, filter: (d) => d.id.startsWith("k"), fusion: "rrf" }).invoke("cats");
    expect(pred.map((d) => d.id)).toEqual(["kittens"]);
    const bads: Array<[Record<string, unknown>, string]> = [
      [{ k: 0 }, "OUT_OF_RANGE"],
      [{ filter: "topic=pets" }, "INVALID_ARGUMENT"],
      [{ modes: [] }, "INVALID_ARGUMENT"],
      [{ includeScores: "yes" }, "INVALID_ARGUMENT"],
      [{ searchType: "hybrid" }, "INVALID_ARGUMENT"],
      [{ searchType: "mmr", lambda: 2 }, "OUT_OF_RANGE"],
      [{ searchType: "mmr", fetchK: 0 }, "OUT_OF_RANGE"],
      [{ searchType: "mmr", mmrSimilarity: "sparse" }, "INVALID_ARGUMENT"],
    ];
    for (const [bad, want] of bads) {
      let code = "no error";
      try {
        new M3HybridRetriever({ store, ...bad } as never);
      } catch (e) {
        code = isM3Error(e) ? e.code : "untyped";
      }
      expect(code, JSON.stringify(bad)).toBe(want);
    }
    let noStore = "no error";
    try {
      new M3HybridRetriever(undefined as never);
    } catch (e) {
      noStore = isM3Error(e) ? e.code : "untyped";
    }
    expect(noStore).toBe("INVALID_ARGUMENT");
    await expect(new M3HybridRetriever({ store }).invoke("")).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await store.close();
  });

  it("searchType mmr re-selects the hybrid candidates for diversity", async () => {
    const store = await makeStore();
    await store.addDocuments([
      { id: "cats-copy", pageContent: "The cat sat on the warm mat near the fireplace", metadata: { topic: "pets" } },
    ]);
    const plain = await new M3HybridRetriever({ store, k: 2 }).invoke("the cat sat on the warm mat");
    expect(plain.map((d) => d.id).sort()).toEqual(["cats", "cats-copy"]);
    for (const mmrSimilarity of ["dense", "colbert"] as const) {
      const mmr = await new M3HybridRetriever({ store, k: 2, searchType: "mmr", fetchK: 7, lambda: 0.5, mmrSimilarity, includeScores: true }).invoke("the cat sat on the warm mat");
      expect(mmr).toHaveLength(2);
      expect(mmr.filter((d) => d.id!.startsWith("cats"))).toHaveLength(1);
      expect(mmr[0]!.metadata[M3_SCORES_KEY].fused).toBeTypeOf("number");
    }
    const filtered = await new M3HybridRetriever({ store, k: 3, searchType: "mmr", filter: { topic: "science" } }).invoke("cat");
    expect(filtered.map((d) => d.id)).toEqual(["qubits"]);
    await store.close();
  });

  it("honours RunnableConfig.signal and timeout (ABORTED), in invoke, batch and a chain", async () => {
    const store = await makeStore();
    const retriever = new M3HybridRetriever({ store, k: 2 });
    const codeOf = (p: Promise<unknown>) => p.then(() => "no error", (e: unknown) => (isM3Error(e) ? e.code : `untyped: ${String(e)}`));
    expect(await codeOf(retriever.invoke("cat", { signal: AbortSignal.abort() }))).toBe("ABORTED");
    expect(await codeOf(new M3HybridRetriever({ store, k: 2, searchType: "mmr" }).invoke("cat", { signal: AbortSignal.abort() }))).toBe("ABORTED");
    const results = await retriever.batch(["cat", "bread"], { signal: AbortSignal.abort() }, { returnExceptions: true });
    expect(results.map((r) => (isM3Error(r) ? r.code : "ok"))).toEqual(["ABORTED", "ABORTED"]);
    const chain = retriever.pipe((docs: Document[]) => docs.map((d) => d.id));
    expect(await chain.invoke("a warm mat", { timeout: 60_000 })).toHaveLength(2);
    const err = await chain.invoke("a warm mat", { signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(await codeOf(retriever.invoke("cat", { signal: "stop" as never }))).toBe("INVALID_ARGUMENT");
    expect(await retriever.invoke("a warm mat", { signal: new AbortController().signal, timeout: 60_000 })).toHaveLength(2);
    expect(await codeOf(retriever.invoke("a warm mat", { signal: AbortSignal.abort(), timeout: 60_000 }))).toBe("ABORTED");
    await store.close();
  });
});
