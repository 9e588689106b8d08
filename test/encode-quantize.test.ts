/**
 * `quantizeModel` on a copy of the tiny encoder-only fixture: the int8 graph it writes loads as
 * `variant: "int8"` and stays close to the fp32 outputs and the torch golden; refusals are
 * typed; a failure or an abort leaves no file under the final name (and no temporary file).
 */
import { copyFileSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { M3Encoder } from "../src/encode/encoder.js";
import { compareEncodings } from "../src/encode/fidelity.js";
import { graph, model, node, OnnxType, valueInfo } from "../src/encode/onnx/proto.js";
import { parseModel } from "../src/encode/onnx/reader.js";
import { QUANTIZED_FILE, quantizeModel } from "../src/encode/quantize.js";
import { isM3Error, type ErrorCode } from "../src/errors.js";
import { compare, readGolden } from "./helpers/m3-golden.js";

vi.setConfig({ testTimeout: 60_000 });

const FIXTURES = join(import.meta.dirname, "fixtures");
const TINY = join(FIXTURES, "models/encoder-only");
const golden = readGolden(join(FIXTURES, "golden/tiny.json"));

/** A copy of the fixture without its int8 graph. */
function copyModel(): string {
  const dir = mkdtempSync(join(tmpdir(), "m3-quant-"));
  cpSync(TINY, dir, { recursive: true });
  rmSync(join(dir, "onnx", QUANTIZED_FILE));
  return dir;
}

async function codeOf(p: Promise<unknown>): Promise<{ code: ErrorCode; message: string }> {
  try {
    await p;
  } catch (e) {
    if (isM3Error(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error("expected a rejection");
}

const onnxFiles = (dir: string) => readdirSync(join(dir, "onnx")).sort();

describe("compareEncodings", () => {
  const enc = (d: number[], sparse: [number, number][], rows: number[][]) => ({
    tokenCount: rows.length + 1,
    dense: Float32Array.from(d),
    sparse: { indices: Uint32Array.from(sparse.map((x) => x[0])), values: Float32Array.from(sparse.map((x) => x[1])) },
    colbert: { data: Float32Array.from(rows.flat()), tokens: rows.length, dim: 2 },
  });
  const a = [enc([1, 0], [[5, 0.5], [7, 0.25]], [[1, 0], [0, 1]]), enc([0, 1], [[5, 0.1]], [[0.6, 0.8]])];

  it("identical encodings: cosines 1, differences 0", () => {
    const f = compareEncodings(a, a);
    expect(f).toMatchObject({ texts: 2, denseCosine: { min: 1, mean: 1 }, sparseMaxRelDiff: 0, colbertRowCosine: { min: 1 } });
    expect(f.sparseCosine.min).toBeCloseTo(1, 12);
    expect(f.maxSimAbsDiff.max).toBe(0);
  });

  it("changed outputs show up in each measure", () => {
    const b = [enc([0.6, 0.8], [[5, 0.5], [9, 0.25]], [[0, 1], [0, 1]]), enc([0, 1], [[5, 0.1]], [[0.6, 0.8]])];
    const f = compareEncodings(a, b);
    expect(f.denseCosine.min).toBeCloseTo(0.6, 6);
    expect(f.sparseCosine.min).toBeCloseTo(0.25 / 0.3125, 6);
    expect(f.sparseMaxRelDiff).toBeCloseTo(0.5, 6); // weight 0.25 moved to another id; top weight 0.5
    expect(f.colbertRowCosine.min).toBeCloseTo(0, 6);
    expect(f.maxSimAbsDiff.max).toBeGreaterThan(0);
    expect(() => compareEncodings(a, b.slice(1))).toThrow(RangeError);
  });
});

describe("the ONNX reader", () => {
  it("reads the fixture graph: nodes, initializers with their external data, inputs and outputs", () => {
    const m = parseModel(readFileSync(join(TINY, "onnx/model.onnx")));
    expect(m.opsets.get("")).toBe(17);
    expect(m.inputs).toEqual(["input_ids", "attention_mask"]);
    expect(m.outputs).toEqual(["last_hidden_state"]);
    expect(m.nodes.filter((n) => n.opType === "MatMul").length).toBe(16);
    const q = m.initializers.find((t) => t.name === "encoder.layer.0.attention.self.query.weight")!;
    expect(q.dims).toEqual([32, 32]);
    expect(q.dataType).toBe(OnnxType.FLOAT);
    expect(q.external).toMatchObject({ location: "model.onnx_data", length: 4096 });
  });
});

describe("quantizeModel", () => {
  it("writes onnx/model_quantized.onnx that loads as int8 and matches fp32 and the golden closely", async () => {
    const dir = copyModel();
    const r = await quantizeModel(dir);
    expect(r.file).toBe(join(dir, "onnx", QUANTIZED_FILE));
    expect(r.scales).toBe("per-column");
    expect(r.stats).toMatchObject({ matmuls: 12, gathers: 2 }); // 2 layers × 6 Linear; word + position tables
    expect(r.stats.bytesAfter).toBeLessThan(r.stats.bytesBefore / 3);
    expect(statSync(r.file).size).toBe(r.bytes);
    expect(onnxFiles(dir)).toEqual(["model.onnx", "model.onnx_data", "model_fp16.onnx", QUANTIZED_FILE, "tokenizer.json"]);

    const q = parseModel(readFileSync(r.file));
    const ops = new Set(q.nodes.map((n) => n.opType));
    expect(ops.has("MatMulInteger")).toBe(true);
    expect(ops.has("DynamicQuantizeLinear")).toBe(true);
    const inits = new Set(q.initializers.map((t) => t.name));
    // Only the attention products (two activations) stay fp32 MatMuls; no fp32 weight is left.
    for (const n of q.nodes.filter((x) => x.opType === "MatMul")) expect(inits.has(n.inputs[1]!)).toBe(false);
    expect(q.initializers.every((t) => t.external === undefined)).toBe(true);
    expect(inits.has("embeddings.word_embeddings.weight")).toBe(false);

    const fp32 = await M3Encoder.load({ modelPath: dir, intraOpNumThreads: 1 });
    const int8 = await M3Encoder.load({ modelPath: dir, variant: "int8", intraOpNumThreads: 1 });
    try {
      expect(int8.info?.files).toContain(join("onnx", QUANTIZED_FILE));
      const cases = golden.cases.filter((c) => c.maxLength === golden.fullMaxLength);
      const texts = cases.map((c) => c.text);
      const [a, b] = [await fp32.encode(texts), await int8.encode(texts)];
      const f = compareEncodings(a, b);
      expect(f.denseCosine.min).toBeGreaterThan(0.995);
      expect(f.colbertRowCosine.min).toBeGreaterThan(0.99);
      expect(f.sparseCosine.min).toBeGreaterThan(0.99);
      expect(f.maxSimAbsDiff.max).toBeLessThan(0.02);
      const errs = cases.flatMap((c, i) => compare(b[i]!, c, { minCos: 0.99, sparseTol: 0.15 }));
      expect(errs).toEqual([]);
    } finally {
      await fp32.dispose();
      await int8.dispose();
    }
  });

  it("per-tensor scales work too, a little less close", async () => {
    const dir = copyModel();
    const r = await quantizeModel(dir, { scales: "per-tensor" });
    expect(r.scales).toBe("per-tensor");
    const fp32 = await M3Encoder.load({ modelPath: dir, intraOpNumThreads: 1 });
    const int8 = await M3Encoder.load({ modelPath: dir, variant: "int8", intraOpNumThreads: 1 });
    const texts = golden.cases.slice(0, 8).map((c) => c.text);
    const f = compareEncodings(await fp32.encode(texts), await int8.encode(texts));
    expect(f.denseCosine.min).toBeGreaterThan(0.99);
    await fp32.dispose();
    await int8.dispose();
  });

  it("an existing int8 file is kept unless overwrite", async () => {
    const dir = copyModel();
    writeFileSync(join(dir, "onnx", QUANTIZED_FILE), "keep me");
    const e = await codeOf(quantizeModel(dir));
    expect(e.code).toBe("INVALID_ARGUMENT");
    expect(e.message).toMatch(/already exists; pass overwrite: true \(m3 quantize --force\)/);
    expect(readFileSync(join(dir, "onnx", QUANTIZED_FILE), "utf8")).toBe("keep me");
    await quantizeModel(dir, { overwrite: true });
    expect(statSync(join(dir, "onnx", QUANTIZED_FILE)).size).toBeGreaterThan(1000);
  });

  it("refuses an already-quantised graph", async () => {
    const dir = copyModel();
    copyFileSync(join(TINY, "onnx", QUANTIZED_FILE), join(dir, "onnx", "model.onnx"));
    const e = await codeOf(quantizeModel(dir));
    expect(e.code).toBe("INVALID_ARGUMENT");
    expect(e.message).toMatch(/is already quantised \(it has (DynamicQuantizeLinear|MatMulInteger|DequantizeLinear) nodes\)/);
    expect(existsSync(join(dir, "onnx", QUANTIZED_FILE))).toBe(false);
  });

  it("refuses graphs that are not a BGE-M3 encoder", async () => {
    const heads = await codeOf(quantizeModel(join(FIXTURES, "models/three-heads-aapot")));
    expect(heads.code).toBe("INVALID_ARGUMENT");
    expect(heads.message).toMatch(/is not an encoder-only BGE-M3 graph/);

    // Right names, but nothing to quantise (no MatMul with a weight).
    const dir = copyModel();
    const g = graph("identity", [node("Identity", ["input_ids"], ["last_hidden_state"], "id")], [],
      [valueInfo("input_ids", OnnxType.INT64, ["b", "l"])], [valueInfo("last_hidden_state", OnnxType.INT64, ["b", "l"])]);
    writeFileSync(join(dir, "onnx", "model.onnx"), model(g, 17));
    const none = await codeOf(quantizeModel(dir));
    expect(none.code).toBe("INVALID_ARGUMENT");
    expect(none.message).toMatch(/no MatMul with a constant float weight/);

    const noHeads = copyModel();
    rmSync(join(noHeads, "colbert_linear.pt"));
    expect((await codeOf(quantizeModel(noHeads))).code).toBe("MODEL_NOT_FOUND");
    expect((await codeOf(quantizeModel(join(tmpdir(), "no-such-model-dir")))).code).toBe("MODEL_NOT_FOUND");
    expect((await codeOf(quantizeModel(copyModel(), { scales: "per-row" as never }))).code).toBe("INVALID_ARGUMENT");
  });

  it("a corrupt graph or truncated external data fails typed and leaves no file behind", async () => {
    const bad = copyModel();
    writeFileSync(join(bad, "onnx", "model.onnx"), Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 1, 2]));
    expect((await codeOf(quantizeModel(bad))).code).toBe("MODEL_INVALID");
    expect(onnxFiles(bad)).not.toContain(QUANTIZED_FILE);

    const cut = copyModel();
    truncateSync(join(cut, "onnx", "model.onnx_data"), 100_000);
    const e = await codeOf(quantizeModel(cut));
    expect(e.code).toBe("MODEL_INVALID");
    expect(e.message).toMatch(/model\.onnx_data ends before the data of/);
    expect(onnxFiles(cut)).toEqual(["model.onnx", "model.onnx_data", "model_fp16.onnx", "tokenizer.json"]);
  });

  it("an abort stops it with ABORTED and nothing written", async () => {
    const dir = copyModel();
    const ac = new AbortController();
    const e = await codeOf(quantizeModel(dir, { signal: ac.signal, onProgress: (done) => done === 3 && ac.abort() }));
    expect(e.code).toBe("ABORTED");
    expect(onnxFiles(dir)).toEqual(["model.onnx", "model.onnx_data", "model_fp16.onnx", "tokenizer.json"]);
  });
});
