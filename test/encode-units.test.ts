import { describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { padBatch, planBatches } from "../src/encode/batching.js";
import { buildHeadGraph, headsFromStateDicts } from "../src/encode/onnx/head-graph.js";
import { resolveEncoderOptions } from "../src/encode/options.js";
import { colbertFrom, denseFrom, sparseFrom } from "../src/encode/postprocess.js";
import { isM3Error } from "../src/errors.js";

const rand = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 1000 + i * 7.1) * 0.5);

describe("batch planner", () => {
  const lengths = [5, 40, 3, 40, 12, 7, 100, 2, 9, 9];
  it("covers every text once, longest first, within the token budget and the size cap", () => {
    const batches = planBatches(lengths, 64, 3);
    const seen = batches.flatMap((b) => b.items).sort((a, b) => a - b);
    expect(seen).toEqual(lengths.map((_, i) => i));
    let prev = Infinity;
    for (const b of batches) {
      expect(b.length).toBe(Math.max(...b.items.map((i) => lengths[i]!)));
      expect(b.items.length).toBeLessThanOrEqual(3);
      if (b.items.length > 1) expect(b.items.length * b.length).toBeLessThanOrEqual(64);
      for (const i of b.items) {
        expect(lengths[i]!).toBeLessThanOrEqual(prev);
        prev = lengths[i]!;
      }
    }
    expect(batches[0]).toEqual({ items: [6], length: 100 }); // over budget: alone
  });
  it("packs many short texts into one batch when the budget allows", () => {
    expect(planBatches([4, 4, 4, 4], 16, 64)).toEqual([{ items: [0, 1, 2, 3], length: 4 }]);
    expect(planBatches([], 16, 4)).toEqual([]);
  });
  it("does not pad many short texts to the length of a few long ones", () => {
    const lengths = [512, 371, ...Array.from({ length: 40 }, (_, i) => 2 + ((i * 13) % 56))];
    const batches = planBatches(lengths, 16384, 64);
    expect(batches[0]).toEqual({ items: [0], length: 512 });
    expect(batches[1]).toEqual({ items: [1], length: 371 });
    const padded = batches.reduce((s, b) => s + b.items.length * b.length, 0);
    const real = lengths.reduce((s, l) => s + l, 0);
    expect(padded).toBeLessThan(real * 1.25);
    expect(batches.length).toBeLessThan(10);
  });
  it("pads with the pad id and a zero mask", () => {
    const { inputIds, mask } = padBatch([Int32Array.from([0, 9, 2]), Int32Array.from([0, 2])], 3, 1);
    expect(Array.from(inputIds, Number)).toEqual([0, 9, 2, 0, 2, 1]);
    expect(Array.from(mask, Number)).toEqual([1, 1, 1, 1, 1, 0]);
  });
});

describe("post-processing", () => {
  const drop = new Set([0, 1, 2, 3]);
  it("lexical weights: specials dropped, w > 0 only, MAX over repeats, ids ascending", () => {
    const ids = Int32Array.from([0, 50, 7, 50, 3, 9, 2, 1]);
    const w = Float32Array.from([9, 0.5, 0.2, 0.7, 8, -1, 5, 4]);
    const s = sparseFrom(ids, w, 0, 1, 0, drop);
    expect(Array.from(s.indices)).toEqual([7, 50]);
    expect(Array.from(s.values)).toEqual([Math.fround(0.2), Math.fround(0.7)]);
  });
  it("lexical weights with an offset row layout (weights start at position `first`)", () => {
    const ids = Int32Array.from([0, 11, 12, 2]);
    const w = Float32Array.from([0.1, 0.3, 0.4]); // rows for positions 1..3
    const s = sparseFrom(ids, w, 0, 1, 1, drop);
    expect(Array.from(s.indices)).toEqual([11, 12]);
    expect(Array.from(s.values)).toEqual([Math.fround(0.1), Math.fround(0.3)]);
  });
  it("dense and colbert rows are L2-normalised copies", () => {
    const src = Float32Array.from([3, 4, 0, 5, 12, 0]);
    expect(Array.from(denseFrom(src, 3, 3))).toEqual([5 / 13, 12 / 13, 0].map(Math.fround));
    const c = colbertFrom(src, 0, 2, 3);
    expect(c.tokens).toBe(2);
    expect(c.dim).toBe(3);
    expect(Array.from(c.data)).toEqual([0.6, 0.8, 0, 5 / 13, 12 / 13, 0].map(Math.fround));
    expect(src[0]).toBe(3); // source untouched
  });
});

describe("head graph", () => {
  const H = 8;
  const T = 5;
  const heads = { hidden: H, sparseWeight: rand(H, 1), sparseBias: rand(1, 2), colbertWeight: rand(H * H, 3), colbertBias: rand(H, 4) };
  it("computes relu(X·Wsᵀ+bs) and X·Wcᵀ+bc in onnxruntime, for any requested subset", async () => {
    const s = await ort.InferenceSession.create(buildHeadGraph(heads));
    const X = rand(T * H, 5);
    const out = await s.run({ hidden: new ort.Tensor("float32", X, [T, H]) });
    expect(out.sparse!.dims).toEqual([T, 1]);
    expect(out.colbert!.dims).toEqual([T, H]);
    for (let t = 0; t < T; t++) {
      let sp = heads.sparseBias[0]!;
      for (let k = 0; k < H; k++) sp += X[t * H + k]! * heads.sparseWeight[k]!;
      expect((out.sparse!.data as Float32Array)[t]).toBeCloseTo(Math.max(0, sp), 5);
      for (let o = 0; o < H; o++) {
        let c = heads.colbertBias[o]!;
        for (let k = 0; k < H; k++) c += X[t * H + k]! * heads.colbertWeight[o * H + k]!;
        expect((out.colbert!.data as Float32Array)[t * H + o]).toBeCloseTo(c, 5);
      }
    }
    const only = await s.run({ hidden: new ort.Tensor("float32", X, [T, H]) }, ["sparse"]);
    expect(Object.keys(only)).toEqual(["sparse"]);
    await s.release();
  });
  it("rejects head files whose shapes do not fit the encoder", () => {
    const t = (shape: number[]) => ({ shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
    const sp = new Map([["weight", t([1, 8])], ["bias", t([1])]]);
    const cb = new Map([["weight", t([8, 8])], ["bias", t([8])]]);
    const names = { sparse: "sparse_linear.pt", colbert: "colbert_linear.pt" };
    expect(headsFromStateDicts(sp, cb, 8, names).hidden).toBe(8);
    expect(() => headsFromStateDicts(sp, cb, 16, names)).toThrow(/sparse_linear\.pt: weight has shape \[1, 8\], expected \[1, 16\]/);
    expect(() => headsFromStateDicts(sp, new Map([["weight", t([8, 8])]]), 8, names)).toThrow(/colbert_linear\.pt has no "bias"/);
  });
});

describe("encoder options", () => {
  const bad: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ["maxLength NaN", { maxLength: NaN }, "OUT_OF_RANGE", /maxLength must be an integer from 2 to 8192; got NaN/],
    ["maxLength 1", { maxLength: 1 }, "OUT_OF_RANGE", /got 1\b/],
    ["maxLength 8193", { maxLength: 8193 }, "OUT_OF_RANGE", /got 8193/],
    ["batchTokens 0", { batchTokens: 0 }, "OUT_OF_RANGE", /batchTokens/],
    ["maxBatchSize 1.5", { maxBatchSize: 1.5 }, "OUT_OF_RANGE", /maxBatchSize/],
    ["variant int4", { variant: "int4" }, "INVALID_ARGUMENT", /variant must be one of fp32, int8, fp16/],
    ["no modelPath", { modelPath: undefined }, "INVALID_ARGUMENT", /modelPath must be the path/],
  ];
  for (const [what, extra, code, msg] of bad) {
    it(`rejects ${what}`, () => {
      let err: unknown;
      try {
        resolveEncoderOptions({ modelPath: "/m", ...extra } as never);
      } catch (e) {
        err = e;
      }
      expect(isM3Error(err, code as never)).toBe(true);
      expect((err as Error).message).toMatch(msg);
    });
  }
  it("fills documented defaults without touching the caller's object", () => {
    const input = Object.freeze({ modelPath: "/m", maxLength: 512 });
    const o = resolveEncoderOptions(input);
    expect(o).toMatchObject({ modelPath: "/m", variant: "fp32", maxLength: 512, batchTokens: 16384, maxBatchSize: 64, graphOptimizationLevel: "all" });
    expect(o.intraOpNumThreads).toBeGreaterThanOrEqual(1);
  });
});
