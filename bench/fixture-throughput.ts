/**
 * Encode throughput on the committed fixture models (tiny: hidden 32, 2 layers), per layout
 * and variant: what the encoder's own work around the forward pass costs when the forward pass
 * itself is nearly free. Prints a table.
 *   npx tsx bench/fixture-throughput.ts [--repeat 10]
 * The golden texts (many scripts, 2..512 tokens) repeated `--repeat` times, encoded in one
 * call; best of 3 runs after a warm-up. "dense only" skips the head graph, so the difference
 * to "all outputs" is the cost of the heads and post-processing.
 */
import { join } from "node:path";
import { M3Encoder } from "../src/encode/encoder.js";
import { fixtureVariants } from "../test/helpers/m3-golden.js";

const arg = process.argv.indexOf("--repeat");
const repeat = arg > 0 ? Number(process.argv[arg + 1]) : 10;
const root = join(import.meta.dirname, "../test/fixtures/models");
const rows: string[] = [];
for (const fx of fixtureVariants().filter((f) => f.root === root)) {
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
      if (out.length !== texts.length) throw new Error(`encode returned ${out.length} results for ${texts.length} texts`);
    }
    rows.push(`| ${fx.label} | ${what} | ${texts.length} | ${tokens} | ${(texts.length / (best / 1000)).toFixed(0)} | ${(tokens / (best / 1000)).toFixed(0)} | ${best.toFixed(0)} |`);
  }
  await enc.dispose();
}
process.stdout.write(`| fixture | outputs | texts | tokens | texts/s | tokens/s | ms |\n|---|---|---|---|---|---|---|\n${rows.join("\n")}\n`);
