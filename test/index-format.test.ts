/**
 * Index format versions: an index saved by manifest format 1 (before the ColBERT sketch; the
 * committed fixture test/fixtures/index-v1) still loads and searches exactly as before, and is
 * saved again as format 2; a version this library does not know is refused with a message that
 * names it and says how to rebuild; a damaged sketch file is refused as corrupt.
 */
import * as fsp from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isM3Error, type M3Error } from "../src/errors.js";
import { HybridIndex } from "../src/index/hybrid-index.js";
import { loadIndex, saveIndex } from "../src/index/persist.js";
import { searchWithStats } from "../src/retrieve/search.js";
import { generateSyntheticCorpus, type SyntheticCorpusData } from "../bench/lib/synthetic.js";
import { bruteSearch } from "./helpers/brute.js";

const FIXTURE = join(import.meta.dirname, "fixtures", "index-v1");
let root: string;
/** The corpus the fixture was written from (test/fixtures/README.md). */
let corpus: SyntheticCorpusData;

beforeAll(async () => {
  root = await fsp.mkdtemp(join(tmpdir(), "m3-format-"));
  corpus = generateSyntheticCorpus({ docs: 24, queries: 4, denseDim: 16, colbertDim: 8, colbertTokens: [2, 5], seed: 41, clusters: 4 });
});
afterAll(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

async function copyFixture(name: string): Promise<string> {
  const dir = join(root, name);
  await fsp.cp(FIXTURE, dir, { recursive: true });
  return dir;
}

async function errorOf(p: Promise<unknown>): Promise<M3Error> {
  try {
    await p;
  } catch (e) {
    if (isM3Error(e)) return e;
    throw e;
  }
  throw new Error("expected an error");
}

describe("manifest format versions", () => {
  it("loads a format-1 index (no sketch): same documents, exact searches, no ColBERT tiers; saves it as format 2", async () => {
    const dir = await copyFixture("v1");
    const live = corpus.docs.filter((d) => d.id !== "doc-3" && d.id !== "doc-7");
    const index = await loadIndex(dir, { fingerprint: corpus.fingerprint });
    expect(index.size).toBe(22);
    expect(index.sketch).toBeUndefined();
    expect(index.capabilities.colbertTiers).toBe(false);
    for (const q of corpus.queries) {
      const { hits, stats } = await searchWithStats(index, q, { k: 5, candidates: 8 });
      expect(stats.reranked).toBe(stats.poolSize);
      const exact = await searchWithStats(index, q, { k: 5, candidates: 100 });
      expect(exact.hits.map((h) => h.id)).toEqual(bruteSearch(live, q, 5).map((h) => h.id));
      expect(hits.length).toBe(5);
    }
    await index.upsert(corpus.docs.slice(3, 4));
    const out = join(root, "v1-resaved");
    await saveIndex(index, out);
    await index.close();
    const manifest = JSON.parse(await fsp.readFile(join(out, "manifest.json"), "utf8")) as { formatVersion: number; options: { sketch?: unknown } };
    expect(manifest.formatVersion).toBe(2);
    expect(manifest.options.sketch).toBeUndefined();
    const again = await loadIndex(out, { fingerprint: corpus.fingerprint });
    expect(again.size).toBe(23);
    const q = corpus.queries[0]!;
    expect((await searchWithStats(again, q, { k: 5, candidates: 100 })).hits.map((h) => h.id)).toEqual(
      bruteSearch([...live, corpus.docs[3]!], q, 5).map((h) => h.id),
    );
    await again.close();
  });

  it("refuses a manifest version it does not know, naming it and how to rebuild", async () => {
    const dir = await copyFixture("v9");
    const path = join(dir, "manifest.json");
    const m = JSON.parse(await fsp.readFile(path, "utf8")) as Record<string, unknown>;
    await fsp.writeFile(path, JSON.stringify({ ...m, formatVersion: 9 }));
    const err = await errorOf(loadIndex(dir));
    expect(err.code).toBe("INDEX_CORRUPT");
    expect(err.message).toContain("format version 9");
    expect(err.message).toContain("reads versions 1 and 2");
    expect(err.message).toMatch(/rebuild/);
  });

  it("saves the sketch (format 2) and refuses a damaged or missing sketch file as corrupt", async () => {
    const full = generateSyntheticCorpus({ docs: 120, queries: 2, denseDim: 16, colbertDim: 32, colbertTokens: [3, 9], seed: 8, clusters: 6 });
    const index = await HybridIndex.create(full.fingerprint, { denseDim: 16, colbertDim: 32, sketchDim: 8, colbert: { codec: "float32" } });
    await index.upsert(full.docs);
    await index.delete(["doc-5", "doc-9"]);
    const dir = join(root, "sketch");
    await saveIndex(index, dir);
    const m = JSON.parse(await fsp.readFile(join(dir, "manifest.json"), "utf8")) as { formatVersion: number; options: { sketch: { dim: number } }; files: { role: string; name: string }[] };
    expect(m.formatVersion).toBe(2);
    expect(m.options.sketch.dim).toBe(8);
    const rows = m.files.find((f) => f.role === "sketch-rows")!.name;
    const loaded = await loadIndex(dir, { fingerprint: full.fingerprint });
    expect(loaded.sketch!.size).toBe(118);
    for (const q of full.queries) {
      const ids = full.docs.map((d) => d.id);
      expect(Array.from(await loaded.prescoreColbert(q, ids))).toEqual(Array.from(await index.prescoreColbert(q, ids)));
    }
    await loaded.close();
    await index.close();

    const bytes = await fsp.readFile(join(dir, rows));
    bytes[bytes.length - 3] ^= 0xff;
    await fsp.writeFile(join(dir, rows), bytes);
    const flipped = await errorOf(loadIndex(dir));
    expect(flipped.code).toBe("INDEX_CORRUPT");
    expect(flipped.message).toContain("CRC-32");
    await fsp.writeFile(join(dir, rows), bytes.subarray(0, 100));
    expect((await errorOf(loadIndex(dir))).code).toBe("INDEX_CORRUPT");
    await fsp.rm(join(dir, rows));
    expect((await errorOf(loadIndex(dir))).code).toBe("INDEX_CORRUPT");
  });
});
