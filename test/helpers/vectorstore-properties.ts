/**
 * The LangChain vector-store properties, as one suite every backend runs through `M3VectorStore`
 * (the embedded index in test/langchain-properties.test.ts; a server backend in its own file):
 * ids returned and honoured, idempotent upsert, overwrite by id, delete (ids incl. missing ones,
 * filter, deleteAll), inputs never mutated, exactly the stored metadata on every read path,
 * scores descending, MMR returning k distinct documents (and diverse ones), filters.
 *
 * `open()` returns an EMPTY `M3VectorStore` whose embeddings are the test suite's
 * `FakeM3Encoder` (or another M3 encoder); the suite closes every store it opens. Filters are
 * object filters only, so backends without predicate filters run the same suite.
 */
import { Document } from "@langchain/core/documents";
import { afterEach, describe, expect, it } from "vitest";
import { isM3Error } from "../../src/errors.js";
import type { M3VectorStore } from "../../src/langchain/vectorstore.js";

export type OpenVectorStore = () => Promise<M3VectorStore>;

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === "function" ? p() : p);
    return "no error";
  } catch (err) {
    return isM3Error(err) ? err.code : `untyped: ${String(err)}`;
  }
}

/** The corpus: distinct topics, metadata of every JSON type, and three copies of one text. */
const CORPUS: Array<{ id: string; text: string; metadata: Record<string, unknown> }> = [
  { id: "cats", text: "The cat sat on the warm mat near the fireplace", metadata: { topic: "pets", n: 1, tags: ["a", "b"] } },
  { id: "dogs", text: "Dogs are loyal companions and love long walks in the park", metadata: { topic: "pets", n: 2, nested: { deep: { x: 1 } } } },
  { id: "qubits", text: "Quantum computers use qubits held in superposition", metadata: { topic: "science", n: 3, flag: true } },
  { id: "bread", text: "A recipe for sourdough bread needs a lively starter", metadata: { topic: "food", n: 4, nothing: null } },
  { id: "stocks", text: "The stock market fell sharply on Monday morning", metadata: { topic: "finance", n: 5, ratio: 0.25 } },
  { id: "kittens", text: "Kittens and cats enjoy sleeping on a warm mat", metadata: { topic: "pets", n: 6, flag: false } },
  { id: "dup-1", text: "Volcanoes erupt when magma rises through the crust", metadata: { topic: "geology", n: 7, copy: 1 } },
  { id: "dup-2", text: "Volcanoes erupt when magma rises through the crust", metadata: { topic: "geology", n: 8, copy: 2 } },
  { id: "dup-3", text: "Volcanoes erupt when magma rises through the crust", metadata: { topic: "geology", n: 9, copy: 3 } },
  { id: "glacier", text: "Glaciers carve valleys as the ice slowly moves downhill", metadata: { topic: "geology", n: 10, empty: {} } },
];
const BY_ID = new Map(CORPUS.map((c) => [c.id, c]));
const QUERIES = ["a cat on a warm mat", "quantum qubits", "why do volcanoes erupt", "bread recipe starter", "market"];

const docs = (): Document[] => CORPUS.map((c) => new Document({ id: c.id, pageContent: c.text, metadata: structuredClone(c.metadata) }));

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === "object" && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/** Every result is one of the corpus' documents with exactly its metadata (no key added or lost). */
function expectExact(results: Document[], corpus: Map<string, { text: string; metadata: Record<string, unknown> }> = BY_ID): void {
  for (const d of results) {
    expect(typeof d.id).toBe("string");
    const c = corpus.get(d.id!);
    expect(c, `result id ${d.id}`).toBeDefined();
    expect(d.pageContent).toBe(c!.text);
    expect(d.metadata).toStrictEqual(c!.metadata);
  }
}

function expectDescending(scores: number[]): void {
  for (const s of scores) expect(Number.isFinite(s)).toBe(true);
  for (let i = 1; i < scores.length; i++) expect(scores[i]!).toBeLessThanOrEqual(scores[i - 1]!);
}

export function describeVectorStoreProperties(name: string, open: OpenVectorStore): void {
  describe(`LangChain vector-store properties: ${name}`, () => {
    const opened: M3VectorStore[] = [];
    const fresh = async (): Promise<M3VectorStore> => {
      const vs = await open();
      opened.push(vs);
      return vs;
    };
    const filled = async (): Promise<M3VectorStore> => {
      const vs = await fresh();
      await vs.addDocuments(docs());
      return vs;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((vs) => vs.close()));
    });

    it("an empty store finds nothing on every read path", async () => {
      const vs = await fresh();
      expect(await vs.similaritySearch("anything", 4)).toEqual([]);
      expect(await vs.similaritySearchWithScore("anything", 4)).toEqual([]);
      expect(await vs.similaritySearchVectorWithScore(await vs.embeddings.embedQuery("anything"), 4)).toEqual([]);
      expect(await vs.maxMarginalRelevanceSearch("anything", { k: 4 })).toEqual([]);
      expect(await vs.asRetriever(4).invoke("anything")).toEqual([]);
    });

    it("addDocuments returns one id per document: generated when absent, else doc.id, else options.ids first", async () => {
      const vs = await fresh();
      const plain = CORPUS.slice(0, 3).map((c) => new Document({ pageContent: c.text, metadata: { ...c.metadata } }));
      const generated = await vs.addDocuments(plain);
      expect(generated).toHaveLength(3);
      expect(new Set(generated).size).toBe(3);
      for (const [i, id] of generated.entries()) {
        expect(typeof id === "string" && id.length > 0).toBe(true);
        expect((await vs.store.get(id))?.pageContent).toBe(plain[i]!.pageContent);
      }
      const withIds = docs().slice(3, 6);
      expect(await vs.addDocuments(withIds)).toEqual(["bread", "stocks", "kittens"]);
      const overridden = docs().slice(6, 8);
      expect(await vs.addDocuments(overridden, { ids: ["v-a", "v-b"] })).toEqual(["v-a", "v-b"]);
      expect(await vs.store.get("dup-1")).toBeUndefined();
      expect((await vs.store.get("v-b"))?.metadata).toStrictEqual(CORPUS[7]!.metadata);
      expect(await vs.store.count()).toBe(8);
      // the ids come back on search results
      const found = await vs.similaritySearch("sourdough bread starter", 8);
      expect(found.map((d) => d.id).sort()).toEqual([...generated, "bread", "stocks", "kittens", "v-a", "v-b"].sort());
    });

    it("adding the same documents with the same ids again changes nothing (idempotent upsert)", async () => {
      const vs = await filled();
      const before = await Promise.all(QUERIES.map((q) => vs.similaritySearchWithScore(q, 10)));
      expect(await vs.addDocuments(docs())).toEqual(CORPUS.map((c) => c.id));
      expect(await vs.store.count()).toBe(CORPUS.length);
      const after = await Promise.all(QUERIES.map((q) => vs.similaritySearchWithScore(q, 10)));
      expect(after.map((r) => r.map(([d, s]) => [d.id, d.pageContent, d.metadata, s]))).toEqual(before.map((r) => r.map(([d, s]) => [d.id, d.pageContent, d.metadata, s])));
    });

    it("a document added under an existing id replaces the old one everywhere", async () => {
      const vs = await filled();
      await vs.addDocuments([new Document({ id: "qubits", pageContent: "Sourdough bread rises slowly overnight", metadata: { topic: "food", replaced: true } })]);
      expect(await vs.store.count()).toBe(CORPUS.length);
      expect(await vs.store.get("qubits")).toEqual({ id: "qubits", pageContent: "Sourdough bread rises slowly overnight", metadata: { topic: "food", replaced: true } });
      const hits = await vs.similaritySearch("quantum qubits superposition", CORPUS.length);
      expect(hits.filter((d) => d.pageContent.includes("qubits"))).toEqual([]);
      expect(hits.find((d) => d.id === "qubits")?.metadata).toStrictEqual({ topic: "food", replaced: true });
      expect(await vs.similaritySearch("quantum", 10, { topic: "science" })).toEqual([]);
      // the same through addVectors
      const v = await vs.embeddings.embedQuery("Glaciers melt in summer");
      await vs.addVectors([v], [new Document({ pageContent: "Glaciers melt in summer", metadata: { topic: "geology" } })], { ids: ["glacier"] });
      expect((await vs.store.get("glacier"))?.pageContent).toBe("Glaciers melt in summer");
      expect(await vs.store.count()).toBe(CORPUS.length);
    });

    it("delete: { ids } (missing ids ignored), { filter }, { deleteAll: true }; anything else is INVALID_ARGUMENT", async () => {
      const vs = await filled();
      await vs.delete({ ids: ["cats", "never-added", "dogs"] });
      await vs.delete({ ids: [] });
      await vs.delete({ ids: ["never-added"] });
      expect(await vs.store.count()).toBe(CORPUS.length - 2);
      expect(await vs.store.get("cats")).toBeUndefined();
      const rest = await vs.similaritySearch("a cat on a warm mat", CORPUS.length);
      expect(rest.map((d) => d.id)).not.toContain("cats");
      expect(rest.map((d) => d.id)).not.toContain("dogs");
      expect(rest).toHaveLength(CORPUS.length - 2);

      await vs.delete({ filter: { topic: "geology" } });
      expect(await vs.store.count()).toBe(CORPUS.length - 6);
      expect(await vs.store.count({ topic: "geology" })).toBe(0);
      expect(await vs.store.count({ topic: "pets" })).toBe(1);

      for (const bad of [undefined, null, {}, { ids: "cats" }, { ids: ["cats"], filter: { topic: "pets" } }, { deleteAll: false }, { deleteAll: "yes" }, { where: { topic: "pets" } }, { filter: {} }, { ids: [7] }]) {
        expect(await codeOf(vs.delete(bad as never)), JSON.stringify(bad)).toBe("INVALID_ARGUMENT");
      }
      expect(await vs.store.count()).toBe(CORPUS.length - 6);

      await vs.delete({ deleteAll: true });
      expect(await vs.store.count()).toBe(0);
      expect(await vs.similaritySearch("anything", 4)).toEqual([]);
      await vs.addDocuments(docs().slice(0, 2));
      expect(await vs.store.count()).toBe(2);
    });

    it("never mutates its inputs, and changing a result does not change the store", async () => {
      const vs = await fresh();
      const input = docs().map((d) => deepFreeze(d));
      const snapshot = structuredClone(input.map((d) => ({ id: d.id, pageContent: d.pageContent, metadata: d.metadata })));
      const ids = deepFreeze(CORPUS.map((c) => `x-${c.id}`));
      const options = deepFreeze({ ids });
      await vs.addDocuments(input, options);
      await vs.addDocuments(input.slice(0, 2));
      const vectors = deepFreeze(await vs.embeddings.embedDocuments(input.slice(0, 2).map((d) => d.pageContent)));
      await vs.addVectors(vectors as number[][], input.slice(0, 2), deepFreeze({ ids: ["v1", "v2"] }));
      expect(input.map((d) => ({ id: d.id, pageContent: d.pageContent, metadata: d.metadata }))).toEqual(snapshot);
      expect(ids).toEqual(CORPUS.map((c) => `x-${c.id}`));
      const filter = deepFreeze({ topic: { $in: ["pets", "science"] } });
      const q = deepFreeze(await vs.embeddings.embedQuery("cats"));
      await vs.similaritySearch("cats", 4, filter);
      await vs.similaritySearchVectorWithScore(q as number[], 4, filter);
      await vs.maxMarginalRelevanceSearch("cats", deepFreeze({ k: 3, fetchK: 6, filter }));
      await vs.delete(deepFreeze({ ids: ["v1"] }));

      // Change every level of a result's metadata — a top-level key, an array (the cats document's
      // tags), a nested object (the dogs document's nested.deep) — then read it again.
      const source: Record<string, string> = { v2: "dogs", ...Object.fromEntries(CORPUS.flatMap((c) => [[c.id, c.id], [`x-${c.id}`, c.id]])) };
      const [cat] = await vs.similaritySearch("warm mat", 1, { topic: "pets", n: 1 });
      const catTags = cat!.metadata["tags"] as unknown[];
      expect(catTags).toEqual(["a", "b"]); // the array this changes is there
      cat!.metadata["topic"] = "changed";
      catTags.push("z");
      const [dog] = await vs.similaritySearch("loyal dogs", 1, { n: 2 });
      const deep = (dog!.metadata["nested"] as { deep: { x: number } }).deep;
      expect(deep).toEqual({ x: 1 }); // the nested object this changes is there
      deep.x = 99;
      for (const [query, filter, before] of [["warm mat", { topic: "pets", n: 1 }, cat!], ["loyal dogs", { n: 2 }, dog!]] as const) {
        const again = await vs.similaritySearch(query, 1, filter);
        expect(again[0]!.id).toBe(before.id);
        expect(again[0]!.metadata).toStrictEqual(BY_ID.get(source[before.id!]!)!.metadata);
      }
    });

    it("every read path returns exactly the stored metadata (no scores or other keys added)", async () => {
      const vs = await filled();
      for (const q of QUERIES) {
        expectExact(await vs.similaritySearch(q, 5));
        expectExact((await vs.similaritySearchWithScore(q, 5)).map(([d]) => d));
        expectExact((await vs.similaritySearchVectorWithScore(await vs.embeddings.embedQuery(q), 5)).map(([d]) => d));
        expectExact(await vs.maxMarginalRelevanceSearch(q, { k: 4, fetchK: 10 }));
        expectExact(await vs.maxMarginalRelevanceSearch(q, { k: 4, fetchK: 10, mmrSimilarity: "colbert" }));
        expectExact(await vs.asRetriever({ k: 3 }).invoke(q));
        expectExact(await vs.asRetriever({ k: 3, searchType: "mmr", searchKwargs: { fetchK: 8, lambda: 0.3 } }).invoke(q));
      }
      // a stored key that looks like a score key is returned as stored
      await vs.addDocuments([new Document({ id: "odd", pageContent: "metadata with a scores key", metadata: { m3Scores: "mine" } })]);
      const odd = (await vs.similaritySearch("metadata with a scores key", 1))[0]!;
      expect(odd.metadata).toStrictEqual({ m3Scores: "mine" });
    });

    it("scores come back sorted from best to worst", async () => {
      const vs = await filled();
      for (const q of QUERIES) {
        const hybrid = await vs.similaritySearchWithScore(q, CORPUS.length);
        expect(hybrid).toHaveLength(CORPUS.length);
        expectDescending(hybrid.map(([, s]) => s));
        const dense = await vs.similaritySearchVectorWithScore(await vs.embeddings.embedQuery(q), CORPUS.length);
        expect(dense).toHaveLength(CORPUS.length);
        expectDescending(dense.map(([, s]) => s));
        expect((await vs.similaritySearch(q, 3)).map((d) => d.id)).toEqual(hybrid.slice(0, 3).map(([d]) => d.id));
      }
    });

    it("MMR returns k distinct stored documents, and drops near-duplicates that similarity keeps", async () => {
      const vs = await filled();
      for (const mmrSimilarity of ["dense", "colbert"] as const) {
        for (const k of [1, 2, 4, CORPUS.length, CORPUS.length + 3]) {
          for (const fetchK of [1, 5, 20]) {
            const got = await vs.maxMarginalRelevanceSearch("why do volcanoes erupt", { k, fetchK, lambda: 0.5, mmrSimilarity });
            expect(got).toHaveLength(Math.min(k, CORPUS.length));
            expect(new Set(got.map((d) => d.id)).size).toBe(got.length);
            expectExact(got);
          }
        }
        // (a query different from the copies: were it identical, relevance and redundancy would cancel)
        const similar = await vs.similaritySearch("volcanoes erupt when magma rises", 3);
        expect(similar.map((d) => d.id).sort()).toEqual(["dup-1", "dup-2", "dup-3"]);
        const diverse = await vs.maxMarginalRelevanceSearch("volcanoes erupt when magma rises", { k: 3, fetchK: 10, lambda: 0.5, mmrSimilarity });
        expect(diverse.filter((d) => d.id!.startsWith("dup-"))).toHaveLength(1);
        expect(diverse[0]!.id!.startsWith("dup-")).toBe(true);
      }
      // lambda = 1 is relevance only: the dense ranking of every candidate
      const q = "a cat on a warm mat";
      const byRelevance = await vs.maxMarginalRelevanceSearch(q, { k: 5, fetchK: CORPUS.length, lambda: 1 });
      const dense = await vs.similaritySearchVectorWithScore(await vs.embeddings.embedQuery(q), 5);
      expect(byRelevance.map((d) => d.id)).toEqual(dense.map(([d]) => d.id));
      // through the retriever LangChain builds
      const viaRetriever = await vs.asRetriever({ k: 3, searchType: "mmr", searchKwargs: { fetchK: 10, lambda: 0.5 } }).invoke("volcanoes erupt when magma rises");
      expect(viaRetriever).toHaveLength(3);
      expect(viaRetriever.filter((d) => d.id!.startsWith("dup-"))).toHaveLength(1);
    });

    it("filters restrict every read path to the matching documents", async () => {
      const vs = await filled();
      const cases: Array<[Record<string, unknown>, string[]]> = [
        [{ topic: "pets" }, ["cats", "dogs", "kittens"]],
        [{ topic: { $in: ["food", "finance"] } }, ["bread", "stocks"]],
        [{ n: { $gte: 7 }, topic: "geology" }, ["dup-1", "dup-2", "dup-3", "glacier"]],
        [{ flag: { $exists: true } }, ["kittens", "qubits"]],
        [{ topic: "nowhere" }, []],
      ];
      for (const [filter, ids] of cases) {
        const all = CORPUS.length;
        expect((await vs.similaritySearch("warm mat", all, filter)).map((d) => d.id).sort(), JSON.stringify(filter)).toEqual(ids);
        expect((await vs.similaritySearchVectorWithScore(await vs.embeddings.embedQuery("warm mat"), all, filter)).map(([d]) => d.id).sort()).toEqual(ids);
        expect((await vs.maxMarginalRelevanceSearch("warm mat", { k: all, fetchK: all, filter })).map((d) => d.id).sort()).toEqual(ids);
        expect((await vs.asRetriever(all, filter).invoke("warm mat")).map((d) => d.id).sort()).toEqual(ids);
        expect(await vs.store.count(filter)).toBe(ids.length);
      }
    });
  });
}
