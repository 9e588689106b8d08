/** The attention-memory budget: the planner keeps texts × L² per pass within it, the encoder passes it on and checks it. */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_ATTENTION_BUDGET, planBatches } from "../src/encode/batching.js";
import { M3Encoder } from "../src/encode/encoder.js";
import { resolveEncoderOptions } from "../src/encode/options.js";
import { isM3Error } from "../src/errors.js";

const MODELS = join(import.meta.dirname, "fixtures/models");

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe("attention budget in the batch planner", () => {
  it("runs long texts alone under the default budget that batchTokens alone would pair", () => {
    const lengths = [8192, 8192, 8192, 8192];
    expect(planBatches(lengths, 16384, 64, Infinity).map((b) => b.items.length)).toEqual([2, 2]);
    const bounded = planBatches(lengths, 16384, 64);
    expect(bounded.map((b) => b.items.length)).toEqual([1, 1, 1, 1]);
    expect(planBatches(lengths, 16384, 64, DEFAULT_ATTENTION_BUDGET)).toEqual(bounded);
  });
  it("keeps every multi-text pass within texts × L² <= budget, and still packs what fits", () => {
    let seed = 7;
    const next = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed / 2 ** 31);
    const lengths = Array.from({ length: 300 }, () => 2 + Math.floor(2 ** (next() * 12)));
    const budget = 3 * 1024 * 1024;
    const batches = planBatches(lengths, 1 << 20, 64, budget);
    expect(batches.flatMap((b) => b.items).sort((a, b) => a - b)).toEqual(lengths.map((_, i) => i));
    for (const b of batches) if (b.items.length > 1) expect(b.items.length * b.length * b.length).toBeLessThanOrEqual(budget);
    // The budget binds here: without it some pass would exceed it.
    const free = planBatches(lengths, 1 << 20, 64, Infinity);
    expect(free.some((b) => b.items.length * b.length * b.length > budget)).toBe(true);
    // ...and it does not split what fits: 3 texts of 1024 make one pass.
    expect(planBatches([1024, 1024, 1024], 1 << 20, 64, budget)).toEqual([{ items: [0, 1, 2], length: 1024 }]);
  });
});

describe("attentionBudget option", () => {
  it("defaults to 8192² and is validated like the other integers", () => {
    expect(resolveEncoderOptions({ modelPath: "/m" }).attentionBudget).toBe(8192 * 8192);
    for (const v of [0, 1.5, NaN, "big"]) {
      const e = thrown(() => resolveEncoderOptions({ modelPath: "/m", attentionBudget: v as never }));
      expect(isM3Error(e, "OUT_OF_RANGE")).toBe(true);
      expect((e as Error).message).toMatch(/attentionBudget must be an integer/);
    }
  });
  it("a budget too small for one text at maxLength is INVALID_ARGUMENT at construction, saying what to set", () => {
    const e = thrown(() => new M3Encoder({ modelPath: "/m", attentionBudget: 4096 * 4096 }));
    expect(isM3Error(e, "INVALID_ARGUMENT")).toBe(true);
    expect((e as Error).message).toMatch(/too small for one text of 8192 tokens.*attentionBudget to at least 67108864, or maxLength to at most 4096/);
    expect(new M3Encoder({ modelPath: "/m", attentionBudget: 4096 * 4096, maxLength: 4096 })).toBeInstanceOf(M3Encoder);
  });
});

describe("attentionBudget in the encoder", () => {
  const passes: number[] = [];
  let enc: M3Encoder;
  let free: M3Encoder;
  const logger = { debug: (_m: string, f?: Record<string, unknown>) => void passes.push(f?.batches as number) };
  // Four texts of 40 tokens: batchTokens lets them share one pass; a budget of 2 × 40² splits them in two.
  const texts = Array.from({ length: 4 }, (_, i) => Array.from({ length: 38 }, (_, k) => ["hello", "world", "tide", "moon"][(i + k) % 4]).join(" "));
  beforeAll(async () => {
    enc = await M3Encoder.load({ modelPath: join(MODELS, "encoder-only"), maxLength: 40, attentionBudget: 2 * 40 * 40, logger });
    free = await M3Encoder.load({ modelPath: join(MODELS, "encoder-only"), maxLength: 40, logger });
  });
  afterAll(async () => {
    await enc?.dispose();
    await free?.dispose();
  });
  it("plans its passes within the budget and encodes the same as without it", async () => {
    const lens = (await enc.tokenize(texts)).map((r) => r.length);
    expect(lens).toEqual([40, 40, 40, 40]);
    passes.length = 0;
    const a = await enc.encode(texts);
    const b = await free.encode(texts);
    expect(passes).toEqual([2, 1]);
    a.forEach((e, i) => {
      const d = b[i]!.dense!;
      e.dense!.forEach((x, k) => expect(x).toBeCloseTo(d[k]!, 5));
    });
  });
  it("refuses a per-call maxLength over the budget before running anything", async () => {
    let err: unknown;
    await enc.encode(texts, { maxLength: 64 }).catch((e: unknown) => (err = e));
    expect(isM3Error(err, "INVALID_ARGUMENT")).toBe(true);
    expect((err as Error).message).toMatch(/one text of 64 tokens \(encode's maxLength/);
    await expect(enc.encode(texts, { maxLength: 40 })).resolves.toHaveLength(4);
  });
});
