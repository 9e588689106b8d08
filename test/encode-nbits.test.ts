/**
 * The 4-bit writer (not offered to users; bench/q4.ts measures it): its codes mean to
 * onnxruntime's MatMulNBits what they mean to us, and the graph it writes for the tiny fixture
 * loads, keeps fused attention and stays near fp32. Bad `bits` are typed errors.
 */
import { cpSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it, vi } from "vitest";
import { M3Encoder } from "../src/encode/encoder.js";
import { compareEncodings } from "../src/encode/fidelity.js";
import { dequantizeBlocks4, quantizeBlocks4 } from "../src/encode/onnx/nbits.js";
import { OnnxType, ProtoWriter, intAttribute, node, rawTensorProto, valueInfo } from "../src/encode/onnx/proto.js";
import { parseModel } from "../src/encode/onnx/reader.js";
import { Q4_FILE, QUANTIZED_FILE, writeQuantized } from "../src/encode/quantize.js";
import { isM3Error } from "../src/errors.js";

vi.setConfig({ testTimeout: 60_000 });

const TINY = join(import.meta.dirname, "fixtures/models/encoder-only");
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Deterministic values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 1073741824 - 1;
  });
}

const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

async function matMulNBits(x: Float32Array, M: number, K: number, N: number, accuracy: number): Promise<{ y: Float32Array; w: Float32Array }> {
  const q = quantizeBlocks4(values(K * N, 7), K, N, 32);
  const g = new ProtoWriter();
  g.message(1, node("MatMulNBits", ["x", "B", "S", "Z"], ["y"], "n", [
    intAttribute("K", K), intAttribute("N", N), intAttribute("bits", 4), intAttribute("block_size", 32), intAttribute("accuracy_level", accuracy),
  ]).string(7, "com.microsoft"));
  g.string(2, "g");
  g.message(5, rawTensorProto("B", [N, K / 32, 16], OnnxType.UINT8, q.codes));
  g.message(5, rawTensorProto("S", [N * q.blocksPerColumn], OnnxType.FLOAT, bytes(q.scales)));
  g.message(5, rawTensorProto("Z", [q.zeros.length], OnnxType.UINT8, q.zeros));
  g.message(11, valueInfo("x", OnnxType.FLOAT, [M, K]));
  g.message(12, valueInfo("y", OnnxType.FLOAT, [M, N]));
  const opset = (d: string, v: number) => new ProtoWriter().string(1, d).int(2, v);
  const m = new ProtoWriter().int(1, 8).message(7, g).message(8, opset("", 17)).message(8, opset("com.microsoft", 1)).finish();
  const s = await ort.InferenceSession.create(m, { intraOpNumThreads: 1 });
  try {
    const out = await s.run({ x: new ort.Tensor("float32", x, [M, K]) });
    return { y: out.y!.data as Float32Array, w: dequantizeBlocks4(q, K, N, 32) };
  } finally {
    await s.release();
  }
}

describe("4-bit blocks", () => {
  it("round-trip within half a step per element; zero stays exact", () => {
    const K = 64;
    const N = 3;
    const w = values(K * N, 3);
    w[5] = 0;
    const q = quantizeBlocks4(w, K, N, 32);
    expect(q.codes.length).toBe(N * 2 * 16);
    const back = dequantizeBlocks4(q, K, N, 32);
    for (let i = 0; i < w.length; i++) {
      const n = i % N;
      const b = Math.floor(Math.floor(i / N) / 32);
      expect(Math.abs(back[i]! - w[i]!)).toBeLessThanOrEqual(q.scales[n * 2 + b]! / 2 + 1e-6);
    }
    expect(back[5]).toBe(0);
  });

  it("onnxruntime's MatMulNBits reads them as dequantizeBlocks4 does (accuracy level 0 exact, 4 close)", async () => {
    const [M, K, N] = [3, 96, 40];
    const x = values(M * K, 11);
    for (const acc of [0, 4]) {
      const { y, w } = await matMulNBits(x, M, K, N, acc);
      let err = 0;
      let norm = 0;
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          let want = 0;
          for (let k = 0; k < K; k++) want += x[m * K + k]! * w[k * N + n]!;
          err = Math.max(err, Math.abs(y[m * N + n]! - want));
          norm = Math.max(norm, Math.abs(want));
        }
      }
      expect(err / norm).toBeLessThan(acc === 0 ? 1e-5 : 2e-2);
    }
  });
});

describe("writeQuantized(dir, {}, 4)", () => {
  it("writes onnx/model_q4.onnx: every MatMul a MatMulNBits, tables int8; it loads fused and stays near fp32", async () => {
    const dir = mkdtempSync(join(tmpdir(), "m3-q4-"));
    dirs.push(dir);
    cpSync(TINY, dir, { recursive: true });
    rmSync(join(dir, "onnx", QUANTIZED_FILE));
    const r = await writeQuantized(dir, {}, 4);
    expect(r.file).toBe(join(dir, "onnx", Q4_FILE));
    const m = parseModel(new Uint8Array(await import("node:fs").then((f) => f.readFileSync(r.file))));
    const ops = m.nodes.map((n) => `${n.domain}:${n.opType}`);
    expect(ops.filter((o) => o === "com.microsoft:MatMulNBits")).toHaveLength(r.stats.matmuls);
    const inits = new Set(m.initializers.map((t) => t.name));
    expect(m.nodes.filter((n) => n.opType === "MatMul" && inits.has(n.inputs[1]!))).toEqual([]);
    expect(r.stats.matmuls).toBe(12);
    expect(r.stats.gathers).toBe(2);
    expect(m.opsets.get("com.microsoft")).toBe(1);
    const texts = ["The moon pulls the ocean.", "Tides rise and fall twice a day because the moon and the sun pull on the oceans.", "short"];
    const fp32 = await M3Encoder.load({ modelPath: dir, intraOpNumThreads: 1 });
    const ref = await fp32.encode(texts);
    await fp32.dispose();
    renameSync(r.file, join(dir, "onnx", QUANTIZED_FILE));
    const q4 = await M3Encoder.load({ modelPath: dir, variant: "int8", intraOpNumThreads: 1 });
    try {
      expect(q4.info!.fusedAttentionBlocks).toBe(2);
      const f = compareEncodings(ref, await q4.encode(texts));
      expect(f.denseCosine.min).toBeGreaterThan(0.95);
      expect(f.colbertRowCosine.min).toBeGreaterThan(0.93);
    } finally {
      await q4.dispose();
    }
  });

  it("bits other than 8 or 4, and scales with 4 bits, are INVALID_ARGUMENT before anything is read", async () => {
    for (const [bits, opts] of [[3, {}], ["4", {}], [4, { scales: "per-tensor" }]] as const) {
      let err: unknown;
      try {
        await writeQuantized("/nonexistent-model", opts, bits as never);
      } catch (e) {
        err = e;
      }
      expect(isM3Error(err, "INVALID_ARGUMENT")).toBe(true);
    }
  });
});
