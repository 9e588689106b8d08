/** The model skeleton the fused-attention rewrite reads: large inline weights referenced in the file, never copied. */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import { M3Encoder } from "../src/encode/encoder.js";
import { fuseAttention } from "../src/encode/onnx/attention-graph.js";
import { parseModel } from "../src/encode/onnx/reader.js";
import { readModelSkeleton, REFERENCE_MIN_BYTES } from "../src/encode/onnx/skeleton.js";
import { isM3Error } from "../src/errors.js";

const TINY = join(import.meta.dirname, "fixtures/models/encoder-only");
const ONNX = join(TINY, "onnx");
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

/** The fixture as a Hugging Face cache lays it out: every file a relative symlink into blobs/. */
function hubLayout(): string {
  const root = mkdtempSync(join(tmp, "hub-"));
  mkdirSync(join(root, "blobs"));
  let n = 0;
  const walk = (rel: string) => {
    for (const e of readdirSync(join(TINY, rel), { withFileTypes: true })) {
      const r = join(rel, e.name);
      if (e.isDirectory()) {
        mkdirSync(join(root, "snapshot", r), { recursive: true });
        walk(r);
        continue;
      }
      const blob = join(root, "blobs", `b${n++}`);
      copyFileSync(join(TINY, r), blob);
      const link = join(root, "snapshot", r);
      mkdirSync(dirname(link), { recursive: true });
      symlinkSync(relative(dirname(link), blob), link);
    }
  };
  walk("");
  return join(root, "snapshot");
}

describe("through Hugging Face cache symlinks", () => {
  it("references the files' real names in their real folder, which onnxruntime accepts", async () => {
    const snap = hubLayout();
    const int8 = join(snap, "onnx/model_quantized.onnx");
    const sk = await readModelSkeleton(int8, 1024);
    expect(sk.folder).toBe(dirname(realpathSync(int8)));
    expect(sk.referenced).toBeGreaterThan(5);
    const locations = new Set(parseModel(sk.bytes).initializers.flatMap((t) => (t.external ? [t.external.location] : [])));
    expect([...locations]).toEqual([relative(sk.folder, realpathSync(int8))]);
    expect(Array.from(await run(sk.bytes, sk.folder))).toEqual(Array.from(await run(INT8, ONNX)));
    // fp32: its external model.onnx_data is a symlink too; the location becomes that blob's name.
    const fp32 = await readModelSkeleton(join(snap, "onnx/model.onnx"), 1024);
    const ext = new Set(parseModel(fp32.bytes).initializers.flatMap((t) => (t.external ? [t.external.location] : [])));
    expect([...ext]).toEqual([relative(fp32.folder, realpathSync(join(snap, "onnx/model.onnx_data")))]);
    expect(Array.from(await run(fp32.bytes, fp32.folder))).toEqual(Array.from(await run(FP32, ONNX)));
  });

  it("M3Encoder fuses the attention of a symlinked folder, fp32 and int8, and encodes as the plain folder does", async () => {
    const snap = hubLayout();
    const texts = ["The moon pulls the ocean.", "Tides rise and fall twice a day."];
    for (const variant of ["fp32", "int8"] as const) {
      const linked = await M3Encoder.load({ modelPath: snap, variant, intraOpNumThreads: 1 });
      const plain = await M3Encoder.load({ modelPath: TINY, variant, intraOpNumThreads: 1 });
      try {
        expect(linked.info!.fusedAttentionBlocks).toBe(2);
        const [a, b] = [await linked.encode(texts), await plain.encode(texts)];
        a.forEach((x, i) => expect(Array.from(x.dense!)).toEqual(Array.from(b[i]!.dense!)));
      } finally {
        await linked.dispose();
        await plain.dispose();
      }
    }
  });
});
