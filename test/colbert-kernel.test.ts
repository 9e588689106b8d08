/**
 * The ColBERT store's two MaxSim kernels: onnxruntime (Q·Dᵀ Gemm + per-document row maxima,
 * the default) against the JavaScript loops, for every codec that packs into blocks, in memory
 * and disk-backed, including the edge cases of block packing.
 */
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { randomMatrix } from "../bench/lib/colbert-synth.js";
import { createOrtRowScorer } from "../src/multivector/maxsim/row-scorer.js";
import { createColbertStore } from "../src/index/colbert/index.js";
import type { ColbertCodecName, ColbertStore } from "../src/index/colbert/index.js";
import { toHalfBits } from "../src/math/half.js";
import { colbertScore } from "../src/math/scores.js";
import type { MultiVector } from "../src/types.js";
import { colbertTestEnv, expectCode } from "./helpers/colbert-env.js";

const DIM = 48;
const env = colbertTestEnv("colbert-kernel-");
const { track } = env;


/** Documents of 0..`max` tokens; one of exactly `big` tokens when given. */
function docs(n: number, max: number, seed: number, big?: number): MultiVector[] {
  return Array.from({ length: n }, (_, i) => randomMatrix(i === 3 && big !== undefined ? big : i === 5 ? 0 : 1 + ((i * 7919 + seed) % max), DIM, seed * 1000 + i));
}

async function pair(codec: ColbertCodecName, ds: MultiVector[]): Promise<[ColbertStore, ColbertStore]> {
  const ort = track(createColbertStore({ dim: DIM, codec }));
  const js = track(createColbertStore({ dim: DIM, codec, kernel: "js" }));
  for (let i = 0; i < ds.length; i++) {
    await ort.put(i, ds[i]!);
    await js.put(i, ds[i]!);
  }
  return [ort, js];
}

function expectClose(a: Float32Array, b: Float32Array, tol: number): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(b[i]!)) expect(a[i], `index ${i}`).toBeNaN();
    else expect(Math.abs(a[i]! - b[i]!), `index ${i}: ${a[i]} vs ${b[i]}`).toBeLessThan(tol);
  }
}

describe("ColBERT MaxSim kernels", () => {
  for (const codec of ["float32", "float16", "int8"] as const) {
    it(`${codec}: onnxruntime equals the JavaScript kernel, in memory and disk-backed`, async () => {
      const ds = docs(60, 40, 3);
      const [ort, js] = await pair(codec, ds);
      // duplicates, a missing slot, the empty document (slot 5) and an unsorted order
      const slots = Uint32Array.from([59, 0, 5, 999, 17, 17, ...Array.from({ length: 60 }, (_, i) => i)]);
      const q = randomMatrix(9, DIM, 77);
      const a = await ort.score(q, slots);
      const b = await js.score(q, slots);
      expectClose(a, b, 1e-5);
      expect(a[2]).toBe(0);
      expect(a[3]).toBeNaN();
      if (codec === "float32") ds.forEach((d, i) => expect(Math.abs(a[6 + i]! - colbertScore(q, d))).toBeLessThan(1e-5));
      await fs.mkdir(path.join(env.dir, codec), { recursive: true });
      await ort.persist(path.join(env.dir, codec), 2);
      expectClose(await ort.score(q, slots), b, 1e-5); // cold: read from the file
      expectClose(await ort.score(q, slots), b, 1e-5); // warm: from the record cache
    });
  }

  it("splits blocks at the score budget and scores a document larger than one block on its own", async () => {
    // qRows = 4096 -> at most 2048 document rows per block; slot 3 has 3000 rows.
    const ds = docs(12, 900, 5, 3000);
    const [ort, js] = await pair("int8", ds);
    const q = randomMatrix(4096, DIM, 9);
    const slots = Uint32Array.from({ length: 12 }, (_, i) => i);
    expectClose(await ort.score(q, slots), await js.score(q, slots), 1e-5);
  });

  it("an empty query scores 0 (NaN for missing slots); binary keeps its own kernel", async () => {
    const ds = docs(8, 20, 7);
    const [ort] = await pair("int8", ds);
    expect(Array.from(await ort.score({ data: new Float32Array(0), tokens: 0, dim: DIM }, Uint32Array.of(0, 1, 99))).map(String)).toEqual(["0", "0", "NaN"]);
    const [bo, bj] = await pair("binary", ds);
    const q = randomMatrix(5, DIM, 1);
    expect(Array.from(await bo.score(q, Uint32Array.of(0, 1, 2)))).toEqual(Array.from(await bj.score(q, Uint32Array.of(0, 1, 2))));
  });

  it("close waits for a score in flight, which completes", async () => {
    const ds = docs(40, 40, 11);
    const s = createColbertStore({ dim: DIM });
    for (let i = 0; i < ds.length; i++) await s.put(i, ds[i]!);
    const q = randomMatrix(6, DIM, 2);
    const scoring = s.score(q, Uint32Array.from({ length: 40 }, (_, i) => i));
    await s.close();
    const out = await scoring;
    expect(out.every((v) => Number.isFinite(v))).toBe(true);
    await expectCode(s.score(q, Uint32Array.of(0)), "DISPOSED");
  });

  it("bad kernel options give typed errors", async () => {
    await expectCode(() => createColbertStore({ dim: DIM, kernel: "gpu" as never }), "INVALID_ARGUMENT");
    await expectCode(() => createColbertStore({ dim: DIM, kernelThreads: 0 }), "OUT_OF_RANGE");
    await expectCode(() => createColbertStore({ dim: DIM, kernelThreads: 2.5 }), "OUT_OF_RANGE");
  });
});

describe("onnxruntime RowScorer", () => {
  it("computes D·Qᵀ for float32, float16 and scaled int8 rows", async () => {
    const s = createOrtRowScorer({ intraOpNumThreads: 1 });
    try {
      const q = randomMatrix(3, DIM, 1).data;
      const d = randomMatrix(5, DIM, 2).data;
      // entry [t, r] at t·3 + r
      const ref = (rows: Float32Array) => Float32Array.from({ length: 15 }, (_, i) => {
        let x = 0;
        for (let k = 0; k < DIM; k++) x += rows[Math.floor(i / 3) * DIM + k]! * q[(i % 3) * DIM + k]!;
        return x;
      });
      expectClose(await s.score(q, 3, { type: "float32", data: d, rows: 5, dim: DIM }), ref(d), 1e-6);
      const half = Uint16Array.from(d, toHalfBits);
      expectClose(await s.score(q, 3, { type: "float16", data: half, rows: 5, dim: DIM }), ref(d), 2e-3);
      const scales = Float32Array.from({ length: 5 }, (_, j) => 0.01 * (j + 1));
      const codes = Int8Array.from({ length: 5 * DIM }, (_, i) => ((i * 37) % 255) - 127);
      const deq = Float32Array.from(codes, (c, i) => c * scales[Math.floor(i / DIM)]!);
      expectClose(await s.score(q, 3, { type: "int8", data: codes, scales, rows: 5, dim: DIM }), ref(deq), 1e-5);
      expect((await s.score(q, 0, { type: "float32", data: d, rows: 5, dim: DIM })).length).toBe(0);
    } finally {
      await s.release();
    }
  });

  it("rejects bad shapes and use after release", async () => {
    const s = createOrtRowScorer();
    const q = new Float32Array(2 * DIM);
    await expectCode(s.score(q, 3, { type: "float32", data: new Float32Array(DIM), rows: 1, dim: DIM }), "INVALID_ARGUMENT");
    await expectCode(s.score(q, 2, { type: "float32", data: new Float32Array(DIM), rows: 2, dim: DIM }), "INVALID_ARGUMENT");
    await expectCode(s.score(q, 2, { type: "int8", data: new Int8Array(2 * DIM), scales: new Float32Array(1), rows: 2, dim: DIM }), "INVALID_ARGUMENT");
    await expectCode(s.score(q, -1, { type: "float32", data: new Float32Array(DIM), rows: 1, dim: DIM }), "INVALID_ARGUMENT");
    await expectCode(() => createOrtRowScorer({ intraOpNumThreads: 0 }), "INVALID_ARGUMENT");
    await s.release();
    await expectCode(s.score(q, 1, { type: "float32", data: new Float32Array(DIM), rows: 1, dim: DIM }), "DISPOSED");
  });
});
