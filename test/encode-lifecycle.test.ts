/** Encoder lifecycle on the fixture models: concurrency, dispose, broken files, options. */
import { cpSync, mkdtempSync, rmSync, writeFileSync, readFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

// Model loads and runs on a busy 2-core machine can exceed the 5 s default.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });
import { M3Encoder } from "../src/encode/encoder.js";
import { isM3Error } from "../src/errors.js";
import { readGolden } from "./helpers/m3-golden.js";

const MODELS = join(import.meta.dirname, "fixtures/models");
const golden = readGolden(join(MODELS, "../golden/tiny.json"));
const texts = golden.cases.map((c) => c.text);

function copyModel(folder: string): string {
  const dir = mkdtempSync(join(tmpdir(), "m3model-"));
  cpSync(join(MODELS, folder), dir, { recursive: true });
  return dir;
}

async function loadError(options: ConstructorParameters<typeof M3Encoder>[0]): Promise<Error & { code: string }> {
  try {
    const e = await M3Encoder.load(options);
    await e.dispose();
  } catch (err) {
    if (isM3Error(err)) return err as Error & { code: string };
    throw err;
  }
  throw new Error("expected the load to fail");
}

describe("concurrency and dispose", () => {
  let enc: M3Encoder;
  beforeAll(async () => {
    enc = await M3Encoder.load({ modelPath: join(MODELS, "encoder-only"), batchTokens: 200, maxBatchSize: 4 });
  });
  afterAll(() => enc.dispose());

  it("parallel encode calls on one instance equal sequential ones", async () => {
    const parts = [texts.slice(0, 10), texts.slice(10, 25), texts.slice(25), texts.slice(3, 8)];
    const sequential = [];
    for (const p of parts) sequential.push(await enc.encode(p));
    const parallel = await Promise.all(parts.map((p, i) => enc.encode(p, { dense: true, sparse: true, colbert: true, maxLength: i === 3 ? 8192 : undefined })));
    expect(parallel).toEqual(sequential);
  });

  it("dispose lets in-flight calls finish, then refuses new ones", async () => {
    const e = await M3Encoder.load({ modelPath: join(MODELS, "three-heads-aapot"), batchTokens: 100 });
    const inflight = e.encode(texts);
    const disposed = e.dispose();
    const res = await inflight;
    await disposed;
    expect(res).toHaveLength(texts.length);
    await expect(e.encode(["x"])).rejects.toMatchObject({ code: "DISPOSED" });
    await expect(e.tokenize(["x"])).rejects.toMatchObject({ code: "DISPOSED" });
    expect(e.info).toBeUndefined();
  });

  it("loads lazily on first encode and exposes info afterwards", async () => {
    const e = new M3Encoder({ modelPath: join(MODELS, "three-heads-yuniko") });
    expect(e.info).toBeUndefined();
    const [r] = await e.encode(["hello"], { sparse: false, colbert: false });
    expect(r!.dense!.length).toBe(golden.hidden);
    expect(e.info?.files).toEqual(["bge_m3_model.onnx", "tokenizer.json", "config.json"]);
    await e.dispose();
  });

  it("accepts the onnx/ subfolder itself as modelPath (heads one folder up)", async () => {
    // Same batching as `enc`: the fused kernels differ in the last bits between padded and unpadded passes.
    const e = await M3Encoder.load({ modelPath: join(MODELS, "encoder-only", "onnx"), batchTokens: 200, maxBatchSize: 4 });
    expect(e.info).toMatchObject({ layout: "encoder-only", files: ["model.onnx", "tokenizer.json", "../config.json", "../sparse_linear.pt", "../colbert_linear.pt"] });
    expect(await e.encode(texts.slice(0, 5))).toEqual(await enc.encode(texts.slice(0, 5)));
    await e.dispose();
  });

  it("clamps maxLength to the model's position table", async () => {
    const long = "word ".repeat(2000);
    const [r] = await enc.encode([long], { maxLength: 8192 });
    expect(r!.tokenCount).toBe(golden.fullMaxLength);
    const [s] = await enc.encode([long], { maxLength: 20 });
    expect(s!.tokenCount).toBe(20);
    expect(s!.colbert!.tokens).toBe(19);
  });

  it("reports through the logger, never the console", async () => {
    const seen: string[] = [];
    const e = await M3Encoder.load({ modelPath: join(MODELS, "three-heads-aapot"), logger: { debug: (m) => seen.push(m) } });
    await e.encode(["a", "b"]);
    await e.dispose();
    expect(seen).toContain("bge-m3 model loaded");
    expect(seen).toContain("bge-m3 encode");
  });
});

describe("head files stored as fp32", () => {
  it("give the same outputs as the fp16 originals (same values, other zip prefix)", async () => {
    const dir = copyModel("encoder-only");
    for (const n of ["sparse_linear", "colbert_linear"]) copyFileSync(join(MODELS, "../pt", `${n}.fp32.pt`), join(dir, `${n}.pt`));
    const a = await M3Encoder.load({ modelPath: dir });
    const b = await M3Encoder.load({ modelPath: join(MODELS, "encoder-only") });
    expect(await a.encode(texts.slice(0, 12))).toEqual(await b.encode(texts.slice(0, 12)));
    await Promise.all([a.dispose(), b.dispose()]);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("broken model files", () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const broken = (folder: string) => {
    const d = copyModel(folder);
    dirs.push(d);
    return d;
  };

  it("a truncated colbert_linear.pt -> MODEL_INVALID naming it", async () => {
    const dir = broken("encoder-only");
    const bytes = readFileSync(join(dir, "colbert_linear.pt"));
    writeFileSync(join(dir, "colbert_linear.pt"), bytes.subarray(0, bytes.length >> 1));
    const e = await loadError({ modelPath: dir });
    expect(e.code).toBe("MODEL_INVALID");
    expect(e.message).toMatch(/Cannot read colbert_linear\.pt: .*re-download/s);
  });

  it("head files of another model size -> MODEL_INVALID with both shapes", async () => {
    const dir = broken("encoder-only");
    copyFileSync(join(import.meta.dirname, "data/pt/sparse_fp16.pt"), join(dir, "sparse_linear.pt"));
    const e = await loadError({ modelPath: dir });
    expect(e.code).toBe("MODEL_INVALID");
    // Refused from the declared shape, before the tensor is read (issue 11).
    expect(e.message).toMatch(new RegExp(`sparse_linear\\.pt: tensor "weight" has shape \\[1, 6\\], expected every dimension to be 1 or ${golden.hidden}`));
  });

  it("a missing external-data file -> MODEL_INVALID mentioning the sidecar", async () => {
    const dir = broken("three-heads-yuniko");
    rmSync(join(dir, "bge_m3_model.onnx_data"));
    const e = await loadError({ modelPath: dir });
    expect(e.code).toBe("MODEL_INVALID");
    expect(e.message).toMatch(/bge_m3_model\.onnx.*external-data file/s);
  });

  it("a truncated graph -> MODEL_INVALID naming it", async () => {
    const dir = broken("three-heads-aapot");
    const bytes = readFileSync(join(dir, "model.onnx"));
    writeFileSync(join(dir, "model.onnx"), bytes.subarray(0, 100));
    const e = await loadError({ modelPath: dir });
    expect(e.code).toBe("MODEL_INVALID");
    expect(e.message).toMatch(/onnxruntime cannot load .*model\.onnx/);
  });

  it("a corrupt config.json -> MODEL_INVALID", async () => {
    const dir = broken("three-heads-aapot");
    writeFileSync(join(dir, "config.json"), "{ nope");
    const e = await loadError({ modelPath: dir });
    expect(e.code).toBe("MODEL_INVALID");
    expect(e.message).toMatch(/config\.json/);
  });
});
