/**
 * `m3 quantize <model-dir>`: writes onnx/model_quantized.onnx (dynamic int8) next to the fp32
 * encoder of a BGE-M3 folder, then compares the two on a few texts (dense cosine, lexical
 * weights, ColBERT rows and MaxSim) unless --no-check.
 */
import type { Command } from "commander";
import path from "node:path";
import { M3Encoder } from "../../encode/encoder.js";
import { compareEncodings, type Fidelity } from "../../encode/fidelity.js";
import { quantizeModel, type QuantizeResult } from "../../encode/quantize.js";
import { formatBytes, formatDuration } from "../format.js";
import { installInterrupt } from "../interrupt.js";
import { log, print } from "../output.js";

interface QuantizeOpts {
  perTensor?: boolean;
  force?: boolean;
  check?: boolean;
  json?: boolean;
  quiet?: boolean;
}

/** Texts the fidelity check encodes with both graphs: several scripts, short and long. */
export const FIDELITY_TEXTS = [
  "What is BGE-M3?",
  "BGE-M3 is an embedding model for dense, lexical and multi-vector retrieval in more than 100 languages.",
  "Der Mond verursacht die Gezeiten der Ozeane.",
  "Привет, мир! Поиск документов с помощью векторов.",
  "检索增强生成结合了搜索索引和大型语言模型。",
  "Bread dough rises because yeast ferments sugars and releases carbon dioxide, which the gluten network traps. ".repeat(8).trim(),
];

export function registerQuantize(program: Command): void {
  program
    .command("quantize")
    .description("write the dynamic int8 encoder (onnx/model_quantized.onnx, used by --variant int8) next to the fp32 one, and show its fidelity")
    .argument("<model-dir>", "a BGE-M3 folder in the encoder-only layout (onnx/model.onnx + sparse_linear.pt + colbert_linear.pt)")
    .option("--per-tensor", "one weight scale per matrix instead of one per output column")
    .option("--force", "replace an existing onnx/model_quantized.onnx")
    .option("--no-check", "skip the fidelity check (encoding a few texts with both graphs)")
    .option("--json", "print JSON")
    .option("-q, --quiet", "no progress")
    .addHelpText(
      "after",
      `
MatMul weights become int8 (symmetric, one scale per output column by default) with
DynamicQuantizeLinear + MatMulInteger, as onnxruntime's dynamic quantiser writes them; the
embedding tables become int8 with one scale per row. The file is written under a temporary
name and renamed, so a failure leaves no half-written model_quantized.onnx.

Example:
  m3 quantize ~/models/bge-m3
  m3 index docs --model ~/models/bge-m3 --variant int8 --out ./my-index`,
    )
    .action(async (dir: string, opts: QuantizeOpts) => runQuantize(dir, opts));
}

async function runQuantize(dir: string, opts: QuantizeOpts): Promise<void> {
  const modelDir = path.resolve(dir);
  const abort = new AbortController();
  const interrupt = installInterrupt(() => {
    log("interrupt: stopping; nothing will be written");
    abort.abort();
  });
  let result: QuantizeResult;
  try {
    let shown = 0;
    result = await quantizeModel(modelDir, {
      scales: opts.perTensor ? "per-tensor" : "per-column",
      overwrite: opts.force === true,
      signal: abort.signal,
      onProgress: (done, total) => {
        const pct = Math.floor((100 * done) / total);
        if (!opts.quiet && !opts.json && pct >= shown + 10) {
          shown = pct - (pct % 10);
          log(`quantising: ${done}/${total} weights (${pct}%)`);
        }
      },
    });
  } finally {
    interrupt.dispose();
  }
  let fidelity: Fidelity | undefined;
  if (opts.check !== false) {
    if (!opts.quiet && !opts.json) log(`checking fidelity on ${FIDELITY_TEXTS.length} texts (fp32 vs int8)…`);
    fidelity = await measureFidelity(modelDir);
  }
  const s = result.stats;
  if (opts.json) {
    print(JSON.stringify({ ...result, fidelity }, null, 2));
    return;
  }
  print(`wrote ${result.file} (${formatBytes(result.bytes)}) in ${formatDuration(result.seconds)}`);
  print(`  ${s.matmuls} MatMul weights (${result.scales} scales) and ${s.gathers} embedding tables: ${formatBytes(s.bytesBefore)} fp32 -> ${formatBytes(s.bytesAfter)} int8`);
  if (fidelity) {
    const f = (x: number, d = 4) => x.toFixed(d);
    print(`fidelity on ${fidelity.texts} texts (int8 vs fp32):`);
    print(`  dense cosine        min ${f(fidelity.denseCosine.min)}  mean ${f(fidelity.denseCosine.mean)}`);
    print(`  lexical cosine      min ${f(fidelity.sparseCosine.min)}  mean ${f(fidelity.sparseCosine.mean)}  (largest weight change ${f(100 * fidelity.sparseMaxRelDiff, 1)}% of the text's top weight)`);
    print(`  ColBERT row cosine  min ${f(fidelity.colbertRowCosine.min)}  mean ${f(fidelity.colbertRowCosine.mean)}`);
    print(`  MaxSim |difference| max ${f(fidelity.maxSimAbsDiff.max)}  mean ${f(fidelity.maxSimAbsDiff.mean)}`);
  }
  print(`use it with --variant int8 (m3 index/query) or variant: "int8" (M3Encoder, M3Embeddings)`);
}

async function measureFidelity(modelDir: string): Promise<Fidelity> {
  const fp32 = await M3Encoder.load({ modelPath: modelDir, variant: "fp32" });
  try {
    const ref = await fp32.encode(FIDELITY_TEXTS);
    await fp32.dispose();
    const int8 = await M3Encoder.load({ modelPath: modelDir, variant: "int8" });
    try {
      return compareEncodings(ref, await int8.encode(FIDELITY_TEXTS));
    } finally {
      await int8.dispose();
    }
  } finally {
    await fp32.dispose();
  }
}
