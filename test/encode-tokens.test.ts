/**
 * `M3Encoder.encodeTokens`: the rows `tokenize` gives, encoded without tokenizing again (what
 * `m3 serve` does after counting a request's tokens), equal `encode` of the texts, truncation
 * and MCLS included; bad rows are typed errors.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { M3Encoder } from "../src/encode/encoder.js";
import type { M3Encoding } from "../src/types.js";

const MODEL = join(import.meta.dirname, "fixtures/models/encoder-only");
const LONG = Array.from({ length: 90 }, (_, i) => `word${i % 17} bread yeast`).join(" ");
const TEXTS = ["Why does bread dough rise?", "", "naïve café 東京", LONG, "The quick brown fox jumps over the lazy dog."];

let plain: M3Encoder;
let mcls: M3Encoder;

beforeAll(async () => {
  plain = await M3Encoder.load({ modelPath: MODEL });
  mcls = await M3Encoder.load({ modelPath: MODEL, mcls: true, mclsStep: 16, maxLength: 128 });
});

afterAll(async () => {
  await plain?.dispose();
  await mcls?.dispose();
});

function same(a: M3Encoding[], b: M3Encoding[]): void {
  expect(a.length).toBe(b.length);
  a.forEach((x, i) => {
    const y = b[i]!;
    expect(x.tokenCount).toBe(y.tokenCount);
    expect(Array.from(x.dense!)).toEqual(Array.from(y.dense!));
    expect(Array.from(x.sparse!.indices)).toEqual(Array.from(y.sparse!.indices));
    expect(Array.from(x.sparse!.values)).toEqual(Array.from(y.sparse!.values));
    expect(x.colbert!.tokens).toBe(y.colbert!.tokens);
    expect(Array.from(x.colbert!.data)).toEqual(Array.from(y.colbert!.data));
  });
}

describe("encodeTokens", () => {
  it("equals encode of the texts; rows tokenized longer are cut to the call's maxLength, </s> kept", async () => {
    const rows = await plain.tokenize(TEXTS);
    same(await plain.encodeTokens(rows), await plain.encode(TEXTS));
    const cut = await plain.encodeTokens(rows, { maxLength: 12 });
    same(cut, await plain.encode(TEXTS, { maxLength: 12 }));
    expect(cut[3]!.tokenCount).toBe(12);
  });

  it("equals encode with MCLS (the inserted <s> counted against maxLength)", async () => {
    const rows = await mcls.tokenize(TEXTS, { maxLength: 8192 });
    expect(rows[3]!.length).toBeGreaterThan(128);
    same(await mcls.encodeTokens(rows), await mcls.encode(TEXTS));
    same(await mcls.encodeTokens(rows, { maxLength: 40 }), await mcls.encode(TEXTS, { maxLength: 40 }));
  });

  it("refuses rows that are not tokenize()'s: not Int32Array, too short, ids outside the vocabulary", async () => {
    await expect(plain.encodeTokens([[0, 5, 2]] as unknown as Int32Array[])).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(plain.encodeTokens([Int32Array.of(0)])).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(plain.encodeTokens([Int32Array.of(0, 1 << 30, 2)])).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringMatching(/outside the vocabulary/) });
    await expect(plain.encodeTokens([Int32Array.of(0, -1, 2)])).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    expect(await plain.encodeTokens([])).toEqual([]);
  });
});
