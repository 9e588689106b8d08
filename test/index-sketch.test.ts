/**
 * The ColBERT sketch: the count sketch (identity at full width, inner products kept on average,
 * deterministic), the in-memory arena of sketched rows (pages, compaction, file round trip), and
 * the sketch as a whole (the approximate MaxSim follows the exact one; the first stage finds what
 * the row means rank first).
 */
import * as fsp from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { colbertScore } from "../src/math/scores.js";
import { DENSE_DEFAULTS } from "../src/index/options.js";
import { SketchArena, PAGE_BYTES } from "../src/index/sketch/arena.js";
import { createCountSketch, meanRow, sketchRows } from "../src/multivector/sketch/projection.js";
import { ColbertSketch } from "../src/index/sketch/sketch.js";
import { HybridIndex } from "../src/index/hybrid-index.js";
import { MaxSim } from "../src/multivector/maxsim/maxsim.js";
import { createOrtRowScorer } from "../src/multivector/maxsim/row-scorer.js";
import type { RowScorer, TokenRows } from "../src/types.js";
import type { MultiVector } from "../src/types.js";
import { Rng, randomUnit } from "../bench/lib/rng.js";
import { randomMatrix } from "../bench/lib/colbert-synth.js";

let root: string;
beforeAll(async () => {
  root = await fsp.mkdtemp(join(tmpdir(), "m3-sketch-"));
});
afterAll(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);

describe("count sketch", () => {
  it("is the identity at full width and deterministic otherwise; every input column lands in one output column", () => {
    const id = createCountSketch(16, 32, 7);
    expect(id.sketchDim).toBe(16);
    const x = randomUnit(new Rng(1), 16);
    const out = new Float32Array(16);
    sketchRows(id, x, 1, out);
    expect(Array.from(out)).toEqual(Array.from(x));
    const a = createCountSketch(1024, 128, 9);
    const b = createCountSketch(1024, 128, 9);
    expect(Array.from(a.cols)).toEqual(Array.from(b.cols));
    expect(Array.from(a.signs)).toEqual(Array.from(b.signs));
    expect([...a.cols].sort((p, q) => p - q)).toEqual(Array.from({ length: 1024 }, (_, k) => k));
    for (let j = 0; j < 128; j++) expect(a.starts[j + 1]! - a.starts[j]!).toBe(8);
    expect(Array.from(createCountSketch(1024, 128, 10).signs)).not.toEqual(Array.from(a.signs));
  });

  it("keeps inner products of unit vectors on average, with an error of about 1/sqrt(sketchDim)", () => {
    const r = new Rng(3);
    const s = createCountSketch(1024, 128, 5);
    const errs: number[] = [];
    for (let t = 0; t < 400; t++) {
      const x = randomUnit(r, 1024);
      const y = Float32Array.from(randomUnit(r, 1024), (v, i) => 0.6 * x[i]! + 0.8 * v);
      const sx = new Float32Array(128);
      const sy = new Float32Array(128);
      sketchRows(s, x, 1, sx);
      sketchRows(s, y, 1, sy);
      errs.push(dot(sx, sy) - dot(x, y));
    }
    const mean = errs.reduce((a, b) => a + b, 0) / errs.length;
    const rms = Math.sqrt(errs.reduce((a, b) => a + b * b, 0) / errs.length);
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(rms).toBeLessThan(2 / Math.sqrt(128));
    expect(rms).toBeGreaterThan(0.2 / Math.sqrt(128));
  });

  it("meanRow averages rows (zeros for none)", () => {
    const m = Float32Array.of(1, 2, 3, 5, 6, 7);
    expect(Array.from(meanRow(m, 2, 3, new Float32Array(3)))).toEqual([3, 4, 5]);
    expect(Array.from(meanRow(m, 0, 3, new Float32Array(3).fill(9)))).toEqual([0, 0, 0]);
  });
});

describe("sketch arena", () => {
  it("stores, replaces and removes payloads, compacts, and round-trips through its file", async () => {
    const arena = new SketchArena(8);
    const fill = (slot: number, rows: number, v: number) => arena.put(slot, rows).fill(v);
    for (let s = 0; s < 300; s++) fill(s, 1 + (s % 7), s & 0xff);
    fill(5, 3, 77); // replace
    for (let s = 100; s < 200; s++) arena.remove(s);
    fill(150, 0, 0); // a document with no rows is still stored
    expect(arena.liveSlots).toBe(201);
    expect(arena.view(5)!.rows).toBe(3);
    expect(arena.view(120)).toBeUndefined();
    expect(arena.view(150)!.rows).toBe(0);
    const file = join(root, "arena.bin");
    const fh = await fsp.open(file, "w+");
    const { size, crc32 } = await arena.write(fh, 300);
    const back = await SketchArena.read(fh, file, { size, crc32, sketchDim: 8, slots: 300 });
    await fh.close();
    for (let s = 0; s < 300; s++) {
      const a = arena.view(s);
      const b = back.view(s);
      expect(b?.rows).toBe(a?.rows);
      if (a !== undefined) expect(Array.from(b!.payload)).toEqual(Array.from(a.payload));
    }
    expect(back.liveBytes).toBe(arena.liveBytes);
    back.put(400, 2).fill(3); // a loaded arena takes new payloads
    expect(back.view(400)!.payload[0]).toBe(3);
    const fh2 = await fsp.open(file, "r");
    await expect(SketchArena.read(fh2, file, { size, crc32: "00000000", sketchDim: 8, slots: 300 })).rejects.toThrow(/CRC-32/);
    await expect(SketchArena.read(fh2, file, { size, crc32, sketchDim: 16, slots: 300 })).rejects.toThrow(/sketch dimension/);
    await expect(SketchArena.read(fh2, file, { size: size + 8, crc32, sketchDim: 8, slots: 300 })).rejects.toThrow(/accounts for/);
    await fh2.close();
  });

  it("gives a payload larger than a page a page of its own, and reclaims dead bytes", () => {
    const arena = new SketchArena(1020); // 1024 bytes a row
    const rows = Math.ceil(PAGE_BYTES / 1024) + 1;
    arena.put(0, 2).fill(1);
    arena.put(1, rows).fill(2);
    arena.put(2, 2).fill(3);
    expect(arena.view(0)!.payload[0]).toBe(1);
    expect(arena.view(1)!.payload.length).toBe(rows * 1024);
    expect(arena.view(2)!.payload[0]).toBe(3);
    const before = arena.residentBytes();
    arena.remove(1); // dead bytes > live bytes and > 16 MiB: rewritten
    expect(arena.deadBytes).toBe(0);
    expect(arena.residentBytes()).toBeLessThan(before / 8);
    expect(arena.view(2)!.payload[0]).toBe(3);
  });
});

describe("ColBERT sketch", () => {
  const dim = 256;
  const docs: MultiVector[] = Array.from({ length: 120 }, (_, i) => randomMatrix(3 + (i % 9), dim, 100 + i));
  const q = randomMatrix(8, dim, 7);

  for (const kernel of ["onnxruntime", "js"] as const) {
    it(`approximate MaxSim follows the exact one (${kernel} kernel); missing slots are NaN`, async () => {
      const sk = ColbertSketch.create(dim, 64, { ...DENSE_DEFAULTS }, new MaxSim(kernel, 1));
      docs.forEach((d, i) => sk.set(i, d));
      sk.remove(7);
      const got = await sk.prescore(sk.sketchQuery(q), Uint32Array.from({ length: 121 }, (_, i) => i));
      expect(Number.isNaN(got[7]!)).toBe(true);
      expect(Number.isNaN(got[120]!)).toBe(true);
      const exact = docs.map((d) => colbertScore(q, d));
      let err = 0;
      for (let i = 0; i < 120; i++) if (i !== 7) err += (got[i]! - exact[i]!) ** 2;
      expect(Math.sqrt(err / 119)).toBeLessThan(0.1);
      await sk.close();
    });
  }

  it("the first stage returns the documents whose row means score highest (HNSW and scan agree)", async () => {
    const sk = ColbertSketch.create(dim, 64, { ...DENSE_DEFAULTS }, new MaxSim("js", 1));
    docs.forEach((d, i) => sk.set(i, d));
    const sq = sk.sketchQuery(q);
    const qm = meanRow(sq.data, sq.tokens, 64, new Float32Array(64));
    const want = docs
      .map((d, i) => {
        const rows = new Float32Array(d.tokens * 64);
        sketchRows(createCountSketch(dim, 64, sk.seed), d.data, d.tokens, rows);
        return { i, s: dot(qm, meanRow(rows, d.tokens, 64, new Float32Array(64))) };
      })
      .sort((a, b) => b.s - a.s || a.i - b.i)
      .slice(0, 10)
      .map((x) => x.i);
    expect(Array.from(sk.search(sq, 10, undefined, true))).toEqual(want);
    expect(new Set(sk.search(sq, 10))).toEqual(new Set(want));
    expect(Array.from(sk.search(sq, 5, (s) => s % 2 === 0, true)).every((s) => s % 2 === 0)).toBe(true);
    await sk.close();
  });
});

describe("one row scorer per index", () => {
  const dim = 256;
  const fingerprint = { layout: "synthetic", hiddenSize: dim, vocabSize: 100, tokenizerSha256: "synthetic" };
  const docs = Array.from({ length: 12 }, (_, i) => ({
    id: `d${i}`,
    pageContent: `doc ${i}`,
    encoding: { dense: randomUnit(new Rng(50 + i), dim), sparse: { indices: Uint32Array.of(i + 1), values: Float32Array.of(1) }, colbert: randomMatrix(4 + (i % 3), dim, 300 + i) },
  }));
  const q = randomMatrix(5, dim, 9);
  const slots = Uint32Array.from({ length: 12 }, (_, i) => i);

  /** Scores the store's exact rows and the sketch's rows once each. */
  async function scoreBoth(index: HybridIndex): Promise<void> {
    await index.colbert.score(q, slots);
    await index.sketch!.prescore(index.sketch!.sketchQuery(q), slots);
  }

  it("the store and the sketch score through the scorer the index made, released when the index closes", async () => {
    const index = await HybridIndex.create(fingerprint, { sketchDim: 64 });
    await index.upsert(docs);
    const shared = index.rowScorer!;
    const widths: number[] = [];
    const score = shared.score.bind(shared);
    shared.score = (qq: Float32Array, rows: number, d: TokenRows) => (widths.push(d.dim), score(qq, rows, d));
    await scoreBoth(index);
    expect(widths.sort((a, b) => a - b)).toEqual([64, 256]);
    await index.close();
    await expect(score(q.data, q.tokens, { type: "float32", data: new Float32Array(dim), rows: 1, dim })).rejects.toMatchObject({ code: "DISPOSED" });
  });

  it("a scorer passed in colbert.rowScorer serves both and is left to its owner", async () => {
    const inner = createOrtRowScorer({ intraOpNumThreads: 1 });
    const widths: number[] = [];
    let released = 0;
    const spy: RowScorer = {
      score: (qq, rows, d) => (widths.push(d.dim), inner.score(qq, rows, d)),
      release: async () => void released++,
    };
    const index = await HybridIndex.create(fingerprint, { sketchDim: 64, colbert: { rowScorer: spy } });
    expect(index.rowScorer).toBeUndefined();
    await index.upsert(docs);
    await scoreBoth(index);
    expect(widths.sort((a, b) => a - b)).toEqual([64, 256]);
    await index.close();
    expect(released).toBe(0);
    await inner.release();
  });

  it("refuses a colbert.rowScorer that is not a RowScorer", async () => {
    await expect(HybridIndex.create(fingerprint, { colbert: { rowScorer: { score: 1 } as unknown as RowScorer } })).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: /rowScorer must be a RowScorer/ });
  });
});
