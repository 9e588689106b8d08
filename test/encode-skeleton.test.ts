/** The model skeleton the fused-attention rewrite reads: large inline weights referenced in the file, never copied. */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import { fuseAttention } from "../src/encode/onnx/attention-graph.js";
import { parseModel } from "../src/encode/onnx/reader.js";
import { readModelSkeleton, REFERENCE_MIN_BYTES } from "../src/encode/onnx/skeleton.js";
import { isM3Error } from "../src/errors.js";

const ONNX = join(import.meta.dirname, "fixtures/models/encoder-only/onnx");
const INT8 = join(ONNX, "model_quantized.onnx");
const FP32 = join(ONNX, "model.onnx");
const tmp = mkdtempSync(join(tmpdir(), "m3-skeleton-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function run(source: string | Uint8Array, folder: string): Promise<Float32Array> {
  const extra = { "session.model_external_initializers_file_folder_path": folder };
  const s = await ort.InferenceSession.create(source as Uint8Array, { intraOpNumThreads: 1, ...(typeof source === "string" ? {} : { extra }) });
  try {
    const ids = [0, 581, 9, 472, 12, 33, 1100, 2];
    const L = ids.length;
    const out = await s.run({
      input_ids: new ort.Tensor("int64", BigInt64Array.from(ids, BigInt), [1, L]),
      attention_mask: new ort.Tensor("int64", new BigInt64Array(L).fill(1n), [1, L]),
    });
    return out.last_hidden_state!.data as Float32Array;
  } finally {
    await s.release();
  }
}

describe("readModelSkeleton", () => {
  it("turns inline tensors of at least minBytes into references to the same file, at the bytes' own offset", async () => {
    const file = readFileSync(INT8);
    const before = parseModel(new Uint8Array(file));
    const sk = await readModelSkeleton(INT8, 1024);
    const after = parseModel(sk.bytes);
    const big = before.initializers.filter((t) => (t.rawData?.length ?? 0) >= 1024);
    expect(big.length).toBeGreaterThan(5);
    expect(sk.referenced).toBe(big.length);
    expect(sk.referencedBytes).toBe(big.reduce((n, t) => n + t.rawData!.length, 0));
    expect(sk.bytes.length).toBeLessThan(file.length - sk.referencedBytes + 4096);
    const byName = new Map(after.initializers.map((t) => [t.name, t]));
    for (const t of before.initializers) {
      const s = byName.get(t.name)!;
      expect(s.dims).toEqual(t.dims);
      expect(s.dataType).toBe(t.dataType);
      if ((t.rawData?.length ?? 0) < 1024) {
        expect(s.external).toBeUndefined();
        expect(Buffer.from(s.raw).equals(Buffer.from(t.raw))).toBe(true);
        continue;
      }
      expect(s.rawData).toBeUndefined();
      expect(s.external!.location).toBe("model_quantized.onnx");
      const { offset, length } = s.external!;
      expect(Buffer.from(file.subarray(offset, offset + length!)).equals(Buffer.from(t.rawData!))).toBe(true);
    }
    // Everything else (nodes, inputs, outputs, opsets) is the file's own.
    expect(after.nodes.map((n) => Buffer.from(n.raw).toString("hex"))).toEqual(before.nodes.map((n) => Buffer.from(n.raw).toString("hex")));
    expect(after.inputs).toEqual(before.inputs);
    expect(after.outputs).toEqual(before.outputs);
    expect([...after.opsets]).toEqual([...before.opsets]);
  });

  it("keeps tensors already external as they are, and small files whole", async () => {
    const fp32 = parseModel(new Uint8Array(readFileSync(FP32)));
    const sk = await readModelSkeleton(FP32, 1024);
    expect(sk.referenced).toBe(0);
    expect(parseModel(sk.bytes).initializers.map((t) => t.external)).toEqual(fp32.initializers.map((t) => t.external));
    // The fixture's int8 file is smaller than the default threshold's tensors: copied whole.
    expect(statSync(INT8).size).toBeLessThan(2 * REFERENCE_MIN_BYTES);
    expect(Buffer.from((await readModelSkeleton(INT8)).bytes).equals(readFileSync(INT8))).toBe(true);
  });

  it("onnxruntime loads the skeleton, plain and fused, and computes what the file computes", async () => {
    const want = await run(INT8, ONNX);
    const sk = await readModelSkeleton(INT8, 1024);
    expect(sk.referenced).toBeGreaterThan(5);
    expect(Array.from(await run(sk.bytes, ONNX))).toEqual(Array.from(want));
    const fused = fuseAttention(sk.bytes, undefined)!;
    expect(fused.blocks).toBe(2);
    const got = await run(fused.bytes, ONNX);
    let d = 0;
    got.forEach((v, i) => (d = Math.max(d, Math.abs(v - want[i]!))));
    expect(d).toBeLessThan(1e-4);
  });

  it("a truncated file is MODEL_INVALID naming the file", async () => {
    const cut = join(tmp, "model_quantized.onnx");
    copyFileSync(INT8, cut);
    truncateSync(cut, Math.floor(statSync(INT8).size / 2));
    let err: unknown;
    try {
      await readModelSkeleton(cut, 1024);
    } catch (e) {
      err = e;
    }
    expect(isM3Error(err, "MODEL_INVALID")).toBe(true);
    expect((err as Error).message).toContain(cut);
  });
});
