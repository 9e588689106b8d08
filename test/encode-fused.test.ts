/** The load-time fused-attention rewrite: where it applies, what it writes, and that it encodes as the graph it replaces. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { M3Encoder } from "../src/encode/encoder.js";
import { fuseAttention } from "../src/encode/onnx/attention-graph.js";
import { buildHeadGraph } from "../src/encode/onnx/head-graph.js";
import { parseModel } from "../src/encode/onnx/reader.js";
import { resolveEncoderOptions } from "../src/encode/options.js";
import { isM3Error } from "../src/errors.js";
import type { M3Encoding } from "../src/types.js";

const MODELS = join(import.meta.dirname, "fixtures/models");
const TEXTS = [
  "The moon pulls the ocean.",
  "Tides rise and fall twice a day because the moon and the sun pull on the oceans of the earth.",
  "short",
];

function maxDiff(a: M3Encoding[], b: M3Encoding[]): number {
  let d = 0;
  a.forEach((x, i) => {
    const y = b[i]!;
    x.dense!.forEach((v, k) => (d = Math.max(d, Math.abs(v - y.dense![k]!))));
    x.colbert!.data.forEach((v, k) => (d = Math.max(d, Math.abs(v - y.colbert!.data[k]!))));
    expect(Array.from(x.sparse!.indices)).toEqual(Array.from(y.sparse!.indices));
    x.sparse!.values.forEach((v, k) => (d = Math.max(d, Math.abs(v - y.sparse!.values[k]!))));
  });
  return d;
}

describe("fuseAttention (graph rewrite)", () => {
  it("replaces every attention block of the fixture encoder by an If over two MultiHeadAttention branches", () => {
    const buf = new Uint8Array(readFileSync(join(MODELS, "encoder-only/onnx/model.onnx")));
    const before = parseModel(buf);
    const fused = fuseAttention(buf, undefined)!;
    expect(fused.blocks).toBe(before.nodes.filter((n) => n.opType === "Softmax").length);
    const after = parseModel(fused.bytes);
    const ops = after.nodes.map((n) => n.opType);
    expect(ops.filter((o) => o === "If")).toHaveLength(fused.blocks);
    expect(ops).not.toContain("Softmax");
    expect(after.opsets.get("com.microsoft")).toBe(1);
    // Weights are carried over unchanged; only the removed blocks' shape/scale constants go.
    const weights = before.initializers.filter((t) => /weight|bias/.test(t.name));
    expect(weights.length).toBeGreaterThan(10);
    const kept = new Map(after.initializers.map((t) => [t.name, t]));
    for (const t of weights) expect(Buffer.from(kept.get(t.name)!.raw).equals(Buffer.from(t.raw))).toBe(true);
    // The old additive mask bias is gone with its blocks: only the new int32 cast reads the mask.
    expect(after.nodes.filter((n) => n.inputs.includes("attention_mask")).map((n) => n.name)).toEqual(["m3_mask_i32"]);
    expect(after.inputs).toEqual(before.inputs);
    expect(after.outputs).toEqual(before.outputs);
  });
  it("leaves graphs without the pattern alone", () => {
    const h = 8;
    const heads = { hidden: h, sparseWeight: new Float32Array(h), sparseBias: 0, colbertWeight: new Float32Array(h * h), colbertBias: new Float32Array(h) };
    expect(fuseAttention(buildHeadGraph(heads as never), 4)).toBeUndefined();
  });
});

describe("fusedAttention at load", () => {
  const loaded: M3Encoder[] = [];
  const load = async (dir: string, extra: Record<string, unknown> = {}) => {
    const e = await M3Encoder.load({ modelPath: join(MODELS, dir), intraOpNumThreads: 1, ...extra });
    loaded.push(e);
    return e;
  };
  let fused: M3Encoder;
  let plain: M3Encoder;
  beforeAll(async () => {
    fused = await load("encoder-only");
    plain = await load("encoder-only", { fusedAttention: false });
  });
  afterAll(async () => {
    await Promise.all(loaded.map((e) => e.dispose()));
  });
  it("is on by default for fp32 and int8 graphs, off for fp16 and with fusedAttention: false", async () => {
    expect(fused.info!.fusedAttentionBlocks).toBe(2);
    expect(plain.info!.fusedAttentionBlocks).toBe(0);
    expect((await load("encoder-only", { variant: "int8" })).info!.fusedAttentionBlocks).toBe(2);
    expect((await load("encoder-only", { variant: "fp16" })).info!.fusedAttentionBlocks).toBe(0);
    expect((await load("three-heads-aapot")).info!.fusedAttentionBlocks).toBe(2);
  });
  it("encodes as the unfused graph: one text (flash path) and a padded batch (masked path)", async () => {
    for (const t of TEXTS) expect(maxDiff(await fused.encode([t]), await plain.encode([t]))).toBeLessThan(1e-5);
    expect(maxDiff(await fused.encode(TEXTS), await plain.encode(TEXTS))).toBeLessThan(1e-5);
  });
  it("fusedAttention is validated", () => {
    let err: unknown;
    try {
      resolveEncoderOptions({ modelPath: "/m", fusedAttention: "yes" as never });
    } catch (e) {
      err = e;
    }
    expect(isM3Error(err, "INVALID_ARGUMENT")).toBe(true);
    expect((err as Error).message).toMatch(/fusedAttention must be true or false/);
  });
});
