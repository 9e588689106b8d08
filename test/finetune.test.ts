/**
 * finetuneHeads on the committed encoder-only fixture: the new folder loads and differs, the
 * old index is refused, the disk cache gives the same heads, abort and every bad input leave
 * nothing behind, and the sparsity guard refuses degenerate heads.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { M3Encoder } from "../src/encode/encoder.js";
import { isM3Error } from "../src/errors.js";
import { finetuneHeads, type FinetuneOptions } from "../src/finetune/index.js";
import { halfStateDict } from "../src/finetune/pt-write.js";
import { HybridIndex } from "../src/index/hybrid-index.js";
import { loadIndex } from "../src/index/persist.js";
import { syntheticPairs } from "./helpers/finetune-pairs.js";

const MODEL = "test/fixtures/models/encoder-only";
const root = mkdtempSync(join(tmpdir(), "m3-finetune-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => join(root, `out-${n++}`);
const FAST = { epochs: 3, learningRate: 3e-3, temperature: 0.1 } as const;

async function code(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    if (isM3Error(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error("expected an M3Error");
}

function pairsFile(lines: string[] | Buffer): string {
  const f = join(root, `pairs-${n++}.jsonl`);
  writeFileSync(f, Buffer.isBuffer(lines) ? lines : lines.join("\n") + "\n");
  return f;
}

const good = syntheticPairs(60).map((p) => JSON.stringify(p));

describe("finetuneHeads", () => {
  it("trains, writes a new folder the encoder loads, and an index of the old heads is refused", async () => {
    const out = fresh();
    const events: string[] = [];
    const r = await finetuneHeads({ modelPath: MODEL, pairs: syntheticPairs(120, { pages: true }), outPath: out, ...FAST, onProgress: (p) => events.push(p.phase) });
    expect(r.bestEpoch).toBeGreaterThan(0);
    expect(r.epochs[r.bestEpoch - 1]!.heldOut.loss).toBeLessThan(r.before.loss);
    expect(events.filter((e) => e === "epoch")).toHaveLength(r.epochs.length);
    expect(events).toContain("encode");
    expect(r.files).toEqual(expect.arrayContaining(["onnx/model.onnx", "tokenizer.json", "sparse_linear.pt", "colbert_linear.pt", "finetune.json"]));
    // The split keeps pages whole.
    expect(r.pairs.train + r.pairs.heldOut).toBe(120);
    expect(readdirSync(root).filter((f) => f.includes(".partial-"))).toEqual([]);

    const before = await M3Encoder.load({ modelPath: MODEL });
    const after = await M3Encoder.load({ modelPath: out });
    try {
      const text = ["the river and the mountain are described here"];
      const [a] = await before.encode(text);
      const [b] = await after.encode(text);
      expect(Array.from(b!.dense!)).toEqual(Array.from(a!.dense!)); // the encoder is frozen
      expect(Array.from(b!.colbert!.data)).not.toEqual(Array.from(a!.colbert!.data));
      const fa = await before.fingerprint();
      const fb = await after.fingerprint();
      expect(fa.headsSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(fb.headsSha256).not.toBe(fa.headsSha256);
      expect({ ...fb, headsSha256: undefined }).toEqual({ ...fa, headsSha256: undefined });
      const index = await HybridIndex.create(fa);
      await index.upsert([{ id: "a", pageContent: text[0]!, metadata: {}, encoding: a! }]);
      const dir = join(root, `index-${n++}`);
      await index.save(dir);
      await expect(loadIndex(dir, { fingerprint: fa })).resolves.toBeDefined();
      const e = await code(loadIndex(dir, { fingerprint: fb }));
      expect(e.code).toBe("INDEX_MODEL_MISMATCH");
      expect(e.message).toContain("headsSha256");
    } finally {
      await before.dispose();
      await after.dispose();
    }
  });

  it("caches hidden states on disk above the memory budget, with the same heads, and removes the file", async () => {
    const cacheDir = mkdtempSync(join(root, "cache-"));
    const [m, d] = [fresh(), fresh()];
    const common: FinetuneOptions = { modelPath: MODEL, pairs: syntheticPairs(40), outPath: m, ...FAST, epochs: 2 };
    const rm = await finetuneHeads(common);
    const rd = await finetuneHeads({ ...common, outPath: d, cacheMemoryBytes: 0, cacheDir });
    expect(rm.cacheOnDisk).toBe(false);
    expect(rd.cacheOnDisk).toBe(true);
    expect(readFileSync(join(d, "colbert_linear.pt"))).toEqual(readFileSync(join(m, "colbert_linear.pt")));
    expect(readFileSync(join(d, "colbert_linear.pt"))).not.toEqual(readFileSync(join(MODEL, "colbert_linear.pt")));
    expect(readdirSync(cacheDir)).toEqual([]);
  });

  it("abort: ABORTED, nothing written, no cache left", async () => {
    const cacheDir = mkdtempSync(join(root, "cache-"));
    const out = fresh();
    const ac = new AbortController();
    const e = await code(
      finetuneHeads({ modelPath: MODEL, pairs: syntheticPairs(40), outPath: out, ...FAST, cacheMemoryBytes: 0, cacheDir, signal: ac.signal, onProgress: (p) => p.phase === "epoch" && ac.abort() }),
    );
    expect(e.code).toBe("ABORTED");
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(cacheDir)).toEqual([]);
  });

  it("sparsity guard: heads that leave held-out passages without lexical weights are refused", async () => {
    const model = join(root, "negative-sparse");
    cpSync(MODEL, model, { recursive: true });
    const H = 32;
    writeFileSync(join(model, "sparse_linear.pt"), halfStateDict("sparse_linear", [
      { key: "weight", shape: [1, H], values: new Array<number>(H).fill(0) },
      { key: "bias", shape: [1], values: [-100] },
    ]));
    const out = fresh();
    const e = await code(finetuneHeads({ modelPath: model, pairs: syntheticPairs(40), outPath: out, epochs: 1, learningRate: 1e-6 }));
    expect(e.code).toBe("HEADS_DEGENERATE");
    expect(e.message).toMatch(/100\.0% of the \d+ held-out passages/);
    expect(existsSync(out)).toBe(false);
  });

  describe("bad input: a typed error naming the line, nothing written", () => {
    const cases: Array<[string, () => Partial<FinetuneOptions>, string, RegExp]> = [
      ["missing field", () => ({ pairs: pairsFile([...good.slice(0, 5), JSON.stringify({ query: "q" }), ...good.slice(5)]) }), "PAIRS_INVALID", /line 6: has no "positive"/],
      ["empty text", () => ({ pairs: pairsFile([...good.slice(0, 2), JSON.stringify({ query: "  ", positive: "p" })]) }), "PAIRS_INVALID", /line 3: "query" is empty/],
      ["not JSON", () => ({ pairs: pairsFile([good[0]!, "{query:"]) }), "PAIRS_INVALID", /line 2: is not JSON/],
      ["duplicate", () => ({ pairs: pairsFile([good[0]!, good[1]!, good[0]!]) }), "PAIRS_INVALID", /line 3: repeats the query and positive of line 1/],
      ["bad negatives", () => ({ pairs: pairsFile([JSON.stringify({ query: "q", positive: "p", negatives: ["n", 3] })]) }), "PAIRS_INVALID", /line 1: negatives\[1\] is number/],
      [
        "invalid UTF-8",
        () => ({ pairs: pairsFile(Buffer.concat([Buffer.from(good[0]! + "\n"), Buffer.from('{"query": "caf'), Buffer.from([0xe9]), Buffer.from('", "positive": "x"}\n')])) }),
        "PAIRS_INVALID",
        /line 2: is not valid UTF-8/,
      ],
      ["too few pairs", () => ({ pairs: pairsFile(good.slice(0, 3)) }), "PAIRS_INVALID", /3 pairs are too few for a held-out split/],
      ["one page only", () => ({ pairs: syntheticPairs(30).map((p) => ({ ...p, page: "same" })) }), "PAIRS_INVALID", /too few for a held-out split/],
      ["missing pairs file", () => ({ pairs: join(root, "nope.jsonl") }), "NOT_FOUND", /Cannot read the pairs file/],
      ["model of another layout", () => ({ modelPath: "test/fixtures/models/three-heads-aapot" }), "MODEL_INVALID", /three-heads-aapot.*encoder-only/s],
      ["output exists", () => ({ outPath: MODEL }), "INVALID_ARGUMENT", /already exists/],
      ["bad option", () => ({ epochs: 0 }), "OUT_OF_RANGE", /epochs must be an integer/],
    ];
    it.each(cases)("%s", async (_name, make, want, pattern) => {
      const out = fresh();
      const e = await code(finetuneHeads({ modelPath: MODEL, pairs: pairsFile(good), outPath: out, epochs: 1, ...make() }));
      expect(e.code).toBe(want);
      expect(e.message).toMatch(pattern);
      if (make().outPath === undefined) expect(existsSync(out)).toBe(false);
      expect(readdirSync(root).filter((f) => f.includes(".partial-"))).toEqual([]);
    });
  });
});
