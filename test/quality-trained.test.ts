/**
 * The committed trained model (data/manpages/model: a small model trained by scripts/train on
 * Debian man pages, not BGE-M3) on its held-out pages (data/manpages/eval.json.gz, pages never
 * seen in training): each mode retrieves the query's page well above chance, the fused ranking
 * (All) beats the two embedding modes (not Sparse: see below), and the default search plan keeps the
 * recall bar against exhaustive fused scoring — fresh, after deleting a third and replacing a
 * tenth, after save + load. One query in three (every language kept) to stay in CI time; the
 * full numbers are bench/quality.ts's.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { M3Encoder } from "../src/encode/index.js";
import { loadIndex, type HybridIndex } from "../src/index/index.js";
import type { M3Encoding } from "../src/types.js";
import { buildIndex, encodeAll, evaluate, loadEvalSet, MODE_CONFIGS, rank, recallVs, type EvalSet } from "../bench/lib/quality-eval.js";

const ROOT = path.resolve(import.meta.dirname, "..");
const MODEL = path.join(ROOT, "data/manpages/model");
/** recall@10 floors of the target page per mode (measured values in the README's quality table). */
const FLOORS: Record<string, number> = { Dense: 0.5, Sparse: 0.8, "Multi-vec": 0.55, "Dense+Sparse": 0.8, All: 0.75 };
const ALL = MODE_CONFIGS["All"]!;

let set: EvalSet;
let docs: M3Encoding[];
let queries: M3Encoding[];
let index: HybridIndex;
const recall10: Record<string, number> = {};

beforeAll(async () => {
  const full = loadEvalSet(path.join(ROOT, "data/manpages/eval.json.gz"));
  set = { ...full, queries: full.queries.filter((_, i) => i % 3 === 0) };
  const enc = await M3Encoder.load({ modelPath: MODEL });
  try {
    docs = await encodeAll(enc, set.corpus.map((d) => d.text));
    queries = await encodeAll(enc, set.queries.map((q) => q.text));
    index = await buildIndex(await enc.fingerprint(), set, docs);
  } finally {
    await enc.dispose();
  }
}, 180_000);
afterAll(async () => {
  await index?.close();
});

describe("the committed trained model on held-out man pages", () => {
  it.each(Object.keys(MODE_CONFIGS))("%s: recall@10 of the target page above its floor (default plan)", async (name) => {
    const m = await evaluate(set, index, queries, MODE_CONFIGS[name]!, false);
    recall10[name] = m["recall@10"];
    expect(m["recall@10"]).toBeGreaterThanOrEqual(FLOORS[name]!);
  }, 120_000);

  // On this small model the lexical mode is the strongest (0.88 against All's 0.83 on every
  // query, README): the fused ranking beats the two embedding modes, not Sparse. The issue's
  // "All >= best single mode" is not met here; the README says so.
  it("All beats Dense and Multi-vec (the modes the fused score leans on, 0.4 + 0.4 of the weight)", () => {
    expect(Object.keys(recall10)).toHaveLength(5);
    expect(recall10["All"]!).toBeGreaterThan(Math.max(recall10["Dense"]!, recall10["Multi-vec"]!));
  });

  it("the default plan keeps recall@10 >= 0.99 against exhaustive fused scoring: fresh, after deletes/replacements, after save + load", async () => {
    const some = queries.filter((_, i) => i % 2 === 0); // one query in six of the whole set
    const bar = async (ix: HybridIndex) => recallVs(await rank(ix, some, ALL, 10, false), await rank(ix, some, ALL, 10, true));
    expect(await bar(index)).toBeGreaterThanOrEqual(0.99);
    await index.delete(set.corpus.filter((_, i) => i % 3 === 0).map((d) => d.id));
    const replace = set.corpus.map((d, i) => ({ d, i })).filter(({ i }) => i % 3 !== 0).filter((_, j) => j % 10 === 0);
    await index.upsert(replace.map(({ d, i }) => ({ id: d.id, pageContent: d.text, metadata: { page: d.page, lang: d.lang }, encoding: docs[i]! })));
    expect(await index.count()).toBe(set.corpus.length - Math.ceil(set.corpus.length / 3));
    expect(await bar(index)).toBeGreaterThanOrEqual(0.99);
    const dir = mkdtempSync(path.join(os.tmpdir(), "m3-quality-test-"));
    try {
      await index.save(dir);
      const loaded = await loadIndex(dir);
      try {
        expect(await loaded.count()).toBe(await index.count());
        expect(await bar(loaded)).toBeGreaterThanOrEqual(0.99);
      } finally {
        await loaded.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
