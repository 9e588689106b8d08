/**
 * Encoder throughput, one run, one ONNX file, one thread count.
 *
 *   npx tsx bench/encoder.ts --model bench/models/bge-m3-random [--threads 2]
 *        [--queries 48 --passages 12 --mixed 40] [--out bench/results/encoder.json]
 *
 * Corpora (token counts include <s> and </s>): short queries (16–32 tokens), passages
 * (256–512), a mixed corpus (log-uniform 16–512). Variants, each in its own child process
 * (so each has its own peak RSS and nothing is shared but the file):
 *   m3-embeddings M3Embeddings.encode (= M3Encoder.encode), all three outputs, default batching
 *   m3-embeddings-dense  M3Embeddings.embedDocuments (LangChain API, dense only)
 *   raw-sorted    onnxruntime session.run on pre-tokenised batches planned exactly as the
 *                 encoder plans them: the floor, what our code around the forward pass costs
 *   raw-fixed     session.run, fixed-size batches in input order (no length sorting)
 *   transformers-js  @huggingface/transformers feature-extraction, CLS pooling, normalize,
 *                 fixed-size batches in input order (its own bundled onnxruntime-node)
 * Comparison parts (bench/lib/encoder-parts.ts), each in its own child process, stored beside the
 * variants in the same JSON: int8 (fp32 vs int8, same batches, alternating; needs
 * onnx/model_quantized.onnx, e.g. from `m3 quantize`), single (one 16-token query), mcls (MCLS
 * cost on long texts), profile (onnxruntime per-op time, fp32 and int8).
 *   --parts variants,int8,single,mcls,profile   (default: all; without "variants" the parts run
 *   are merged into the existing --out file, keeping its other results)
 *   --single-runs 20  --mcls-texts 2 --mcls-tokens 1024
 * FLOP per token at padded length L: 2·P + 2·layers·2·L·hidden, P = layers·(4·hidden² +
 * 2·hidden·ffn) (= 302e6 for BGE-M3: 0.604 GFLOP + attention). Achieved GFLOP/s counts the
 * padded tokens the forward pass really computed; "useful" counts real tokens only. The peak is
 * the best fp32 MatMul onnxruntime does here, measured in the same run on the model's shapes.
 *
 * Long inputs (peak memory, not speed), instead of the above:
 *
 *   npx tsx bench/encoder.ts --model <full-size model> --long [--long-tokens 8192]
 *        [--long-batch 4] [--long-only N] [--batch-tokens 16384] [--variant fp32|int8] [--unfused]
 *        [--out bench/results/encoder-long.json]
 *
 * Two child processes (each its own peak RSS): one text of --long-tokens tokens, then
 * --long-batch such texts in one encode call, all three outputs, through M3Encoder with the
 * given batchTokens and the default attentionBudget (one 8192-token text per pass); --long-only N
 * runs only the N-text child; --unfused loads the graph without the fused-attention rewrite.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Tokenizer } from "tokenizers";
import { planBatches, padBatch } from "../src/encode/batching.js";
import { hasInt8, int8Part, mclsPart, profilePart, singlePart } from "./lib/encoder-parts.js";
import { log, machineInfo, now, parseArgs, peakRssMiB, round, rssMiB } from "./lib/machine.js";
import type { MatMulPeak } from "./lib/onnx-matmul.js";
import { Rng } from "./lib/rng.js";
// onnxruntime-node is imported lazily: transformers.js bundles another onnxruntime-node version
// whose native library cannot share a process with ours (same soname).

const VARIANTS = ["m3-embeddings", "m3-embeddings-dense", "raw-sorted", "raw-fixed", "transformers-js"] as const;
type Variant = (typeof VARIANTS)[number];
const CORPORA = ["queries", "passages", "mixed"] as const;
type CorpusName = (typeof CORPORA)[number];

/** Encoder defaults (src/encode/options.ts) used by the planned variants. */
const BATCH_TOKENS = 16384;
const MAX_BATCH = 64;
/** Fixed batch size of the unsorted variants (a common choice: LangChain and transformers.js callers batch by count). */
const FIXED_BATCH = 16;

interface ModelShape {
  hidden: number;
  layers: number;
  ffn: number;
  vocab: number;
}

function readShape(modelDir: string): ModelShape {
  const c = JSON.parse(readFileSync(join(modelDir, "config.json"), "utf8")) as Record<string, number>;
  return { hidden: c.hidden_size!, layers: c.num_hidden_layers!, ffn: c.intermediate_size!, vocab: c.vocab_size! };
}

/** Forward-pass FLOP per token at padded length L (matrix products only). */
function flopPerToken(s: ModelShape, L: number): number {
  return 2 * s.layers * (4 * s.hidden * s.hidden + 2 * s.hidden * s.ffn) + 2 * s.layers * 2 * L * s.hidden;
}

const PLAIN_WORDS = (
  "the of and to in is was for on that with as by at from it an be this are which or has had " +
  "model search index document query vector dense sparse token retrieval language text data system river " +
  "mountain city music history science water energy market health school garden winter summer light"
).split(" ");

/** Texts of about the wanted token lengths, made of filler words "w<n>" (one token each with the padded full-size tokenizer). */
async function buildTexts(tok: Tokenizer, counts: Record<CorpusName, number>): Promise<Record<CorpusName, { texts: string[]; ids: Int32Array[] }>> {
  const rng = new Rng(12345);
  const ranges: Record<CorpusName, (r: Rng) => number> = {
    queries: (r) => r.int(16, 32),
    passages: (r) => r.int(256, 512),
    mixed: (r) => Math.round(Math.exp(Math.log(16) + r.next() * (Math.log(512) - Math.log(16)))),
  };
  // With the padded full-size tokenizer "w<n>" is one token; other tokenizers (the tiny test
  // fixtures) get plain English words, which every tokenizer (incl. transformers.js's) handles.
  const filler = (await tok.encode("w12345")).getIds().length === 3;
  const word = (r: Rng) => (filler ? `w${r.zipf(200000)}` : PLAIN_WORDS[r.zipf(PLAIN_WORDS.length)]!);
  const out = {} as Record<CorpusName, { texts: string[]; ids: Int32Array[] }>;
  for (const name of CORPORA) {
    const texts: string[] = [];
    const ids: Int32Array[] = [];
    for (let i = 0; i < counts[name]; i++) {
      const target = ranges[name](rng);
      const words = Array.from({ length: target }, () => word(rng));
      let lo = 1;
      let hi = words.length;
      const len = async (n: number) => (await tok.encode(words.slice(0, n).join(" "))).getIds().length;
      while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if ((await len(mid)) <= target) lo = mid;
        else hi = mid - 1;
      }
      const text = words.slice(0, lo).join(" ");
      texts.push(text);
      ids.push(Int32Array.from((await tok.encode(text)).getIds()));
    }
    out[name] = { texts, ids };
  }
  return out;
}

interface CorpusResult {
  corpus: CorpusName;
  texts: number;
  tokens: number;
  paddedTokens: number;
  batches: number;
  seconds: number;
  textsPerSecond: number;
  tokensPerSecond: number;
  /** FLOP computed (padded) / time. */
  gflops: number;
  /** FLOP of the real tokens only / time. */
  usefulGflops: number;
  gflopPerText: number;
}

interface VariantResult {
  variant: Variant;
  loadSeconds: number;
  peakRssMiB: number;
  corpora: CorpusResult[];
  note?: string;
}

function plannedBatches(variant: Variant, lengths: number[]): Array<{ items: number[]; length: number }> {
  if (variant !== "raw-fixed" && variant !== "transformers-js") return planBatches(lengths, BATCH_TOKENS, MAX_BATCH);
  const out = [];
  for (let i = 0; i < lengths.length; i += FIXED_BATCH) {
    const items = Array.from({ length: Math.min(FIXED_BATCH, lengths.length - i) }, (_, k) => i + k);
    out.push({ items, length: Math.max(...items.map((j) => lengths[j]!)) });
  }
  return out;
}

async function runVariant(variant: Variant, modelDir: string, threads: number, counts: Record<CorpusName, number>): Promise<VariantResult> {
  const shape = readShape(modelDir);
  const tok = await Tokenizer.fromFile(join(modelDir, "tokenizer.json"));
  const corpora = await buildTexts(tok, counts);
  const t0 = now();
  let run: (texts: string[], ids: Int32Array[], batches: Array<{ items: number[]; length: number }>) => Promise<void>;
  let release: () => Promise<void>;
  let note: string | undefined;
  if (variant === "m3-embeddings" || variant === "m3-embeddings-dense") {
    const { M3Embeddings } = await import("../src/langchain/embeddings.js");
    const emb = new M3Embeddings({ modelPath: modelDir, intraOpNumThreads: threads });
    await emb.load();
    if (variant === "m3-embeddings") {
      run = async (texts) => {
        const r = await emb.encode(texts);
        if (r.length !== texts.length || !r[0]?.colbert || !r[0].sparse || !r[0].dense) throw new Error("m3-embeddings: missing outputs");
      };
      note = `M3Embeddings.encode (= M3Encoder.encode): dense + sparse + ColBERT; layout ${emb.info?.layout}; the encoder's default batching`;
    } else {
      run = async (texts) => {
        const r = await emb.embedDocuments(texts);
        if (r.length !== texts.length) throw new Error("m3-embeddings-dense: wrong count");
      };
      note = `M3Embeddings.embedDocuments (LangChain Embeddings API): dense only, number[]`;
    }
    release = () => emb.encoder.dispose();
  } else if (variant === "raw-sorted" || variant === "raw-fixed") {
    const ort = await import("onnxruntime-node");
    const session = await ort.InferenceSession.create(join(modelDir, "onnx", "model.onnx"), {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: "all",
    });
    run = async (_texts, ids, batches) => {
      for (const b of batches) {
        const { inputIds, mask } = padBatch(b.items.map((i) => ids[i]!), b.length, 1);
        const dims = [b.items.length, b.length];
        await session.run({ input_ids: new ort.Tensor("int64", inputIds, dims), attention_mask: new ort.Tensor("int64", mask, dims) });
      }
    };
    release = () => session.release();
    note = variant === "raw-sorted" ? "last_hidden_state only; the encoder's batch plan" : `last_hidden_state only; batches of ${FIXED_BATCH} in input order`;
  } else {
    const tf = await import("@huggingface/transformers");
    // transformers.js wants tokenizer_config.json next to tokenizer.json; a model folder
    // without one is viewed through a temporary folder of symlinks plus a minimal one.
    let viewDir = resolve(modelDir);
    if (!existsSync(join(viewDir, "tokenizer_config.json"))) {
      viewDir = mkdtempSync(join(tmpdir(), "m3-tfjs-"));
      for (const f of readdirSync(resolve(modelDir))) symlinkSync(join(resolve(modelDir), f), join(viewDir, f));
      writeFileSync(join(viewDir, "tokenizer_config.json"), JSON.stringify({
        tokenizer_class: "XLMRobertaTokenizer", model_max_length: 8192, bos_token: "<s>", eos_token: "</s>", pad_token: "<pad>",
        unk_token: "<unk>", mask_token: "<mask>", cls_token: "<s>", sep_token: "</s>",
      }));
    }
    tf.env.allowRemoteModels = false;
    tf.env.allowLocalModels = true;
    tf.env.localModelPath = dirname(viewDir) + "/";
    const name = viewDir.split("/").pop()!;
    const extractor = await tf.pipeline("feature-extraction", name, {
      dtype: "fp32",
      device: "cpu",
      local_files_only: true,
      session_options: { intraOpNumThreads: threads, interOpNumThreads: 1 },
    });
    run = async (texts, _ids, batches) => {
      for (const b of batches) {
        const out = await extractor(b.items.map((i) => texts[i]!), { pooling: "cls", normalize: true });
        if (out.dims[0] !== b.items.length) throw new Error("transformers-js: wrong batch");
      }
    };
    release = () => extractor.dispose();
    const tfPkg = JSON.parse(readFileSync(new URL("../node_modules/@huggingface/transformers/package.json", import.meta.url), "utf8")) as { version: string };
    note = `@huggingface/transformers ${tfPkg.version} (bundled onnxruntime-node ${ortVersionOfTransformers()}); CLS pooling + normalize; batches of ${FIXED_BATCH} in input order`;
  }
  const loadSeconds = (now() - t0) / 1000;

  // Warm-up: a short and a long text.
  const warm = corpora.mixed;
  const wi = [0, 1].filter((i) => i < warm.texts.length);
  await run(wi.map((i) => warm.texts[i]!), wi.map((i) => warm.ids[i]!), plannedBatches(variant, wi.map((i) => warm.ids[i]!.length)));

  const results: CorpusResult[] = [];
  for (const name of CORPORA) {
    const { texts, ids } = corpora[name];
    const lengths = ids.map((r) => r.length);
    const batches = plannedBatches(variant, lengths);
    const t = now();
    await run(texts, ids, batches);
    const seconds = (now() - t) / 1000;
    const tokens = lengths.reduce((a, b) => a + b, 0);
    const padded = batches.reduce((a, b) => a + b.items.length * b.length, 0);
    const flop = batches.reduce((a, b) => a + b.items.length * b.length * flopPerToken(shape, b.length), 0);
    const useful = lengths.reduce((a, n) => a + n * flopPerToken(shape, n), 0);
    results.push({
      corpus: name,
      texts: texts.length,
      tokens,
      paddedTokens: padded,
      batches: batches.length,
      seconds: round(seconds),
      textsPerSecond: round(texts.length / seconds, 2),
      tokensPerSecond: round(tokens / seconds, 1),
      gflops: round(flop / seconds / 1e9, 1),
      usefulGflops: round(useful / seconds / 1e9, 1),
      gflopPerText: round(useful / texts.length / 1e9, 3),
    });
    log(`${variant} ${name}: ${texts.length} texts, ${tokens} tokens in ${seconds.toFixed(2)} s = ${(tokens / seconds).toFixed(1)} tok/s`);
  }
  await release();
  return { variant, loadSeconds: round(loadSeconds, 2), peakRssMiB: peakRssMiB(), corpora: results, ...(note ? { note } : {}) };
}

function ortVersionOfTransformers(): string {
  try {
    return (JSON.parse(readFileSync(new URL("../node_modules/@huggingface/transformers/node_modules/onnxruntime-node/package.json", import.meta.url), "utf8")) as { version: string }).version;
  } catch {
    return "shared";
  }
}

interface LongResult {
  variant: "fp32" | "int8";
  /** Attention blocks fused at load (0 with --unfused). */
  fusedAttentionBlocks: number;
  /** Peak RSS during the encode call (VmHWM reset after load; Linux only), and that minus the RSS after load. */
  encodePeakRssMiB: number | undefined;
  encodeAboveLoadMiB: number | undefined;
  texts: number;
  tokensPerText: number;
  batchTokens: number;
  /** Forward passes the encoder planned, and the largest one's texts × padded length. */
  passes: number;
  largestPass: string;
  /** Attention scores of the largest pass: batch × heads × L² float32, in MiB (one layer's [B, heads, L, L] tensor). */
  attentionScoresMiB: number;
  loadSeconds: number;
  rssAfterLoadMiB: number;
  /** Peak RSS after load (model read, session created, a short warm-up text). */
  peakAfterLoadMiB: number;
  seconds: number;
  /** Peak RSS of the whole process, encode included. */
  peakRssMiB: number;
}

/** One encode call of `n` texts of `tokens` tokens each (all outputs), in this process. */
async function runLong(modelDir: string, threads: number, n: number, tokens: number, batchTokens: number, variant: "fp32" | "int8", fused: boolean): Promise<LongResult> {
  const heads = Number((JSON.parse(readFileSync(join(modelDir, "config.json"), "utf8")) as Record<string, number>).num_attention_heads ?? 16);
  const tok = await Tokenizer.fromFile(join(modelDir, "tokenizer.json"));
  const rng = new Rng(8192);
  const filler = (await tok.encode("w12345")).getIds().length === 3;
  const texts: string[] = [];
  const lengths: number[] = [];
  for (let i = 0; i < n; i++) {
    // "w<n>" is one token with the padded full-size tokenizer; elsewhere plain words, cut to fit.
    const words = Array.from({ length: tokens - 2 }, () => (filler ? `w${rng.zipf(200000)}` : PLAIN_WORDS[rng.zipf(PLAIN_WORDS.length)]!));
    let text = words.join(" ");
    let len = (await tok.encode(text)).getIds().length;
    if (len > tokens) {
      let lo = 1;
      let hi = words.length;
      while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if ((await tok.encode(words.slice(0, mid).join(" "))).getIds().length <= tokens) lo = mid;
        else hi = mid - 1;
      }
      text = words.slice(0, lo).join(" ");
      len = (await tok.encode(text)).getIds().length;
    }
    texts.push(text);
    lengths.push(len);
  }
  const { M3Encoder } = await import("../src/encode/encoder.js");
  const t0 = now();
  const enc = await M3Encoder.load({ modelPath: modelDir, variant, intraOpNumThreads: threads, batchTokens, maxLength: tokens, fusedAttention: fused });
  await enc.encode(["warm-up"]);
  const loadSeconds = (now() - t0) / 1000;
  const rssAfterLoadMiB = rssMiB();
  const peakAfterLoadMiB = peakRssMiB();
  // Linux: reset the peak-RSS mark (VmHWM) so the encode call's own peak is read apart from the load's.
  const hwmReset = resetPeakRss();
  const plan = planBatches(lengths, batchTokens, MAX_BATCH);
  const largest = plan.reduce((a, b) => (b.items.length * b.length > a.items.length * a.length ? b : a));
  log(`long: ${n} × ${tokens} tokens, batchTokens ${batchTokens}: ${plan.length} passes, largest ${largest.items.length} × ${largest.length}; rss ${rssAfterLoadMiB} MiB after load`);
  const t1 = now();
  const out = await enc.encode(texts);
  const seconds = (now() - t1) / 1000;
  if (out.length !== n || !out.every((e) => e.dense && e.sparse && e.colbert && e.colbert.tokens > 0)) throw new Error("long: missing outputs");
  const fusedAttentionBlocks = enc.info?.fusedAttentionBlocks ?? 0;
  await enc.dispose();
  return {
    variant,
    fusedAttentionBlocks,
    encodePeakRssMiB: hwmReset ? vmHwmMiB() : undefined,
    encodeAboveLoadMiB: hwmReset ? vmHwmMiB() - rssAfterLoadMiB : undefined,
    texts: n,
    tokensPerText: lengths[0]!,
    batchTokens,
    passes: plan.length,
    largestPass: `${largest.items.length} × ${largest.length}`,
    attentionScoresMiB: round((largest.items.length * heads * largest.length ** 2 * 4) / 2 ** 20, 0),
    loadSeconds: round(loadSeconds, 1),
    rssAfterLoadMiB,
    peakAfterLoadMiB,
    seconds: round(seconds, 1),
    peakRssMiB: peakRssMiB(),
  };
}

function resetPeakRss(): boolean {
  try {
    writeFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

function vmHwmMiB(): number {
  const m = /VmHWM:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? Math.round(Number(m[1]) / 1024) : 0;
}

function spawnResult<T>(label: string, args: string[]): Promise<T> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...args], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.on("exit", (code, signal) => {
      const line = out.split("\n").find((l) => l.startsWith("@@RESULT "));
      if (code === 0 && line) res(JSON.parse(line.slice(9)) as T);
      else rej(new Error(`${label} exited with ${code ?? signal}`));
    });
  });
}

async function mainLong(a: Record<string, string | true>, modelDir: string, threads: number): Promise<void> {
  const tokens = Number(a["long-tokens"] ?? 8192);
  const batch = Number(a["long-batch"] ?? 4);
  const batchTokens = Number(a["batch-tokens"] ?? BATCH_TOKENS);
  const variant = a.variant === "int8" ? "int8" : "fp32";
  const fused = a.unfused !== true;
  const only = a["long-only"] === undefined ? undefined : Number(a["long-only"]);
  const machine = machineInfo();
  log(`encoder long-input memory: model ${modelDir}, ${threads} threads, ${tokens} tokens per text, batchTokens ${batchTokens}; ${machine.uptime}`);
  const runs: Array<LongResult | { texts: number; error: string }> = [];
  for (const n of only !== undefined ? [only] : batch > 1 ? [1, batch] : [1]) {
    const args = ["--model", modelDir, "--threads", String(threads), "--long-child", String(n), "--long-tokens", String(tokens), "--batch-tokens", String(batchTokens), "--variant", variant, ...(fused ? [] : ["--unfused"])];
    try {
      const r = await spawnResult<LongResult>(`long ${n}`, args);
      log(`${n} × ${r.tokensPerText} tokens: ${r.seconds} s, peak RSS ${r.peakRssMiB} MiB (after load ${r.peakAfterLoadMiB} MiB); passes ${r.passes}, largest ${r.largestPass}`);
      runs.push(r);
    } catch (err) {
      log(`${n} × ${tokens} failed: ${(err as Error).message}`);
      runs.push({ texts: n, error: (err as Error).message });
    }
  }
  const outFile = String(a.out ?? "bench/results/encoder-long.json");
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, JSON.stringify({ kind: "encoder-long", variant, fusedAttention: fused, machine, machineAtEnd: { uptime: machineInfo().uptime }, model: { dir: modelDir, ...readShape(modelDir) }, threads, runs }, null, 1) + "\n");
  log(`wrote ${outFile}`);
}

const PARTS = ["variants", "int8", "single", "mcls", "profile"] as const;
type Part = (typeof PARTS)[number];

/** Runs one comparison part in this (child) process; its result goes to the parent as JSON. */
async function runPart(part: Exclude<Part, "variants">, a: Record<string, string | true>, modelDir: string, threads: number, counts: Record<CorpusName, number>): Promise<unknown> {
  const startedAt = machineInfo().uptime;
  let result: unknown;
  if (part === "int8") {
    const tok = await Tokenizer.fromFile(join(modelDir, "tokenizer.json"));
    result = await int8Part(modelDir, threads, await buildTexts(tok, counts));
  } else if (part === "single") {
    result = await singlePart(modelDir, threads, Number(a["single-runs"] ?? 20));
  } else if (part === "mcls") {
    const tok = await Tokenizer.fromFile(join(modelDir, "tokenizer.json"));
    const n = Number(a["mcls-texts"] ?? 2);
    const target = Number(a["mcls-tokens"] ?? 1024);
    const texts = (await buildTexts(tok, { queries: 0, passages: n, mixed: 0 })).passages.texts.map((t) => {
      let out = t;
      while (out.split(" ").length < target) out += " " + t;
      return out.split(" ").slice(0, target - 2).join(" ");
    });
    result = await mclsPart(modelDir, threads, texts);
  } else {
    result = await profilePart(modelDir, threads, Number(a["profile-batch"] ?? 4), Number(a["profile-length"] ?? 128));
  }
  return { startedAt, ...(result as object) };
}

function child(variant: string, args: string[]): Promise<VariantResult> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...args, "--variant", variant], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.on("exit", (code) => {
      const line = out.split("\n").find((l) => l.startsWith("@@RESULT "));
      if (code === 0 && line) res(JSON.parse(line.slice(9)) as VariantResult);
      else rej(new Error(`${variant} exited with ${code}`));
    });
  });
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const modelDir = String(a.model ?? "bench/models/bge-m3-random");
  const threads = Number(a.threads ?? machineInfo().nproc);
  const counts: Record<CorpusName, number> = {
    queries: Number(a.queries ?? 48),
    passages: Number(a.passages ?? 12),
    mixed: Number(a.mixed ?? 40),
  };
  if (typeof a["long-child"] === "string") {
    const r = await runLong(modelDir, threads, Number(a["long-child"]), Number(a["long-tokens"] ?? 8192), Number(a["batch-tokens"] ?? BATCH_TOKENS), a.variant === "int8" ? "int8" : "fp32", a.unfused !== true);
    process.stdout.write(`@@RESULT ${JSON.stringify(r)}\n`);
    return;
  }
  if (a.long === true) return mainLong(a, modelDir, threads);
  if (typeof a.variant === "string") {
    const r = (PARTS as readonly string[]).includes(a.variant)
      ? await runPart(a.variant as Exclude<Part, "variants">, a, modelDir, threads, counts)
      : await runVariant(a.variant as Variant, modelDir, threads, counts);
    process.stdout.write(`@@RESULT ${JSON.stringify(r)}\n`);
    return;
  }
  const parts = (typeof a.parts === "string" ? a.parts.split(",") : [...PARTS]) as Part[];
  for (const p of parts) if (!PARTS.includes(p)) throw new Error(`--parts: unknown part ${p} (${PARTS.join(", ")})`);
  const outFile = String(a.out ?? "bench/results/encoder.json");
  const passthrough = ["single-runs", "mcls-texts", "mcls-tokens", "profile-batch", "profile-length"].flatMap((k) => (typeof a[k] === "string" ? [`--${k}`, a[k] as string] : []));
  const partArgs = ["--model", modelDir, "--threads", String(threads), "--queries", String(counts.queries), "--passages", String(counts.passages), "--mixed", String(counts.mixed), ...passthrough];
  const comparisons: Record<string, unknown> = {};
  let failed = false;
  for (const p of parts) {
    if (p === "variants") continue;
    if ((p === "int8") && !hasInt8(modelDir)) {
      log(`part ${p}: skipped, ${modelDir}/onnx/model_quantized.onnx is missing (make it with: m3 quantize ${modelDir})`);
      comparisons[p] = { skipped: "no onnx/model_quantized.onnx" };
      continue;
    }
    log(`part ${p}: ${machineInfo().uptime}`);
    try {
      comparisons[p] = await child(p, partArgs);
    } catch (err) {
      log(`part ${p} failed: ${(err as Error).message}`);
      comparisons[p] = { error: (err as Error).message };
      failed = true;
    }
  }
  if (!parts.includes("variants")) {
    const prev = existsSync(outFile) ? (JSON.parse(readFileSync(outFile, "utf8")) as Record<string, unknown>) : { kind: "encoder" };
    const merged = { ...prev, comparisons: { ...((prev.comparisons as Record<string, unknown> | undefined) ?? {}), ...comparisons } };
    mkdirSync(dirname(outFile), { recursive: true });
    writeFileSync(outFile, JSON.stringify(merged, null, 1) + "\n");
    log(`merged ${Object.keys(comparisons).join(", ")} into ${outFile}`);
    if (failed && a["allow-failures"] !== true) process.exitCode = 1;
    return;
  }
  const machine = machineInfo();
  log(`encoder bench: model ${modelDir}, ${threads} threads; ${machine.uptime}`);
  const shape = readShape(modelDir);
  const peakRuns = Number(a["peak-runs"] ?? 6);
  const { measureMatMulPeak } = await import("./lib/onnx-matmul.js");
  const peaks: MatMulPeak[] = [];
  const pm = Number(a["peak-m"] ?? 2048);
  for (const [m, k, n] of [[pm, 1024, 1024], [pm, 1024, 4096], [pm, 4096, 1024]] as const) {
    peaks.push(await measureMatMulPeak(threads, m, k, n, peakRuns));
  }
  const peak = Math.max(...peaks.map((p) => p.peakGflops));
  log(`fp32 MatMul peak ${peak.toFixed(1)} GFLOP/s`);
  const only = typeof a.variants === "string" ? (a.variants.split(",") as Variant[]) : [...VARIANTS];
  const childArgs = ["--model", modelDir, "--threads", String(threads), "--queries", String(counts.queries), "--passages", String(counts.passages), "--mixed", String(counts.mixed)];
  const variants: Array<VariantResult | { variant: Variant; error: string }> = [];
  for (const v of only) {
    try {
      variants.push(await child(v, childArgs));
    } catch (err) {
      log(`${v} failed: ${(err as Error).message}`);
      variants.push({ variant: v, error: (err as Error).message });
    }
  }
  for (const v of variants) {
    if ("corpora" in v) for (const c of v.corpora) Object.assign(c, { fractionOfPeak: round(c.gflops / peak, 3) });
  }
  const result = {
    kind: "encoder",
    machine,
    machineAtEnd: { uptime: machineInfo().uptime },
    model: { dir: modelDir, ...shape, paramsPerTokenFlop: 2 * shape.layers * (4 * shape.hidden ** 2 + 2 * shape.hidden * shape.ffn) },
    flopFormula: `FLOP/token at padded length L = 2·${shape.layers}·(4·${shape.hidden}² + 2·${shape.hidden}·${shape.ffn}) + 2·${shape.layers}·2·L·${shape.hidden}` +
      (shape.hidden === 1024 && shape.layers === 24 ? " = 2·302e6 + 2·24·2·L·1024" : ""),
    threads,
    counts,
    batching: { batchTokens: BATCH_TOKENS, maxBatchSize: MAX_BATCH, fixedBatch: FIXED_BATCH },
    matmulPeak: { bestGflops: round(peak, 1), shapes: peaks.map((p) => ({ ...p, peakGflops: round(p.peakGflops, 1), medianGflops: round(p.medianGflops, 1) })) },
    variants,
    comparisons,
  };
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, JSON.stringify(result, null, 1) + "\n");
  log(`wrote ${outFile}`);
  if ((failed || variants.some((v) => "error" in v)) && a["allow-failures"] !== true) process.exitCode = 1;
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
