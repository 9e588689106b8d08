import * as fsp from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Document } from "@langchain/core/documents";
import { index } from "@langchain/core/indexing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isM3Error } from "../src/errors.js";
import { M3_SCORES_KEY } from "../src/langchain/documents.js";
import { M3VectorStore } from "../src/langchain/vectorstore.js";
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
beforeAll(async () => {
  root = await fsp.mkdtemp(join(tmpdir(), "m3-vs-"));
});
afterAll(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});
const codeOf = async (p: Promise<unknown>) => p.then(() => "no error", (e: unknown) => (isM3Error(e) ? e.code : `untyped: ${String(e)}`));

describe("M3VectorStore", () => {
  it("adds documents by id, searches hybrid and dense-only, upserts and deletes", async () => {
    const vs = await M3VectorStore.create(enc);
    expect(vs._vectorstoreType()).toBe("m3-hybrid");
    expect(await vs.addDocuments(docs())).toEqual(["cats", "dogs", "qubits", "bread"]);
    const [[top, score]] = (await vs.similaritySearchWithScore("cat on a mat", 1)) as [[Document, number]];
    expect(top.id).toBe("cats");
    expect(score).toBe(top.metadata[M3_SCORES_KEY].fused);
    const byVector = await vs.similaritySearchVectorWithScore(await enc.embedQuery("quantum qubits"), 2);
    expect(byVector[0]![0].id).toBe("qubits");
    expect(byVector[0]![1]).toBe(byVector[0]![0].metadata[M3_SCORES_KEY].dense);
    expect((await vs.similaritySearch("pets", 4, { topic: "food" })).map((d) => d.id)).toEqual(["bread"]);
    // upsert by id, with options.ids
    await vs.addDocuments([new Document({ pageContent: "Qubits decohere quickly", metadata: { topic: "science" } })], { ids: ["qubits"] });
    expect(await vs.store.count()).toBe(4);
    expect((await vs.store.get("qubits"))!.pageContent).toBe("Qubits decohere quickly");
    await vs.delete({ ids: ["dogs", "never-added"] });
    expect(await vs.store.count()).toBe(3);
    expect(await codeOf(vs.delete({}))).toBe("INVALID_ARGUMENT");
    const retriever = vs.asRetriever({ k: 2 });
    const got = await retriever.invoke("warm mat cat");
    expect(got[0]!.id).toBe("cats");
    expect(got[0]!.metadata[M3_SCORES_KEY]).toBeDefined();
    await vs.store.close();
  });

  it("addVectors checks the dimension and keeps all three parts", async () => {
    const vs = await M3VectorStore.create(enc);
    const d = docs();
    const vectors = await enc.embedDocuments(d.map((x) => x.pageContent));
    expect(await vs.addVectors(vectors, d)).toEqual(["cats", "dogs", "qubits", "bread"]);
    const hits = await vs.similaritySearchWithScore("sourdough bread", 1);
    expect(hits[0]![0].id).toBe("bread");
    expect(Object.keys(hits[0]![0].metadata[M3_SCORES_KEY]).sort()).toEqual(["colbert", "dense", "fused", "sparse"]);
    expect(await codeOf(vs.addVectors([[1, 2, 3]], [d[0]!]))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(vs.addVectors([vectors[0]!, vectors[1]!], [d[0]!]))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(vs.similaritySearchVectorWithScore([0.5, 0.5], 2))).toBe("INVALID_ARGUMENT");
    expect(await vs.store.count()).toBe(4);
    await vs.store.close();
  });

  it("save / load round-trips; another model is refused", async () => {
    const vs = await M3VectorStore.fromDocuments(docs(), enc);
    const dir = join(root, "vs");
    await vs.save(dir);
    const loaded = await M3VectorStore.load(dir, enc);
    const a = await vs.similaritySearchWithScore("cat mat", 4);
    const b = await loaded.similaritySearchWithScore("cat mat", 4);
    expect(b.map(([d, s]) => [d.id, s, d.metadata])).toEqual(a.map(([d, s]) => [d.id, s, d.metadata]));
    expect(await codeOf(M3VectorStore.load(dir, new FakeM3Encoder({ dim: 256, tokenizerSha256: "other" })))).toBe("INDEX_MODEL_MISMATCH");
    await vs.store.close();
    await loaded.store.close();
  });

  it("works with LangChain's indexing API (index() with a record manager)", async () => {
    const vs = await M3VectorStore.create(enc);
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
    await vs.store.close();
  });
});
