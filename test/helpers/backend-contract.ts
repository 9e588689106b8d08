/**
 * The backend contract suite: one set of tests that every `RetrievalBackend` must pass (the
 * embedded index, Postgres over the wire). Each backend's test file calls
 * `describeBackendContract(name, open)`; `open` returns a fresh, empty backend for a corpus's
 * model with ColBERT stored exactly (float32), so fused results can be compared with exhaustive
 * scoring and across backends.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { matchesFilter, parseFilter } from "../../src/backend/filter.js";
import type { BackendEntry, RetrievalBackend, SearchMode } from "../../src/backend/types.js";
import { isM3Error } from "../../src/errors.js";
import { search, searchWithStats } from "../../src/retrieve/search.js";
import type { ModelFingerprint } from "../../src/types.js";
import { generateSyntheticCorpus, type SyntheticCorpusData } from "../../bench/lib/synthetic.js";
import { bruteSearch, type Mode } from "./brute.js";

export interface ContractSpec {
  fingerprint: ModelFingerprint;
  denseDim: number;
  colbertDim: number;
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
      expect(before.docs.map((d) => d.id).sort()).toEqual(["doc-1", "doc-2", "doc-3"]);
      // doc-3 was stored and scored; once deleted, its scores are left out and the others' are unchanged.
      expect((await b.delete(["doc-3"])).deleted).toBe(1);
      const scored = await b.scoreCandidates(corpus.queries[0]!, ["doc-1", "doc-3", "never-stored", "doc-2"], modes);
      expect(scored.docs.map((d) => d.id).sort()).toEqual(["doc-1", "doc-2"]);
      for (const [i, d] of scored.docs.entries()) {
        const s = scored.scores[i]!;
        for (const m of modes) expect(Number.isFinite(s[m]), `${d.id} ${m}`).toBe(true);
        const j = before.docs.findIndex((x) => x.id === d.id);
        expect(s).toEqual(before.scores[j]);
      }
    });
  });
}
