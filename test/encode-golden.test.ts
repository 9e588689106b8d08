/**
 * Golden tests: every layout and variant of every fixture root (test/fixtures/models and
 * M3_EXTRA_FIXTURES) against the torch oracle, one text at a time and in padded mixed-length
 * batches. Exact variants: ids exactly, floats within the golden tolerance (1e-5).
 * int8 / fp16 (approximate by construction; the golden is fp32): dense and every ColBERT row
 * cosine >= 0.99, lexical weights within 4 × the variant's measured max deviation from the
 * oracle (index.json `maxAbsDevOutputs`), key sets equal except for weights below that bound.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

// Model loads and runs on a busy 2-core machine can exceed the 5 s default.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });
import { M3Encoder } from "../src/encode/encoder.js";
import { compare, fixtureVariants } from "./helpers/m3-golden.js";

const MIN_COS = 0.99;

for (const fx of fixtureVariants()) {
  describe(`golden ${fx.label}`, () => {
    const g = fx.golden;
    const opts = fx.exact ? { tol: g.tolerance } : { minCos: MIN_COS, sparseTol: 4 * fx.maxAbsDevOutputs };
    let single: M3Encoder;
    let batched: M3Encoder;
    beforeAll(async () => {
      single = await M3Encoder.load({ modelPath: fx.dir, variant: fx.variant, intraOpNumThreads: 1 });
      // A small token budget and size cap: many batches, each padded to its own longest text.
      batched = await M3Encoder.load({ modelPath: fx.dir, variant: fx.variant, intraOpNumThreads: 1, batchTokens: 160, maxBatchSize: 7 });
    });
    afterAll(async () => {
      await single?.dispose();
      await batched?.dispose();
    });

    it("detects the layout and the model's sizes", async () => {
      expect(single.info).toMatchObject({ layout: fx.layout, variant: fx.variant, hiddenSize: g.hidden, maxLength: g.fullMaxLength });
      const fp = await single.fingerprint();
      expect(fp).toMatchObject({ layout: fx.layout, hiddenSize: g.hidden });
      expect(fp.tokenizerSha256).toMatch(/^[0-9a-f]{64}$/);
    });

    it("token ids match exactly", async () => {
      for (const c of g.cases) {
        const [ids] = await single.tokenize([c.text], { maxLength: c.maxLength });
        expect(Array.from(ids!), c.name).toEqual(c.ids);
      }
    });

    it("one text at a time", async () => {
      const errs: string[] = [];
      for (const c of g.cases) {
        const [e] = await single.encode([c.text], { maxLength: c.maxLength });
        errs.push(...compare(e!, c, opts));
      }
      expect(errs).toEqual([]);
    });

    it("mixed-length padded batches, input order restored", async () => {
      const errs: string[] = [];
      for (const maxLength of new Set(g.cases.map((c) => c.maxLength))) {
        const cases = g.cases.filter((c) => c.maxLength === maxLength);
        const enc = await batched.encode(cases.map((c) => c.text), { maxLength });
        cases.forEach((c, i) => errs.push(...compare(enc[i]!, c, opts)));
      }
      expect(errs).toEqual([]);
    });

    it("requesting a subset of outputs gives exactly those, with the same values", async () => {
      const texts = g.cases.slice(0, 6).map((c) => c.text);
      const all = await batched.encode(texts);
      const dense = await batched.encode(texts, { sparse: false, colbert: false });
      const sparse = await batched.encode(texts, { dense: false, colbert: false });
      const colbert = await batched.encode(texts, { dense: false, sparse: false });
      texts.forEach((_, i) => {
        expect(Object.keys(dense[i]!).sort()).toEqual(["dense", "tokenCount"]);
        expect(Object.keys(sparse[i]!).sort()).toEqual(["sparse", "tokenCount"]);
        expect(Object.keys(colbert[i]!).sort()).toEqual(["colbert", "tokenCount"]);
        expect(dense[i]!.dense).toEqual(all[i]!.dense);
        expect(sparse[i]!.sparse).toEqual(all[i]!.sparse);
        expect(colbert[i]!.colbert).toEqual(all[i]!.colbert);
      });
    });
  });
}
