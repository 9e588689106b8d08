/**
 * `m3 finetune <model-dir> --pairs train.jsonl --out <new-model-dir>`: retrains the sparse and
 * ColBERT heads on a frozen encoder (finetuneHeads) and writes a new model folder. Ctrl-C stops
 * at the next batch and writes nothing.
 */
import type { Command } from "commander";
import path from "node:path";
import { FINETUNE_DEFAULTS, finetuneHeads, type EpochStats, type FinetuneResult } from "../../finetune/index.js";
import type { ModelVariant } from "../../encode/options.js";
import { UsageError } from "../exit.js";
import { formatDuration } from "../format.js";
import { installInterrupt } from "../interrupt.js";
import { parseIntOption, parseNumberOption } from "../options.js";
import { log, print } from "../output.js";

interface FinetuneOpts {
  pairs: string;
  out: string;
  epochs?: string;
  lr?: string;
  batchSize?: string;
  temperature?: string;
  heldOut?: string;
  patience?: string;
  seed?: string;
  maxLength?: string;
  variant?: string;
  cacheDir?: string;
  json?: boolean;
  quiet?: boolean;
}

const D = FINETUNE_DEFAULTS;

function parseLr(raw: string | undefined): number {
  if (raw === undefined) return D.learningRate;
  const v = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(v) || v <= 0 || v > 10) throw new UsageError(`--lr must be a positive number such as 1e-4; got "${raw}"`);
  return v;
}

export function registerFinetune(program: Command): void {
  program
    .command("finetune")
    .description("retrain the sparse and ColBERT heads of an encoder-only model on your query/passage pairs, into a new model folder")
    .argument("<model-dir>", "an encoder-only BGE-M3 folder (onnx/model.onnx + sparse_linear.pt + colbert_linear.pt)")
    .requiredOption("--pairs <file>", 'JSONL, one {"query", "positive", "negatives"?, "lang"?, "page"?} object a line')
    .requiredOption("--out <dir>", "the new model folder (must not exist)")
    .option("--epochs <n>", `passes over the pairs (default ${D.epochs})`)
    .option("--lr <x>", `Adam learning rate (default ${D.learningRate})`)
    .option("--batch-size <n>", `queries per batch (default ${D.batchSize})`)
    .option("--temperature <x>", `softmax temperature (default ${D.temperature})`)
    .option("--held-out <share>", `share of pairs (whole pages) held out (default ${D.heldOutShare})`)
    .option("--patience <n>", `epochs without a better held-out loss before stopping (default ${D.patience})`)
    .option("--seed <n>", `split and shuffle seed (default ${D.seed})`)
    .option("--max-length <n>", `tokens per text (default ${D.maxLength})`)
    .option("--variant <v>", "encoder weights for the hidden states: fp32, int8 or fp16 (default fp32)")
    .option("--cache-dir <dir>", "folder for the temporary hidden-state cache (default the OS temp folder)")
    .option("--json", "print the result as JSON")
    .option("-q, --quiet", "no progress")
    .addHelpText(
      "after",
      `
The encoder stays frozen: its hidden states are computed once, then sparse_linear and
colbert_linear are trained with the M3 self-distillation loss, stopping early on the held-out
loss. Heads that leave more than 5% of held-out passages without lexical weights are refused.
The new folder has its own fingerprint: indexes built with the old heads must be rebuilt.

Example:
  m3 finetune ~/models/bge-m3 --pairs train.jsonl --out ~/models/bge-m3-tuned
  m3 index docs --model ~/models/bge-m3-tuned --out ./my-index`,
    )
    .action(async (dir: string, opts: FinetuneOpts) => runFinetune(dir, opts));
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
const modes = (s: EpochStats): string =>
  `dense ${pct(s.modes.dense.accuracy)}  sparse ${pct(s.modes.sparse.accuracy)}  colbert ${pct(s.modes.colbert.accuracy)}`;

async function runFinetune(dir: string, opts: FinetuneOpts): Promise<void> {
  const variant = opts.variant ?? "fp32";
  if (!["fp32", "int8", "fp16"].includes(variant)) throw new UsageError(`--variant must be fp32, int8 or fp16; got "${variant}"`);
  const settings = {
    epochs: parseIntOption("--epochs", opts.epochs, 1, 10000, D.epochs),
    learningRate: parseLr(opts.lr),
    batchSize: parseIntOption("--batch-size", opts.batchSize, 2, 4096, D.batchSize),
    temperature: parseNumberOption("--temperature", opts.temperature, 0.0001, 100, D.temperature),
    heldOutShare: parseNumberOption("--held-out", opts.heldOut, 0.01, 0.9, D.heldOutShare),
    patience: parseIntOption("--patience", opts.patience, 1, 10000, D.patience),
    seed: parseIntOption("--seed", opts.seed, 0, 2 ** 31 - 1, D.seed),
    maxLength: parseIntOption("--max-length", opts.maxLength, 4, 8192, D.maxLength),
  };
  const abort = new AbortController();
  const interrupt = installInterrupt(() => {
    log("interrupt: stopping after this batch; nothing will be written");
    abort.abort();
  });
  const talk = !opts.quiet && !opts.json;
  let shown = -1;
  let result: FinetuneResult;
  try {
    result = await finetuneHeads({
      modelPath: path.resolve(dir),
      pairs: path.resolve(opts.pairs),
      outPath: path.resolve(opts.out),
      variant: variant as ModelVariant,
      ...settings,
      ...(opts.cacheDir === undefined ? {} : { cacheDir: path.resolve(opts.cacheDir) }),
      signal: abort.signal,
      onProgress: (p) => {
        if (!talk) return;
        if (p.phase === "encode") {
          const step = Math.floor((10 * p.done) / p.total);
          if (step > shown) log(`encoding: ${p.done}/${p.total} texts`);
          shown = step;
        } else {
          log(`epoch ${p.epoch}/${p.epochs} (${formatDuration(p.seconds)}): train loss ${p.train.loss.toFixed(4)}, held-out loss ${p.heldOut.loss.toFixed(4)}; held-out accuracy ${modes(p.heldOut)}${p.bestEpoch === p.epoch ? "  (best)" : ""}`);
        }
      },
    });
  } finally {
    interrupt.dispose();
  }
  if (opts.json) {
    print(JSON.stringify(result, null, 2));
    return;
  }
  print(`wrote ${result.outPath} (heads of epoch ${result.bestEpoch}; ${result.pairs.train} training, ${result.pairs.heldOut} held-out pairs) in ${formatDuration(result.seconds.total)}`);
  const last = result.bestEpoch === 0 ? result.before : result.epochs[result.bestEpoch - 1]!.heldOut;
  print(`  held-out loss ${result.before.loss.toFixed(4)} -> ${last.loss.toFixed(4)}`);
  print(`  held-out accuracy before: ${modes(result.before)}`);
  print(`  held-out accuracy after:  ${modes(last)}`);
  print(`  passages without lexical weights: ${pct(result.emptySparseShare.before)} -> ${pct(result.emptySparseShare.after)}`);
  print(`indexes built with the old heads must be rebuilt with ${result.outPath}`);
}
