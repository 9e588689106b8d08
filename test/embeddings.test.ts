/** M3Embeddings: the LangChain adapter over the encoder, checked against the golden outputs. */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Embeddings } from "@langchain/core/embeddings";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

// Model loads and runs on a busy 2-core machine can exceed the 5 s default.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });
import { M3Embeddings } from "../src/langchain/embeddings.js";
import { colbertScore, combineScores, denseScore, lexicalScore } from "../src/math/scores.js";
import { readGolden } from "./helpers/m3-golden.js";

const MODELS = join(import.meta.dirname, "fixtures/models");
const golden = readGolden(join(MODELS, "../golden/tiny.json"));
const byName = new Map(golden.cases.map((c) => [c.name, c]));
const close = (a: number, b: number, rel = 1e-5) => Math.abs(a - b) <= rel * Math.max(1, Math.abs(b));

describe("M3Embeddings", () => {
  let emb: M3Embeddings;
  beforeAll(() => {
    emb = new M3Embeddings({ modelPath: join(MODELS, "encoder-only"), maxRetries: 0 });
  });
  afterAll(() => emb.dispose());

  it("is a LangChain Embeddings and loads lazily", async () => {
    expect(emb).toBeInstanceOf(Embeddings);
    expect(emb.info).toBeUndefined();
    const v = await emb.embedQuery(byName.get("english")!.text);
    expect(emb.info?.layout).toBe("encoder-only");
    expect(Array.isArray(v)).toBe(true);
    const want = byName.get("english")!.dense;
    v.forEach((x, i) => expect(Math.abs(x - want[i]!)).toBeLessThan(1e-5));
  });

  it("embedDocuments returns the golden dense vectors as number[][] in order", async () => {
    const cases = golden.cases.filter((c) => c.maxLength === golden.fullMaxLength);
    const vs = await emb.embedDocuments(cases.map((c) => c.text));
    expect(vs).toHaveLength(cases.length);
    vs.forEach((v, i) => {
      expect(v).toHaveLength(golden.hidden);
      v.forEach((x, k) => expect(Math.abs(x - cases[i]!.dense[k]!), cases[i]!.name).toBeLessThan(1e-5));
    });
    expect(await emb.embedDocuments([])).toEqual([]);
  });

  it("computeScore matches the reference's pair scores", async () => {
    const pairs = golden.pairs.filter((p) => byName.get(p.query)!.maxLength === golden.fullMaxLength && byName.get(p.passage)!.maxLength === golden.fullMaxLength);
    expect(pairs.length).toBeGreaterThanOrEqual(4);
    const got = await emb.computeScore(pairs.map((p) => [byName.get(p.query)!.text, byName.get(p.passage)!.text]));
    pairs.forEach((p, i) => {
      const g = got[i]!;
      expect(close(g.dense, p.dense), `${p.query}/${p.passage} dense`).toBe(true);
      expect(close(g.sparse, p.lexical), `${p.query}/${p.passage} lexical ${g.sparse} vs ${p.lexical}`).toBe(true);
      expect(close(g.colbert, p.colbert), `${p.query}/${p.passage} colbert`).toBe(true);
      expect(close(g.combined, p.combined), `${p.query}/${p.passage} combined`).toBe(true);
    });
    const w = await emb.computeScore([[pairs[0]!.query, pairs[0]!.passage]], { dense: 1, sparse: 0, colbert: 0 });
    expect(w[0]!.combined).toBeCloseTo(w[0]!.dense, 12);
  });

  it("pair scores from encode() outputs, including a truncated passage", async () => {
    for (const p of golden.pairs) {
      const q = byName.get(p.query)!;
      const d = byName.get(p.passage)!;
      const [a] = await emb.encode([q.text], { maxLength: q.maxLength });
      const [b] = await emb.encode([d.text], { maxLength: d.maxLength });
      const s = { dense: denseScore(a!.dense!, b!.dense!), sparse: lexicalScore(a!.sparse!, b!.sparse!), colbert: colbertScore(a!.colbert!, b!.colbert!) };
      expect(close(s.dense, p.dense) && close(s.sparse, p.lexical) && close(s.colbert, p.colbert), `${p.query}/${p.passage}`).toBe(true);
      const [w1, w2, w3] = p.weights as [number, number, number];
      expect(close(combineScores(s, { dense: w1, sparse: w2, colbert: w3 }), p.combined)).toBe(true);
    }
  });

  it("rejects bad input with typed errors", async () => {
    await expect(emb.embedDocuments(["a", null as never])).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringMatching(/texts\[1\] must be a string/) });
    await expect(emb.embedQuery(5 as never)).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(emb.computeScore([["a"]] as never)).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringMatching(/pairs\[0\]/) });
    await expect(emb.computeScore([["a", "b"]], { dense: NaN, sparse: 1, colbert: 1 })).rejects.toMatchObject({ code: "OUT_OF_RANGE" });
    await expect(emb.encode(["a"], { maxLength: 0 })).rejects.toMatchObject({ code: "OUT_OF_RANGE" });
    expect(() => new M3Embeddings({} as never)).toThrow(/modelPath must be the path/);
  });

  it("fingerprint, explicit load and dispose", async () => {
    const e = new M3Embeddings({ modelPath: join(MODELS, "three-heads-aapot") });
    await e.load();
    expect(await e.fingerprint()).toMatchObject({ layout: "three-heads-aapot", hiddenSize: golden.hidden, vocabSize: golden.vocab });
    await e.dispose();
    await expect(e.embedQuery("x")).rejects.toMatchObject({ code: "DISPOSED" });
  });
});

describe("M3Embeddings.fromPretrained", () => {
  const cache = mkdtempSync(join(tmpdir(), "m3-emb-hub-"));
  afterAll(() => rmSync(cache, { recursive: true, force: true }));

  it("loads a model from the Hugging Face cache (offline)", async () => {
    const commit = "0123456789abcdef0123456789abcdef01234567";
    const repo = join(cache, "models--yuniko-software--bge-m3-onnx");
    mkdirSync(join(repo, "refs"), { recursive: true });
    writeFileSync(join(repo, "refs", "main"), commit);
    cpSync(join(MODELS, "three-heads-yuniko"), join(repo, "snapshots", commit), { recursive: true });
    const e = await M3Embeddings.fromPretrained("yuniko-software/bge-m3-onnx", { cacheDir: cache, localFilesOnly: true });
    expect(e.info?.layout).toBe("three-heads-yuniko");
    const v = await e.embedQuery(byName.get("english")!.text);
    v.forEach((x, k) => expect(Math.abs(x - byName.get("english")!.dense[k]!)).toBeLessThan(1e-5));
    await e.dispose();
  });
});
