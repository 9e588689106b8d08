/**
 * The backend contract suite: one set of tests that every `RetrievalBackend` must pass (the
 * embedded index, Postgres over the wire). Each backend's test file calls
 * `describeBackendContract(name, open)`; `open` returns a fresh, empty backend for a corpus's
 * model with ColBERT stored exactly (float32), so fused results can be compared with exhaustive
 * scoring and across backends.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { matchesFilter, parseFilter } from "../../src/backend/filter.js";
import type { BackendEntry, CallOptions, RetrievalBackend, SearchMode } from "../../src/backend/types.js";
import { isM3Error } from "../../src/errors.js";
import { search, searchWithStats } from "../../src/retrieve/search.js";
import type { ModelFingerprint } from "../../src/types.js";
import { generateSyntheticCorpus, type SyntheticCorpusData } from "../../bench/lib/synthetic.js";
import { bruteSearch, type Mode } from "./brute.js";

export interface ContractSpec {
  fingerprint: ModelFingerprint;
  denseDim: number;
  colbertDim: number;
  /** Columns of a ColBERT sketch, for a backend that keeps one (below colbertDim in the deep-corpus test). */
  sketchDim?: number;
}

/** Opens an empty backend; `release` (optional) runs after the backend is closed. */
export type OpenBackend = (spec: ContractSpec) => Promise<RetrievalBackend>;

export async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === "function" ? p() : p);
    return "no error";
  } catch (err) {
    return isM3Error(err) ? err.code : `untyped: ${String(err)}`;
  }
}

/** Metadata with every JSON type the filter language meets (kept small so filters hit and miss). */
function metadataFor(i: number): Record<string, unknown> {
  const m: Record<string, unknown> = { cluster: i % 7, parity: i % 2 === 0 ? "even" : "odd", n: i, score: (i % 10) / 4 };
  if (i % 3 === 0) m.lang = ["en", "de", "fr"][i % 9 === 0 ? 0 : i % 9 === 3 ? 1 : 2];
  if (i % 5 === 0) m.flag = i % 10 === 0;
  if (i % 11 === 0) m.nothing = null;
  if (i % 13 === 0) m.tags = ["a", "b"];
  if (i % 17 === 0) m.nested = { x: 1 };
  if (i % 4 === 0) m.mixed = i % 8 === 0 ? "12" : 12;
  return m;
}

export const CONTRACT_FILTERS: unknown[] = [
  { parity: "even" },
  { cluster: 3, parity: "odd" },
  { lang: "de" },
  { lang: { $ne: "de" } },
  { lang: { $in: ["de", "fr"] } },
  { lang: { $nin: ["de", "fr"] } },
  { n: { $gt: 100 } },
  { n: { $gte: 100, $lt: 150 } },
  { score: { $lte: 0.75 } },
  { lang: { $gt: "de" } },
  { mixed: 12 },
  { mixed: "12" },
  { mixed: { $gt: 11 } },
  { mixed: { $gt: "11" } },
  { flag: true },
  { flag: false },
  { flag: { $exists: true } },
  { lang: { $exists: false } },
  { nothing: null },
  { nothing: { $ne: null } },
  { tags: "a" },
  { nested: { $exists: true } },
  { $or: [{ cluster: 1 }, { lang: "en" }] },
  { $and: [{ parity: "even" }, { $or: [{ n: { $lt: 20 } }, { n: { $gt: 280 } }] }] },
  { $not: { parity: "even" } },
  { $not: { lang: { $in: ["en"] } } },
  { cluster: { $in: [] } },
  { cluster: { $nin: [] } },
  { absent: { $exists: false }, cluster: { $in: [0, 6] } },
  { n: { $eq: 7 } },
];

/** `b` seen through a proxy that runs `before(ids)` ahead of each `fetchDocuments` call (every other member is `b`'s). */
function withFetch(b: RetrievalBackend, before: (ids: string[]) => Promise<void>): RetrievalBackend {
  return new Proxy(b, {
    get(target, key) {
      if (key === "fetchDocuments") {
        return async (ids: string[], o?: CallOptions) => {
          await before(ids);
          return target.fetchDocuments(ids, o);
        };
      }
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

export function describeBackendContract(name: string, open: OpenBackend): void {
  describe(`backend contract: ${name}`, () => {
    let corpus: SyntheticCorpusData;
    let entries: BackendEntry[];
    let spec: ContractSpec;
    const opened: RetrievalBackend[] = [];
    const fresh = async () => {
      const b = await open(spec);
      opened.push(b);
      return b;
    };

    beforeAll(() => {
      corpus = generateSyntheticCorpus({ docs: 300, queries: 8, denseDim: 32, colbertDim: 16, colbertTokens: [3, 9], seed: 17, clusters: 12 });
      entries = corpus.docs.map((d, i) => ({ ...d, metadata: metadataFor(i) }));
      spec = { fingerprint: corpus.fingerprint, denseDim: 32, colbertDim: 16 };
    });
    afterEach(async () => {
      for (const b of opened.splice(0)) await b.close().catch(() => undefined);
    });
    afterAll(async () => {
      for (const b of opened.splice(0)) await b.close().catch(() => undefined);
    });

    it("upserts, counts, returns documents exactly as stored, reports unknown ids", async () => {
      const b = await fresh();
      expect(b.denseDim).toBe(32);
      expect(b.colbertDim).toBe(16);
      expect(await b.upsert(entries.slice(0, 50))).toEqual({ added: 50, replaced: 0 });
      expect(await b.count()).toBe(50);
      const got = await b.getDocuments(["doc-3", "nope", "doc-13"]);
      expect(got[0]).toEqual({ id: "doc-3", pageContent: entries[3]!.pageContent, metadata: metadataFor(3) });
      expect(got[1]).toBeUndefined();
      expect(got[2]!.metadata).toEqual(metadataFor(13));
      const withDense = await b.getDocuments(["doc-4"], { dense: true });
      expect(withDense[0]!.dense).toBeInstanceOf(Float32Array);
      expect(withDense[0]!.dense!.length).toBe(32);
      const ids: string[] = [];
      for await (const d of b.documents({ pageSize: 7 })) ids.push(d.id);
      expect(ids.sort()).toEqual(entries.slice(0, 50).map((e) => e.id).sort());
      const info = await b.info();
      expect(info.documents).toBe(50);
      expect(info.kind).toBe(b.kind);
    });

    it("documents() reads pageSize documents at a time, in id order; a bad pageSize is OUT_OF_RANGE", async () => {
      const b = await fresh();
      await b.upsert(entries.slice(0, 7).map((e, i) => ({ ...e, id: `p${i}` })));
      const pages = b.documents({ pageSize: 3 })[Symbol.asyncIterator]();
      const first = await pages.next(); // reads the first page: p0, p1, p2
      expect(first.value?.id).toBe("p0");
      await b.delete(["p2", "p4"]); // p2's page is already read; p4's is not
      const rest: string[] = [];
      for (let r = await pages.next(); r.done !== true; r = await pages.next()) rest.push(r.value.id);
      expect(rest).toEqual(["p1", "p2", "p3", "p5", "p6"]);
      const all: string[] = [];
      for await (const d of b.documents({ pageSize: 1, filter: { parity: "even" } })) all.push(d.id);
      expect(all).toEqual(["p0", "p6"]);
      for (const pageSize of [0, 1.5, 100_001, "7"]) {
        expect(await codeOf(b.documents({ pageSize: pageSize as number })[Symbol.asyncIterator]().next())).toBe("OUT_OF_RANGE");
      }
    });

    it("overwrites by id, keeps the last of repeated ids in one call, deletes (missing ids ignored)", async () => {
      const b = await fresh();
      await b.upsert(entries.slice(0, 20));
      const changed = { ...entries[25]!, id: "doc-5", metadata: { replaced: true } };
      expect(await b.upsert([changed, { ...entries[26]!, id: "new-1" }, { ...entries[27]!, id: "new-1" }])).toEqual({ added: 1, replaced: 1 });
      expect(await b.count()).toBe(21);
      const [d5, n1] = await b.getDocuments(["doc-5", "new-1"]);
      expect(d5).toEqual({ id: "doc-5", pageContent: entries[25]!.pageContent, metadata: { replaced: true } });
      expect(n1!.pageContent).toBe(entries[27]!.pageContent);
      // the replaced document is found by its new content, not the old one
      const q = corpus.docs[25]!.encoding;
      const hits = await search(b, { ...q, tokenCount: 1 }, { k: 1, candidates: 1000, modes: ["dense"] });
      expect(hits[0]!.id).toBe("doc-5");
      expect(await b.delete(["doc-1", "missing", "doc-2", "doc-1"])).toEqual({ deleted: 2, notFound: ["missing", "doc-1"] });
      expect(await b.count()).toBe(19);
      expect((await b.getDocuments(["doc-1"]))[0]).toBeUndefined();
      expect(await b.delete([])).toEqual({ deleted: 0, notFound: [] });
    });

    it("evaluates every filter as the reference meaning does (count, candidates, deleteWhere)", async () => {
      const b = await fresh();
      await b.upsert(entries);
      const docs = entries.map((e) => ({ id: e.id, pageContent: e.pageContent, metadata: e.metadata! }));
      for (const raw of CONTRACT_FILTERS) {
        const f = parseFilter(raw)!;
        const want = docs.filter((d) => matchesFilter(f, d)).map((d) => d.id).sort();
        expect({ filter: raw, count: await b.count(f) }).toEqual({ filter: raw, count: want.length });
        const pool = await b.candidates(corpus.queries[0]!, { depth: { dense: 1000, sparse: 1000 }, filter: f });
        expect({ filter: raw, ids: [...pool.ids].sort() }).toEqual({ filter: raw, ids: want });
        expect(pool.exhaustive).toBe(true);
      }
      const parityEven = entries.filter((_, i) => i % 2 === 0).length;
      expect(await b.deleteWhere(parseFilter({ parity: "even" })!)).toBe(parityEven);
      expect(await b.count()).toBe(entries.length - parityEven);
      expect(await b.count(parseFilter({ parity: "even" }))).toBe(0);
      await b.clear();
      expect(await b.count()).toBe(0);
    });

    it("fused top-10 equals exhaustive scoring when the pool covers the corpus, in every mode set", async () => {
      const b = await fresh();
      await b.upsert(entries);
      const sets: Mode[][] = [["dense", "sparse", "colbert"], ["dense"], ["sparse"], ["colbert"], ["dense", "sparse"]];
      for (const modes of sets) {
        for (const q of corpus.queries) {
          const got = await search(b, q, { k: 10, candidates: 1000, modes });
          const want = bruteSearch(corpus.docs, q, 10, { modes });
          expect(got.map((h) => h.id)).toEqual(want.map((h) => h.id));
          got.forEach((h, i) => expect(h.score).toBeCloseTo(want[i]!.score, 5));
        }
      }
    });

    it("filtered search returns only matching documents, equal to exhaustive scoring over them", async () => {
      const b = await fresh();
      await b.upsert(entries);
      for (const raw of [{ parity: "odd" }, { lang: { $in: ["en", "fr"] } }, { $or: [{ cluster: 2 }, { n: { $gte: 250 } }] }]) {
        const f = parseFilter(raw)!;
        for (const q of corpus.queries.slice(0, 4)) {
          const { hits, stats } = await searchWithStats(b, q, { k: 10, candidates: 1000, filter: raw as never });
          const want = bruteSearch(corpus.docs.map((d, i) => ({ ...d, metadata: metadataFor(i) })), q, 10, {
            accept: (d) => matchesFilter(f, { id: d.id, pageContent: "", metadata: d.metadata! }),
          });
          expect(hits.map((h) => h.id)).toEqual(want.map((h) => h.id));
          expect(stats.strategy).toBe("exhaustive");
          for (const h of hits) expect(matchesFilter(f, h.document)).toBe(true);
        }
      }
    });

    it("default candidate search finds the exhaustive top-10 on this small corpus", async () => {
      const b = await fresh();
      await b.upsert(entries);
      let found = 0;
      for (const q of corpus.queries) {
        const got = new Set((await search(b, q, { k: 10, candidates: 60 })).map((h) => h.id));
        for (const h of bruteSearch(corpus.docs, q, 10)) if (got.has(h.id)) found++;
      }
      expect(found / (10 * corpus.queries.length)).toBeGreaterThanOrEqual(0.95);
    });

    it("at non-exhaustive depths (a pool well below the corpus; the two tiers and a narrower sketch where the backend has them) every hit is exactly scored and the exhaustive top-10 is found", async () => {
      const deep = generateSyntheticCorpus({ docs: 600, queries: 8, denseDim: 32, colbertDim: 64, colbertTokens: [3, 9], seed: 29, clusters: 20 });
      const b = await open({ fingerprint: deep.fingerprint, denseDim: 32, colbertDim: 64, sketchDim: 16 });
      opened.push(b);
      await b.upsert(deep.docs);
      const tiers = b.capabilities.approximateColbert === true;
      let found = 0;
      let partlyReranked = 0;
      for (const q of deep.queries) {
        const { hits, stats } = await searchWithStats(b, q, { k: 10, candidates: 40, colbertCandidates: 40, rerank: 12 });
        expect(stats.strategy).toBe("candidates");
        expect(stats.poolSize).toBeLessThan(deep.docs.length / 4);
        expect(hits).toHaveLength(10);
        // Exact scores for every hit, whichever tier put it there, in descending order.
        const exact = new Map(bruteSearch(deep.docs, q, deep.docs.length).map((h) => [h.id, h.score]));
        for (const h of hits) expect(h.score, h.id).toBeCloseTo(exact.get(h.id)!, 5);
        for (let i = 1; i < hits.length; i++) expect(hits[i - 1]!.score).toBeGreaterThanOrEqual(hits[i]!.score);
        if (tiers) {
          expect(stats.reranked).toBeGreaterThanOrEqual(10);
          if (stats.reranked < stats.poolSize) partlyReranked++;
        } else {
          expect(stats.reranked).toBe(stats.poolSize);
        }
        const got = new Set(hits.map((h) => h.id));
        for (const h of bruteSearch(deep.docs, q, 10)) if (got.has(h.id)) found++;
      }
      if (tiers) expect(partlyReranked).toBeGreaterThan(0); // the exact tier scored only part of the pool
      expect(found / (10 * deep.queries.length)).toBeGreaterThanOrEqual(0.9);
    });

    it("scoring returns ids and scores only; the documents of the final k come from one fetchDocuments call, each the one stored under its id", async () => {
      const b = await fresh();
      await b.upsert(entries);
      const stored = (id: string) => {
        const i = entries.findIndex((e) => e.id === id);
        return { id, pageContent: entries[i]!.pageContent, metadata: metadataFor(i) };
      };
      const modes = new Set<SearchMode>(["dense", "sparse", "colbert"]);
      const scored = await b.scoreCandidates(corpus.queries[1]!, ["doc-9", "doc-4", "never-stored", "doc-9", "doc-40"], modes);
      expect(Object.keys(scored).sort()).toEqual(["ids", "scores", "stats"]);
      expect(scored.ids).toEqual(["doc-9", "doc-4", "doc-40"]);
      for (const s of scored.scores) expect(Object.keys(s).sort()).toEqual(["colbert", "dense", "sparse"]);
      const fetched = await b.fetchDocuments(["doc-7", "nope", "doc-2", "doc-7"]);
      expect(fetched.docs).toEqual([stored("doc-7"), undefined, stored("doc-2"), stored("doc-7")]);
      fetched.docs[0]!.metadata.n = -1; // a copy: the stored document is unchanged
      expect((await b.fetchDocuments(["doc-7"])).docs[0]).toEqual(stored("doc-7"));
      expect(await b.fetchDocuments([])).toMatchObject({ docs: [] });
      expect(await codeOf(b.fetchDocuments([7 as never]))).toBe("INVALID_ARGUMENT");
      // one search: every scored candidate is a number, and only the final k are fetched, in rank order, in one call
      const calls: string[][] = [];
      const spy = withFetch(b, async (ids) => {
        calls.push([...ids]);
      });
      for (const q of corpus.queries.slice(0, 3)) {
        calls.length = 0;
        const { hits, stats } = await searchWithStats(spy, q, { k: 5, candidates: 40 });
        expect(stats.poolSize).toBeGreaterThan(5);
        expect(calls).toEqual([hits.map((h) => h.id)]);
        expect(hits).toHaveLength(5);
        for (const h of hits) expect(h.document).toEqual(stored(h.id));
      }
    });

    it("a final-k document deleted after scoring is passed over for the next best, and every hit is as stored", async () => {
      const b = await fresh();
      await b.upsert(entries);
      const q = corpus.queries[2]!;
      const want = bruteSearch(corpus.docs, q, 11).map((h) => h.id);
      let first = true;
      // The delete lands between the scoring and the fetch of the final documents (driven by the fetch itself, no timing).
      const racing = withFetch(b, async (ids) => {
        if (!first) return;
        first = false;
        expect(ids[0]).toBe(want[0]);
        await b.delete([want[0]!]);
      });
      const hits = await search(racing, q, { k: 10, candidates: 1000 });
      expect(hits.map((h) => h.id)).toEqual(want.slice(1));
      for (const h of hits) expect(h.document.pageContent).toBe(entries.find((e) => e.id === h.id)!.pageContent);
    });

    it("bad input: typed errors, and nothing already stored is lost", async () => {
      const b = await fresh();
      await b.upsert(entries.slice(0, 10));
      const wrongDim = { ...entries[20]!, encoding: { ...entries[20]!.encoding, dense: new Float32Array(5) } };
      expect(await codeOf(b.upsert([entries[21]!, wrongDim]))).toBe("INVALID_ARGUMENT");
      expect(await codeOf(b.upsert([{ ...entries[22]!, id: "" }]))).toBe("INVALID_ARGUMENT");
      expect(await codeOf(b.upsert([{ ...entries[22]!, metadata: [1] as never }]))).toBe("INVALID_ARGUMENT");
      expect(await codeOf(b.upsert("x" as never))).toBe("INVALID_ARGUMENT");
      expect(await codeOf(b.delete("doc-1" as never))).toBe("INVALID_ARGUMENT");
      expect(await codeOf(b.delete([3 as never]))).toBe("INVALID_ARGUMENT");
      expect(await codeOf(b.getDocuments([null as never]))).toBe("INVALID_ARGUMENT");
      expect(await codeOf(b.deleteWhere({ n: { $regex: "x" } } as never))).toBe("INVALID_ARGUMENT");
      expect(await codeOf(b.candidates(corpus.queries[0]!, { depth: { dense: 5 }, filter: { a: { $bad: 1 } } as never }))).toBe("INVALID_ARGUMENT");
      expect(await codeOf(b.scoreCandidates({ tokenCount: 1 }, ["doc-1"], new Set(["dense"])))).toBe("INVALID_ARGUMENT");
      expect(await codeOf(b.scoreCandidates({ ...corpus.queries[0]!, dense: new Float32Array(3) }, ["doc-1"], new Set(["dense"])))).toBe("INVALID_ARGUMENT");
      if (!b.capabilities.predicateFilters) {
        expect(await codeOf(search(b, corpus.queries[0]!, { filter: () => true }))).toBe("INVALID_ARGUMENT");
      }
      const aborted = AbortSignal.abort();
      expect(await codeOf(b.upsert([entries[23]!], { signal: aborted }))).toBe("ABORTED");
      expect(await codeOf(b.delete(["doc-1"], { signal: aborted }))).toBe("ABORTED");
      expect(await b.count()).toBe(10);
      const all = await b.getDocuments(entries.slice(0, 10).map((e) => e.id));
      all.forEach((d, i) => expect(d).toEqual({ id: entries[i]!.id, pageContent: entries[i]!.pageContent, metadata: metadataFor(i) }));
      await b.close();
      expect(await codeOf(b.count())).toBe("DISPOSED");
      expect(await codeOf(b.upsert([entries[30]!]))).toBe("DISPOSED");
    });

    it("concurrent writes of distinct ids all land; scores of deleted ids are left out", async () => {
      const b = await fresh();
      await Promise.all([0, 1, 2, 3, 4].map((k) => b.upsert(entries.slice(k * 20, k * 20 + 20))));
      expect(await b.count()).toBe(100);
      const modes = new Set<SearchMode>(["dense", "sparse", "colbert"]);
      const before = await b.scoreCandidates(corpus.queries[0]!, ["doc-1", "doc-3", "doc-2"], modes);
      expect([...before.ids].sort()).toEqual(["doc-1", "doc-2", "doc-3"]);
      // doc-3 was stored and scored; once deleted, its scores are left out and the others' are unchanged.
      expect((await b.delete(["doc-3"])).deleted).toBe(1);
      const scored = await b.scoreCandidates(corpus.queries[0]!, ["doc-1", "doc-3", "never-stored", "doc-2"], modes);
      expect([...scored.ids].sort()).toEqual(["doc-1", "doc-2"]);
      for (const [i, id] of scored.ids.entries()) {
        const s = scored.scores[i]!;
        for (const m of modes) expect(Number.isFinite(s[m]), `${id} ${m}`).toBe(true);
        const j = before.ids.indexOf(id);
        expect(s).toEqual(before.scores[j]);
      }
    });
  });
}
