/**
 * Fine-tuning the heads, measured: splits a pairs file by page into a tuning half and an
 * evaluation half (disjoint pages), runs finetuneHeads on the first, and scores the second
 * exhaustively (every query against every passage of the half) with the source model and with
 * the fine-tuned one: recall@1/10 and MRR@10 of each query's positive, per mode and fused.
 *
 *   npx tsx bench/finetune.ts --model DIR --pairs heldout.jsonl [--queries 300] [--epochs 4] [--lr 1e-4]
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { M3Encoder } from "../src/encode/encoder.js";
import { finetuneHeads } from "../src/finetune/index.js";
import { readPairsFile, type ReadPair } from "../src/finetune/pairs.js";
import { colbertScore, denseScore, lexicalScore } from "../src/math/scores.js";
import type { M3Encoding } from "../src/types.js";

const { values: a } = parseArgs({
  options: {
    model: { type: "string" },
    pairs: { type: "string" },
    queries: { type: "string", default: "300" },
    epochs: { type: "string", default: "4" },
    lr: { type: "string", default: "1e-4" },
    "max-length": { type: "string", default: "64" },
  },
});
if (!a.model || !a.pairs) throw new Error("usage: bench/finetune.ts --model DIR --pairs FILE");
const maxLength = Number(a["max-length"]);
// The pairs file may repeat a (query, positive) pair, which finetuneHeads refuses: keep the first.
const seen = new Set<string>();
// A negative equal to its positive is dropped too (finetuneHeads refuses it).
const lines = readFileSync(a.pairs, "utf8").split("\n").flatMap((l) => {
  if (l.trim() === "") return [];
  const o = JSON.parse(l) as { query: string; positive: string; negatives?: string[] };
  const k = JSON.stringify([o.query, o.positive]);
  if (seen.has(k)) return [];
  seen.add(k);
  if (o.negatives) o.negatives = o.negatives.filter((n) => n !== o.positive);
  return [JSON.stringify(o)];
});
const tmp0 = mkdtempSync(join(tmpdir(), "m3-bench-pairs-"));
writeFileSync(join(tmp0, "pairs.jsonl"), lines.join("\n") + "\n");
const pairs = await readPairsFile(join(tmp0, "pairs.jsonl"));
rmSync(tmp0, { recursive: true, force: true });
console.log(`pairs: ${lines.length} distinct`);
const half = (p: ReadPair): number => createHash("sha1").update(p.page ?? p.query).digest()[0]! & 1;
const tune = pairs.filter((p) => half(p) === 0);
const evalPairs = pairs.filter((p) => half(p) === 1).slice(0, Number(a.queries));
const tmp = mkdtempSync(join(tmpdir(), "m3-bench-finetune-"));
const tunePath = join(tmp, "tune.jsonl");
writeFileSync(tunePath, tune.map(({ line: _l, ...p }) => JSON.stringify(p)).join("\n") + "\n");
const corpus = [...new Set(pairs.filter((p) => half(p) === 1).flatMap((p) => [p.positive, ...(p.negatives ?? [])]))];

type Row = Record<string, { r1: number; r10: number; mrr: number }>;
async function evaluate(model: string): Promise<Row> {
  const enc = await M3Encoder.load({ modelPath: model });
  try {
    const P = await enc.encode(corpus, { maxLength });
    const Q = await enc.encode(evalPairs.map((p) => p.query), { maxLength });
    const modes: Record<string, (q: M3Encoding, p: M3Encoding) => number> = {
      Dense: (q, p) => denseScore(q.dense!, p.dense!),
      Sparse: (q, p) => lexicalScore(q.sparse!, p.sparse!),
      "Multi-vec": (q, p) => colbertScore(q.colbert!, p.colbert!),
    };
    const out: Row = {};
    const all: Record<string, Float64Array[]> = { Dense: [], Sparse: [], "Multi-vec": [] };
    for (const [name, f] of Object.entries(modes)) for (const q of Q) all[name]!.push(Float64Array.from(P, (p) => f(q, p)));
    const fused = (w: [number, number, number]) => Q.map((_, i) => all.Dense![i]!.map((d, j) => (w[0] * d + w[1] * all.Sparse![i]![j]! + w[2] * all["Multi-vec"]![i]![j]!) / (w[0] + w[1] + w[2])));
    const table: Record<string, Float64Array[]> = { ...all, "Dense+Sparse": fused([1, 0.3, 0]), All: fused([1, 0.3, 1]) };
    for (const [name, scores] of Object.entries(table)) {
      let r1 = 0, r10 = 0, mrr = 0;
      scores.forEach((s, i) => {
        const target = corpus.indexOf(evalPairs[i]!.positive);
        const rank = 1 + s.reduce((n, v, j) => n + (v > s[target]! || (v === s[target]! && j < target) ? 1 : 0), 0);
        if (rank === 1) r1++;
        if (rank <= 10) { r10++; mrr += 1 / rank; }
      });
      out[name] = { r1: r1 / Q.length, r10: r10 / Q.length, mrr: mrr / Q.length };
    }
    return out;
  } finally {
    await enc.dispose();
  }
}

const out = join(tmp, "tuned");
const load0 = loadavg()[0]!.toFixed(2);
const t0 = Date.now();
const r = await finetuneHeads({
  modelPath: a.model, pairs: tunePath, outPath: out, epochs: Number(a.epochs), learningRate: Number(a.lr), maxLength,
  onProgress: (p) => {
    if (p.phase === "epoch") console.error(`epoch ${p.epoch}: ${p.seconds.toFixed(1)} s, train ${p.train.loss.toFixed(4)}, held-out ${p.heldOut.loss.toFixed(4)} (sparse acc ${p.heldOut.modes.sparse.accuracy.toFixed(3)}, colbert acc ${p.heldOut.modes.colbert.accuracy.toFixed(3)})`);
  },
});
const trainSeconds = (Date.now() - t0) / 1000;
const rss = process.resourceUsage().maxRSS / 1024;
const before = await evaluate(a.model);
const after = await evaluate(out);
const f = (x: number) => x.toFixed(3);
console.log(`tuning pairs ${tune.length} (${r.pairs.train} train, ${r.pairs.heldOut} held out), evaluation: ${evalPairs.length} queries on other pages, ${corpus.length} passages`);
console.log(`finetuneHeads: ${r.epochs.length} epochs, best ${r.bestEpoch}, ${trainSeconds.toFixed(1)} s in all (encode ${r.seconds.encode.toFixed(1)} s), epochs ${r.epochs.map((e) => e.seconds.toFixed(1)).join(" / ")} s, peak RSS ${rss.toFixed(0)} MiB, empty lexical ${f(r.emptySparseShare.before)} -> ${f(r.emptySparseShare.after)}, load ${load0} -> ${loadavg()[0]!.toFixed(2)}`);
console.log("| mode | recall@1 before → after | recall@10 before → after | MRR@10 before → after |");
console.log("|---|---|---|---|");
for (const m of Object.keys(before)) {
  const b = before[m]!, c = after[m]!;
  console.log(`| ${m} | ${f(b.r1)} → ${f(c.r1)} | ${f(b.r10)} → ${f(c.r10)} | ${f(b.mrr)} → ${f(c.mrr)} |`);
}
rmSync(tmp, { recursive: true, force: true });
