/**
 * Retrieval quality of a trained model on held-out man pages (the paper's table shape).
 *
 *   npx tsx bench/quality.ts [--model data/manpages/model] [--eval data/manpages/eval.json.gz]
 *                            [--variants fp32,int8] [--no-codecs] [--out FILE]
 *
 * Model: by default the small model trained by this repository (scripts/train, data/manpages/
 * model) — not BGE-M3. Queries: every held-out page's NAME description in each of its languages;
 * corpus: the first two body chunks of every language version of those pages (bench/lib/
 * quality-eval.ts). A query's target is its page (any passage of it).
 * Tables: (1) recall@1/10/100, MRR@10, nDCG@10 per mode configuration, default plan and
 * exhaustive fused scoring side by side, per encoder variant; (2) recall@10 of the default plan
 * against exhaustive fused scoring (All), fresh / after deleting a third and replacing a tenth /
 * after save + load; (3) per ColBERT codec × poolFactor: target recall@10 and recall@10 against
 * the exhaustive float32 ranking.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { M3Encoder } from "../src/encode/index.js";
import { loadIndex } from "../src/index/index.js";
import type { ColbertCodecName } from "../src/index/colbert/index.js";
import type { ModelVariant } from "../src/encode/options.js";
import { buildIndex, encodeAll, evaluate, loadEvalSet, MODE_CONFIGS, rank, recallVs, type Metrics } from "./lib/quality-eval.js";
import { log, machineInfo, parseArgs, round } from "./lib/machine.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const args = parseArgs(process.argv.slice(2));
const modelDir = resolve(typeof args.model === "string" ? args.model : join(root, "data/manpages/model"));
const evalPath = resolve(typeof args.eval === "string" ? args.eval : join(root, "data/manpages/eval.json.gz"));
const variants = (typeof args.variants === "string" ? args.variants : "fp32,int8").split(",") as ModelVariant[];
const out = typeof args.out === "string" ? resolve(args.out) : join(here, "results", "quality.json");
const ALL = MODE_CONFIGS["All"]!;

function fmt(m: Metrics): string[] {
  return [m["recall@1"], m["recall@10"], m["recall@100"], m["MRR@10"], m["nDCG@10"]].map((x) => x.toFixed(3));
}

async function main(): Promise<void> {
  const machine = machineInfo();
  const set = loadEvalSet(evalPath);
  log(`quality: ${set.corpus.length} passages, ${set.queries.length} queries, model ${modelDir}; load ${machine.loadavg.join(" ")}`);
  const report: Record<string, unknown> = { machine, model: modelDir, eval: { passages: set.corpus.length, queries: set.queries.length, meta: set.meta } };
  const tables: Record<string, unknown> = {};
  for (const variant of variants) {
    const encoder = await M3Encoder.load({ modelPath: modelDir, variant });
    const t0 = performance.now();
    const docs = await encodeAll(encoder, set.corpus.map((d) => d.text));
    const queries = await encodeAll(encoder, set.queries.map((q) => q.text));
    const encodeMs = performance.now() - t0;
    const fp = await encoder.fingerprint();
    const index = await buildIndex(fp, set, docs);
    const rows: Record<string, { plan: Metrics; exhaustive: Metrics }> = {};
    console.log(`\n${variant} encoder (encoded ${set.corpus.length + set.queries.length} texts in ${(encodeMs / 1000).toFixed(1)} s)`);
    console.log("| modes | plan R@1 | R@10 | R@100 | MRR@10 | nDCG@10 | exhaustive R@1 | R@10 | R@100 | MRR@10 | nDCG@10 |");
    console.log("|---|---|---|---|---|---|---|---|---|---|---|");
    for (const [name, modes] of Object.entries(MODE_CONFIGS)) {
      const plan = await evaluate(set, index, queries, modes, false);
      const exhaustive = await evaluate(set, index, queries, modes, true);
      rows[name] = { plan, exhaustive };
      console.log(`| ${name} | ${fmt(plan).join(" | ")} | ${fmt(exhaustive).join(" | ")} |`);
    }
    // the default plan against exhaustive fused scoring: fresh, after deletes/replacements, after save+load
    const bar: Record<string, number> = {};
    bar["fresh"] = recallVs(await rank(index, queries, ALL, 10, false), await rank(index, queries, ALL, 10, true));
    const ids = set.corpus.map((d) => d.id);
    await index.delete(ids.filter((_, i) => i % 3 === 0));
    const kept = set.corpus.map((d, i) => ({ d, i })).filter(({ i }) => i % 3 !== 0);
    const replace = kept.filter((_, j) => j % 10 === 0);
    await index.upsert(replace.map(({ d, i }) => ({ id: d.id, pageContent: d.text, metadata: { page: d.page, lang: d.lang }, encoding: docs[i]! })));
    bar["after deleting 1/3, replacing 1/10"] = recallVs(await rank(index, queries, ALL, 10, false), await rank(index, queries, ALL, 10, true));
    const dir = mkdtempSync(join(os.tmpdir(), "m3-quality-"));
    try {
      await index.save(dir);
      await index.close();
      const loaded = await loadIndex(dir);
      bar["after save + load"] = recallVs(await rank(loaded, queries, ALL, 10, false), await rank(loaded, queries, ALL, 10, true));
      await loaded.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    console.log(`\nrecall@10 of the default plan vs exhaustive fused scoring (All), ${variant}:`);
    for (const [k, v] of Object.entries(bar)) console.log(`  ${k}: ${v.toFixed(3)}`);
    const codecs: Record<string, unknown> = {};
    if (args["no-codecs"] !== true && variant === variants[0]) {
      const ref = await buildIndex(fp, set, docs, { colbert: { codec: "float32" } });
      const exact = await rank(ref, queries, ALL, 10, true);
      await ref.close();
      console.log(`\nColBERT codec × poolFactor (${variant} encoder): target recall@10 (default plan), recall@10 vs exhaustive float32 fused`);
      for (const codec of ["float32", "float16", "int8", "binary"] as ColbertCodecName[]) {
        for (const poolFactor of [1, 2]) {
          const ix = await buildIndex(fp, set, docs, { colbert: { codec, poolFactor } });
          const m = await evaluate(set, ix, queries, ALL, false);
          const r = recallVs(await rank(ix, queries, ALL, 10, false), exact);
          await ix.close();
          codecs[`${codec}/pool${poolFactor}`] = { targetRecall10: round(m["recall@10"]), recallVsExhaustiveFloat32: round(r) };
          console.log(`  ${codec} pool ${poolFactor}: target R@10 ${m["recall@10"].toFixed(3)}, vs exhaustive ${r.toFixed(3)}`);
        }
      }
    }
    tables[variant] = { encodeSeconds: round(encodeMs / 1000, 1), rows, recallBar: bar, codecs };
    await encoder.dispose();
  }
  report["tables"] = tables;
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 1));
  log(`quality: wrote ${out}; load at start ${machine.loadavg.join(" ")}`);
}

await main();
