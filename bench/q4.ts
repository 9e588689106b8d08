/**
 * 4-bit weights (com.microsoft MatMulNBits, blocks of 32, accuracy level 4) against int8 on
 * the query path: is it faster with dense cosine >= 0.99 and int8-like lexical/ColBERT fidelity?
 *
 *   npx tsx bench/q4.ts --model bench/models/bge-m3-random [--work bench/models/bge-m3-random-q4]
 *        [--runs 40] [--threads 2] [--out bench/results/encoder-q4.json]
 *
 * --work is a NEW folder (the model folder is never written): the model's files are linked
 * into it, the 4-bit graph is written there as onnx/model_q4.onnx (src/encode/quantize.ts
 * writeQuantized, not offered to users), and onnx/model_quantized.onnx there links to it, so
 * `variant: "int8"` loads the 4-bit graph. The int8 graph is the model folder's own.
 * Fidelity: the fidelity texts of `m3 quantize`, fp32 vs int8 and fp32 vs 4-bit. Speed: one
 * 16-token query (all three outputs) through both encoders in one process, alternating, with
 * the order swapped every round; p50/p10/min.
 */
import { existsSync, mkdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { FIDELITY_TEXTS } from "../src/cli/commands/quantize.js";
import { M3Encoder } from "../src/encode/encoder.js";
import { compareEncodings } from "../src/encode/fidelity.js";
import { Q4_FILE, QUANTIZED_FILE, writeQuantized } from "../src/encode/quantize.js";
import { textOfTokens } from "./lib/encoder-parts.js";
import { log, machineInfo, now, parseArgs, percentile, round, rssMiB } from "./lib/machine.js";

const a = parseArgs(process.argv.slice(2));
const model = resolve(String(a.model ?? "bench/models/bge-m3-random"));
const work = resolve(String(a.work ?? `${model}-q4`));
const runs = Number(a.runs ?? 40);
const threads = Number(a.threads ?? machineInfo().nproc);
const outFile = String(a.out ?? "bench/results/encoder-q4.json");
if (work === model) throw new Error("--work must be a new folder, not the model folder");

const link = (target: string, at: string) => {
  if (!existsSync(at)) symlinkSync(relative(dirname(at), target), at);
};
mkdirSync(join(work, "onnx"), { recursive: true });
for (const f of ["config.json", "tokenizer.json", "tokenizer_config.json", "sparse_linear.pt", "colbert_linear.pt"]) {
  if (existsSync(join(model, f))) link(join(model, f), join(work, f));
}
for (const f of ["model.onnx", "model.onnx_data", "tokenizer.json"]) if (existsSync(join(model, "onnx", f))) link(join(model, "onnx", f), join(work, "onnx", f));
log(`q4 bench: ${model} -> ${work}; ${machineInfo().uptime}`);
const written = await writeQuantized(work, { overwrite: true }, 4);
log(`wrote ${written.file}: ${written.bytes} bytes in ${written.seconds} s (${written.stats.matmuls} MatMulNBits, ${written.stats.gathers} int8 tables)`);
link(join(work, "onnx", Q4_FILE), join(work, "onnx", QUANTIZED_FILE));

const load = (dir: string, variant: "fp32" | "int8") => M3Encoder.load({ modelPath: dir, variant, intraOpNumThreads: threads });
const fp32 = await load(model, "fp32");
const ref = await fp32.encode(FIDELITY_TEXTS);
await fp32.dispose();
const int8 = await load(model, "int8");
const q4 = await load(work, "int8");
const fidelity = { int8: compareEncodings(ref, await int8.encode(FIDELITY_TEXTS)), q4: compareEncodings(ref, await q4.encode(FIDELITY_TEXTS)) };
log(`dense cosine min: int8 ${fidelity.int8.denseCosine.min.toFixed(4)}, 4-bit ${fidelity.q4.denseCosine.min.toFixed(4)}; ColBERT row cosine min: int8 ${fidelity.int8.colbertRowCosine.min.toFixed(4)}, 4-bit ${fidelity.q4.colbertRowCosine.min.toFixed(4)}`);

const q = await textOfTokens(int8, 16);
const encs = [
  { name: "int8", e: int8, t: [] as number[] },
  { name: "4-bit", e: q4, t: [] as number[] },
];
for (const x of encs) for (let i = 0; i < 3; i++) await x.e.encode([q]);
const uptimeAtStart = machineInfo().uptime;
for (let r = 0; r < runs; r++) {
  for (const x of r % 2 === 0 ? encs : [...encs].reverse()) {
    const t = now();
    await x.e.encode([q]);
    x.t.push(now() - t);
  }
}
const query = encs.map((x) => ({
  graph: x.name,
  p50Ms: round(percentile(x.t, 50), 1),
  p10Ms: round(percentile(x.t, 10), 1),
  minMs: round(Math.min(...x.t), 1),
  runs: x.t.length,
}));
for (const r of query) log(`16-token query ${r.graph}: p50 ${r.p50Ms} ms, p10 ${r.p10Ms} ms, min ${r.minMs} ms`);
await int8.dispose();
await q4.dispose();
const result = {
  kind: "encoder-q4",
  machine: machineInfo(),
  uptimeAtStart,
  uptimeAtEnd: machineInfo().uptime,
  threads,
  files: { int8Bytes: statSync(join(model, "onnx", QUANTIZED_FILE)).size, q4Bytes: written.bytes, q4Stats: written.stats },
  fidelity,
  query,
  rssAtEndMiB: rssMiB(),
};
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, JSON.stringify(result, null, 1) + "\n");
log(`wrote ${outFile}`);
