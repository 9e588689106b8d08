/**
 * Encode throughput on the fixture models (opt-in: M3_BENCH=1, prints a table).
 *   M3_BENCH=1 npx vitest run test/encode-throughput.test.ts
 * The golden texts (many scripts, 2..512 tokens) repeated M3_BENCH_REPEAT times (default 10),
 * encoded in one call; best of 3 runs after a warm-up. "dense only" skips the head graph, so
 * the difference to "all outputs" is the cost of the heads and post-processing.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { M3Encoder } from "../src/encode/encoder.js";
import { fixtureVariants } from "./helpers/m3-golden.js";

const BENCH = process.env.M3_BENCH === "1";

describe.skipIf(!BENCH)("encode throughput", () => {
  it("texts/s and tokens/s per layout and variant", async () => {
    const repeat = Number(process.env.M3_BENCH_REPEAT ?? 10);
    const rows: string[] = [];
    for (const fx of fixtureVariants().filter((f) => f.root === join(import.meta.dirname, "fixtures/models"))) {
      const texts = Array.from({ length: repeat }, (_, r) => fx.golden.cases.map((c) => `${c.text}${r ? ` ${r}` : ""}`)).flat();
      const enc = await M3Encoder.load({ modelPath: fx.dir, variant: fx.variant });
      const tokens = (await enc.tokenize(texts)).reduce((s, r) => s + r.length, 0);
      for (const [what, opts] of [["all outputs", {}], ["dense only", { sparse: false, colbert: false }]] as const) {
        await enc.encode(texts.slice(0, 50), opts);
        let best = Infinity;
        for (let k = 0; k < 3; k++) {
          const t = performance.now();
          const out = await enc.encode(texts, opts);
          best = Math.min(best, performance.now() - t);
          expect(out).toHaveLength(texts.length);
        }
        rows.push(`${fx.label.padEnd(32)} ${what.padEnd(12)} ${texts.length} texts ${tokens} tokens  ${(texts.length / (best / 1000)).toFixed(0).padStart(6)} texts/s  ${(tokens / (best / 1000)).toFixed(0).padStart(7)} tokens/s  (${best.toFixed(0)} ms)`);
      }
      await enc.dispose();
    }
    process.stdout.write(`\n${rows.join("\n")}\n`);
  }, 600_000);
});
