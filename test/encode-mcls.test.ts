/**
 * MCLS against the torch oracle (golden/tiny-mcls.json from scripts/fixtures/make_golden_mcls.py):
 * ids with the inserted <s>, dense = mean over the <s> states, sparse/ColBERT without the
 * inserted rows; one text at a time and in padded batches. Plus the pure helpers and the
 * typed errors.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { M3Encoder } from "../src/encode/encoder.js";
import { insertCls, mclsContentBudget, mclsMinLength } from "../src/encode/mcls.js";
import { isM3Error, type ErrorCode } from "../src/errors.js";
import { compare, readGolden } from "./helpers/m3-golden.js";
import { readFileSync } from "node:fs";

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

const FIXTURES = join(import.meta.dirname, "fixtures");
const TINY = join(FIXTURES, "models/encoder-only");
const GOLDEN = join(FIXTURES, "golden/tiny-mcls.json");
const golden = readGolden(GOLDEN);
const raw = JSON.parse(readFileSync(GOLDEN, "utf8")) as { cases: Array<{ name: string; mclsStep: number; cls: number[] }> };
const stepOf = new Map(raw.cases.map((c) => [c.name, c.mclsStep]));
const clsOf = new Map(raw.cases.map((c) => [c.name, c.cls]));
const steps = [...new Set(raw.cases.map((c) => c.mclsStep))];

async function failure(p: Promise<unknown> | (() => unknown)): Promise<ErrorCode> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    if (isM3Error(e)) return e.code;
    throw e;
  }
  throw new Error("expected a failure");
}

describe("MCLS helpers", () => {
  it("content budget: n + ceil(n/step) + 1 <= maxLength, the most such n", () => {
    expect(mclsContentBudget(512, 256)).toBe(509);
    expect(mclsContentBudget(8192, 256)).toBe(8159); // 8159 + 32 + 1 = 8192
    expect(mclsContentBudget(20, 8)).toBe(16);
    expect(mclsContentBudget(260, 256)).toBe(257); // the smallest maxLength with one inserted <s>
    expect(mclsContentBudget(259, 256)).toBe(256);
    expect(mclsContentBudget(2, 256)).toBe(0);
    for (const [M, S] of [[512, 256], [300, 7], [8192, 256], [33, 16]] as const) {
      const n = mclsContentBudget(M, S);
      expect(n + Math.ceil(n / S) + 1).toBeLessThanOrEqual(M);
      expect(n + 1 + Math.ceil((n + 1) / S) + 1).toBeGreaterThan(M);
    }
    expect(mclsMinLength(256)).toBe(260);
  });

  it("inserts <s> before every block of step content tokens, none before </s>", () => {
    const ids = Int32Array.from([0, 11, 12, 13, 14, 15, 2]);
    expect(insertCls(ids, 2, 0)).toEqual({ ids: Int32Array.from([0, 11, 12, 0, 13, 14, 0, 15, 2]), cls: Int32Array.from([0, 3, 6]) });
    expect(insertCls(Int32Array.from([0, 11, 12, 13, 14, 2]), 2, 0).cls).toEqual(Int32Array.from([0, 3]));
    const short = Int32Array.from([0, 11, 2]);
    expect(insertCls(short, 2, 0)).toEqual({ ids: short, cls: Int32Array.of(0) });
    expect(insertCls(Int32Array.from([0, 2]), 2, 0).cls).toEqual(Int32Array.of(0));
  });
});

describe("MCLS golden (fixtures/encoder-only/fp32)", () => {
  const encoders = new Map<number, M3Encoder>();
  beforeAll(async () => {
    for (const step of steps) encoders.set(step, await M3Encoder.load({ modelPath: TINY, mcls: true, mclsStep: step, intraOpNumThreads: 1 }));
  });
  afterAll(async () => {
    for (const e of encoders.values()) await e.dispose();
  });

  it("the golden covers several inserted <s>, truncation and the trivial cases", () => {
    expect(golden.cases.length).toBeGreaterThanOrEqual(10);
    expect(Math.max(...[...clsOf.values()].map((c) => c.length))).toBeGreaterThanOrEqual(3);
    expect(golden.cases.some((c) => c.ids.length === c.maxLength)).toBe(true);
    expect([...clsOf.values()].some((c) => c.length === 1)).toBe(true);
  });

  it("one text at a time: ids, dense, sparse and ColBERT within 1e-5", async () => {
    const errs: string[] = [];
    for (const c of golden.cases) {
      const e = encoders.get(stepOf.get(c.name)!)!;
      expect(e.info?.mclsStep).toBe(stepOf.get(c.name));
      const [got] = await e.encode([c.text], { maxLength: c.maxLength });
      errs.push(...compare(got!, c, { tol: golden.tolerance }));
    }
    expect(errs).toEqual([]);
  });

  it("in padded mixed-length batches: the same numbers", async () => {
    const errs: string[] = [];
    for (const step of steps) {
      for (const ml of new Set(golden.cases.map((c) => c.maxLength))) {
        const cases = golden.cases.filter((c) => stepOf.get(c.name) === step && c.maxLength === ml);
        if (cases.length === 0) continue;
        const got = await encoders.get(step)!.encode(cases.map((c) => c.text), { maxLength: ml });
        cases.forEach((c, i) => errs.push(...compare(got[i]!, c, { tol: golden.tolerance })));
      }
    }
    expect(errs).toEqual([]);
  });

  it("a text of at most step content tokens encodes exactly as without MCLS; a long one's dense differs", async () => {
    const plain = await M3Encoder.load({ modelPath: TINY, intraOpNumThreads: 1 });
    try {
      const short = golden.cases.find((c) => c.name === "short_step256")!;
      const long = golden.cases.find((c) => c.name === "long_step256")!;
      const [a, b] = await plain.encode([short.text, long.text]);
      const [x, y] = await encoders.get(256)!.encode([short.text, long.text]);
      expect(x!.dense).toEqual(a!.dense);
      expect(x!.colbert).toEqual(a!.colbert);
      expect(x!.tokenCount).toBe(a!.tokenCount);
      let dot = 0;
      for (let i = 0; i < y!.dense!.length; i++) dot += y!.dense![i]! * b!.dense![i]!;
      expect(dot).toBeLessThan(0.9999);
      expect(y!.tokenCount).toBe(b!.tokenCount); // 510 content tokens -> 509 + one inserted <s>
      expect(y!.colbert!.tokens).toBe(b!.colbert!.tokens - 1);
    } finally {
      await plain.dispose();
    }
  });

  it("tokenize() returns the tokenizer's ids (no inserted <s>)", async () => {
    const long = golden.cases.find((c) => c.name === "long_step256")!;
    const [ids] = await encoders.get(256)!.tokenize([long.text]);
    expect(Array.from(ids!).filter((t) => t === 0).length).toBe(1);
  });
});

describe("MCLS bad input", () => {
  it("mcls not a boolean -> INVALID_ARGUMENT; mclsStep out of range -> OUT_OF_RANGE", async () => {
    expect(await failure(() => new M3Encoder({ modelPath: TINY, mcls: "yes" as never }))).toBe("INVALID_ARGUMENT");
    expect(await failure(() => new M3Encoder({ modelPath: TINY, mcls: true, mclsStep: 0 }))).toBe("OUT_OF_RANGE");
    expect(await failure(() => new M3Encoder({ modelPath: TINY, mcls: true, mclsStep: 1.5 }))).toBe("OUT_OF_RANGE");
  });

  it("a maxLength option below the step -> INVALID_ARGUMENT saying what is needed", async () => {
    expect(() => new M3Encoder({ modelPath: TINY, mcls: true, maxLength: 200 })).toThrow(/needs a maxLength of at least 260; the maxLength option is 200/);
    expect(await failure(() => new M3Encoder({ modelPath: TINY, mcls: true, maxLength: 259 }))).toBe("INVALID_ARGUMENT");
    // Without mcls the same maxLength is fine.
    expect(() => new M3Encoder({ modelPath: TINY, maxLength: 200 })).not.toThrow();
  });

  it("a model whose maxLength is below the step -> INVALID_ARGUMENT at load", async () => {
    const e = new M3Encoder({ modelPath: TINY, mcls: true, mclsStep: 600 });
    await expect(e.load()).rejects.toThrow(/needs a maxLength of at least 604; this model's maxLength .* is 512/);
    expect(await failure(M3Encoder.load({ modelPath: TINY, mcls: true, mclsStep: 509 }))).toBe("INVALID_ARGUMENT");
  });

  it("a graph with the heads inside -> INVALID_ARGUMENT naming the layout", async () => {
    const e = M3Encoder.load({ modelPath: join(FIXTURES, "models/three-heads-aapot"), mcls: true, mclsStep: 16 });
    await expect(e).rejects.toThrow(/mcls needs the per-token hidden states of an encoder-only graph.*three-heads-aapot/);
  });
});
