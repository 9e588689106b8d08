import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import { Document } from "@langchain/core/documents";
import { describe, expect, it } from "vitest";
import { isM3Error } from "../src/errors.js";
import { M3_SCORES_KEY } from "../src/langchain/documents.js";
import { M3HybridRetriever } from "../src/langchain/retriever.js";
import { M3HybridStore } from "../src/retrieve/hybrid-store.js";
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
  it("invoke returns Documents with id and metadata.m3Scores, and reports to callbacks", async () => {
    const store = await makeStore();
    const retriever = new M3HybridRetriever({ store, k: 3 });
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
    const dense = await new M3HybridRetriever({ store, k: 2, modes: ["dense"] }).invoke("stock market");
    expect(Object.keys(dense[0]!.metadata[M3_SCORES_KEY]).sort()).toEqual(["dense", "fused"]);
    const filtered = await new M3HybridRetriever({ store, k: 10, filter: { topic: "pets" } }).invoke("warm mat");
    expect(filtered.map((d) => d.id).sort()).toEqual(["cats", "dogs", "kittens"]);
    const pred = await new M3HybridRetriever({ store, k: 10, filter: (d) => d.id.startsWith("k"), fusion: "rrf" }).invoke("cats");
    expect(pred.map((d) => d.id)).toEqual(["kittens"]);
    for (const bad of [{ k: 0 }, { filter: "topic=pets" as never }, { modes: [] }]) {
      let code = "no error";
      try {
        new M3HybridRetriever({ store, ...bad });
      } catch (e) {
        code = isM3Error(e) ? e.code : "untyped";
      }
      expect(code).not.toBe("no error");
    }
    await expect(new M3HybridRetriever({ store }).invoke("")).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await store.close();
  });
});
