/**
 * The encoder bench's comparison parts, each run in its own child process by bench/encoder.ts:
 *   int8    fp32 and int8 M3Encoders in one process on the same texts, batch by batch
 *           alternately (same batch plan): tokens/s of each and the int8 outputs' fidelity.
 *   single  one 16-token query (`<s>`/`</s>` included): encode() with all three outputs, dense
 *           only, and the bare session.run of the encoder graph (the floor); fp32, then int8,
 *           each variant's paths in random order every round; p50/p90 ms.
 *   mcls    long texts encoded with mcls off and on, alternately: tokens/s and the extra tokens.
 *   profile onnxruntime's per-node profile of the fp32 and int8 encoder graphs on one batch,
 *           summed by op type (where the int8 time goes).
 */
import { existsSync, readFileSync, readdirSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { M3Encoder as M3EncoderType } from "../../src/encode/encoder.js";
import { planBatches } from "../../src/encode/batching.js";
import { INT8_DISABLED_OPTIMIZERS } from "../../src/encode/options.js"; // no onnxruntime import (see bench/encoder.ts)
import type { M3Encoding } from "../../src/types.js";
import { log, now, peakRssMiB, percentile, round } from "./machine.js";

type Texts = Record<string, { texts: string[]; ids: Int32Array[] }>;

const int8File = (dir: string) => join(dir, "onnx", "model_quantized.onnx");
export const hasInt8 = (dir: string): boolean => existsSync(int8File(dir));

async function encoder(dir: string, variant: "fp32" | "int8", threads: number, extra: Record<string, unknown> = {}): Promise<M3EncoderType> {
  const { M3Encoder } = await import("../../src/encode/encoder.js");
  return M3Encoder.load({ modelPath: dir, variant, intraOpNumThreads: threads, ...extra });
}

export interface Int8CorpusResult {
  corpus: string;
  texts: number;
  tokens: number;
  batches: number;
  fp32TokensPerSecond: number;
  int8TokensPerSecond: number;
  ratio: number;
  fidelity: import("../../src/encode/fidelity.js").Fidelity;
}

export async function int8Part(dir: string, threads: number, corpora: Texts): Promise<{ corpora: Int8CorpusResult[]; peakRssMiB: number }> {
  const { compareEncodings } = await import("../../src/encode/fidelity.js");
  const fp32 = await encoder(dir, "fp32", threads);
  const int8 = await encoder(dir, "int8", threads);
  await fp32.encode(["warm up"]);
  await int8.encode(["warm up"]);
  const out: Int8CorpusResult[] = [];
  for (const [name, { texts, ids }] of Object.entries(corpora)) {
    // The encoder's own plan, so both variants see exactly the same batches; alternate per batch.
    const batches = planBatches(ids.map((r) => r.length), 16384, 64);
    const ref: M3Encoding[] = new Array(texts.length);
    const got: M3Encoding[] = new Array(texts.length);
    let tf = 0;
    let tq = 0;
    for (const [i, b] of batches.entries()) {
      const bt = b.items.map((j) => texts[j]!);
      const order = i % 2 === 0 ? ([[fp32, ref, 0], [int8, got, 1]] as const) : ([[int8, got, 1], [fp32, ref, 0]] as const);
      for (const [enc, into, k] of order) {
        const t = now();
        const r = await enc.encode(bt);
        const dt = now() - t;
        if (k === 0) tf += dt;
        else tq += dt;
        r.forEach((e, m) => (into[b.items[m]!] = e));
      }
    }
    const tokens = ids.reduce((a, r) => a + r.length, 0);
    const fidelity = compareEncodings(ref, got, 2 * texts.length);
    const res: Int8CorpusResult = {
      corpus: name,
      texts: texts.length,
      tokens,
      batches: batches.length,
      fp32TokensPerSecond: round(tokens / (tf / 1000), 1),
      int8TokensPerSecond: round(tokens / (tq / 1000), 1),
      ratio: round(tf / tq, 2),
      fidelity,
    };
    log(`int8 ${name}: fp32 ${res.fp32TokensPerSecond} tok/s, int8 ${res.int8TokensPerSecond} tok/s (×${res.ratio}), dense cos min ${fidelity.denseCosine.min.toFixed(4)}`);
    out.push(res);
  }
  await fp32.dispose();
  await int8.dispose();
  return { corpora: out, peakRssMiB: peakRssMiB() };
}

export interface SingleRow {
  variant: "fp32" | "int8";
  path: "encode (dense + sparse + ColBERT)" | "encode (dense only)" | "session.run (encoder graph only)";
  p50Ms: number;
  p90Ms: number;
  runs: number;
}

/** The longest text of at most `tokens` tokens (`<s>`/`</s>` included) made of query-like words. */
export async function textOfTokens(enc: M3EncoderType, tokens: number): Promise<string> {
  const words = "how does the moon raise the tides of the oceans twice every day and why do they differ along coasts".split(" ");
  let best = "";
  for (let n = 1; n < 200; n++) {
    const t = Array.from({ length: n }, (_, i) => words[i % words.length]).join(" ");
    const [ids] = await enc.tokenize([t]);
    if (ids!.length > tokens) break;
    best = t;
  }
  if (best === "") throw new Error("cannot build the query text");
  // Top up with one-token words to hit the count exactly.
  for (const w of ["a", "i", "s", "x", ...words]) {
    const [ids] = await enc.tokenize([`${best} ${w}`]);
    if (ids!.length === tokens) return `${best} ${w}`;
  }
  return best;
}

export async function singlePart(dir: string, threads: number, runs: number): Promise<{ tokens: number; rows: SingleRow[] }> {
  const ort = await import("onnxruntime-node");
  const { Rng } = await import("./rng.js");
  const rng = new Rng(7);
  const variants = hasInt8(dir) ? (["fp32", "int8"] as const) : (["fp32"] as const);
  const rows: SingleRow[] = [];
  let tokens = 0;
  // One variant at a time (its weights alone in the caches), its three paths in a fresh random
  // order every round, so no path always runs right after another.
  for (const v of variants) {
    const e = await encoder(dir, v, threads);
    const q = await textOfTokens(e, 16);
    const [ids] = await e.tokenize([q]);
    const L = ids!.length;
    tokens = L;
    // The floor: the encoder's own session (bench-only access), fed pre-built tensors.
    const runner = (e as unknown as { model: { runner: { encoder?: import("onnxruntime-node").InferenceSession; session?: import("onnxruntime-node").InferenceSession } } }).model.runner;
    const s = runner.encoder ?? runner.session!;
    const feeds = {
      input_ids: new ort.Tensor("int64", BigInt64Array.from(ids!, BigInt), [1, L]),
      attention_mask: new ort.Tensor("int64", new BigInt64Array(L).fill(1n), [1, L]),
    };
    const jobs: Array<{ path: SingleRow["path"]; run: () => Promise<unknown>; times: number[] }> = [
      { path: "encode (dense + sparse + ColBERT)", run: () => e.encode([q]), times: [] },
      { path: "encode (dense only)", run: () => e.encode([q], { sparse: false, colbert: false }), times: [] },
      { path: "session.run (encoder graph only)", run: () => s.run(feeds), times: [] },
    ];
    for (const j of jobs) for (let i = 0; i < 3; i++) await j.run();
    for (let r = 0; r < runs; r++) {
      const order = [0, 1, 2].sort(() => rng.next() - 0.5);
      for (const k of order) {
        const j = jobs[k]!;
        const t = now();
        await j.run();
        j.times.push(now() - t);
      }
    }
    await e.dispose();
    for (const j of jobs) rows.push({ variant: v, path: j.path, p50Ms: round(percentile(j.times, 50), 1), p90Ms: round(percentile(j.times, 90), 1), runs: j.times.length });
  }
  for (const r of rows) log(`single ${r.variant} ${r.path}: p50 ${r.p50Ms} ms, p90 ${r.p90Ms} ms`);
  return { tokens, rows };
}

export interface MclsResult {
  texts: number;
  step: number;
  tokensOff: number;
  tokensOn: number;
  /** `<s>` tokens MCLS inserted (over all texts). */
  insertedCls: number;
  offTokensPerSecond: number;
  onTokensPerSecond: number;
  /** Time with MCLS / time without. */
  costRatio: number;
  /** Cosine between each text's dense vector with and without MCLS (min, mean). */
  denseCosine: { min: number; mean: number };
}

export async function mclsPart(dir: string, threads: number, texts: string[]): Promise<MclsResult> {
  const off = await encoder(dir, "fp32", threads);
  const on = await encoder(dir, "fp32", threads, { mcls: true });
  let toff = 0, ton = 0, nOff = 0, nOn = 0, inserted = 0;
  const cos: number[] = [];
  await off.encode(["warm up"]);
  await on.encode(["warm up"]);
  for (const [i, t] of texts.entries()) {
    const pair = i % 2 === 0 ? [off, on] : [on, off];
    const res = new Map<M3EncoderType, M3Encoding>();
    for (const e of pair) {
      const s = now();
      const [r] = await e.encode([t]);
      const dt = now() - s;
      res.set(e, r!);
      if (e === off) {
        toff += dt;
        nOff += r!.tokenCount;
      } else {
        ton += dt;
        nOn += r!.tokenCount;
        inserted += r!.tokenCount - r!.colbert!.tokens - 1; // rows = content tokens + </s>
      }
    }
    const a = res.get(off)!.dense!, b = res.get(on)!.dense!;
    cos.push(a.reduce((s, x, k) => s + x * b[k]!, 0));
  }
  await off.dispose();
  await on.dispose();
  const r: MclsResult = {
    texts: texts.length,
    step: 256,
    tokensOff: nOff,
    tokensOn: nOn,
    insertedCls: inserted,
    offTokensPerSecond: round(nOff / (toff / 1000), 1),
    onTokensPerSecond: round(nOn / (ton / 1000), 1),
    costRatio: round(ton / toff, 3),
    denseCosine: { min: round(Math.min(...cos), 4), mean: round(cos.reduce((a, b) => a + b, 0) / cos.length, 4) },
  };
  log(`mcls: off ${r.offTokensPerSecond} tok/s, on ${r.onTokensPerSecond} tok/s, time ×${r.costRatio}`);
  return r;
}

export interface ProfileResult {
  batch: number;
  length: number;
  variants: Array<{ variant: "fp32" | "int8"; runMs: number; ops: Array<{ op: string; ms: number; share: number }> }>;
}

export async function profilePart(dir: string, threads: number, batch: number, length: number): Promise<ProfileResult> {
  const ort = await import("onnxruntime-node");
  const ids = BigInt64Array.from({ length: batch * length }, (_, i) => BigInt(5 + ((i * 7919) % 1000)));
  const feeds = {
    input_ids: new ort.Tensor("int64", ids, [batch, length]),
    attention_mask: new ort.Tensor("int64", new BigInt64Array(batch * length).fill(1n), [batch, length]),
  };
  const out: ProfileResult = { batch, length, variants: [] };
  const files: Array<["fp32" | "int8", string]> = [["fp32", join(dir, "onnx", "model.onnx")]];
  if (hasInt8(dir)) files.push(["int8", int8File(dir)]);
  for (const [variant, file] of files) {
    const prefix = join(tmpdir(), `m3-bench-profile-${process.pid}-${variant}`);
    const s = await ort.InferenceSession.create(file, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: "all",
      enableProfiling: true,
      profileFilePrefix: prefix,
      // The options the encoder uses for this variant (src/encode/session.ts).
      ...(variant === "int8" ? { extra: { "optimization.disable_specified_optimizers": INT8_DISABLED_OPTIMIZERS } } : {}),
    } as import("onnxruntime-node").InferenceSession.SessionOptions);
    for (let i = 0; i < 3; i++) await s.run(feeds);
    (s as unknown as { endProfiling(): void }).endProfiling();
    await s.release();
    const name = readdirSync(tmpdir()).find((f) => join(tmpdir(), f).startsWith(prefix))!;
    const events = JSON.parse(readFileSync(join(tmpdir(), name), "utf8")) as Array<{ cat: string; name: string; dur: number; args?: { op_name?: string } }>;
    unlinkSync(join(tmpdir(), name));
    // The first run includes one-time work; keep the last two.
    const runs = events.filter((e) => e.cat === "Session" && e.name === "model_run");
    const kernels = events.filter((e) => e.cat === "Node" && e.name.endsWith("_kernel_time"));
    const perRun = Math.floor(kernels.length / Math.max(1, runs.length));
    const kept = kernels.slice(perRun);
    const by = new Map<string, number>();
    for (const e of kept) by.set(e.args?.op_name ?? "?", (by.get(e.args?.op_name ?? "?") ?? 0) + e.dur);
    const total = [...by.values()].reduce((a, b) => a + b, 0);
    const nRuns = Math.max(1, runs.length - 1);
    out.variants.push({
      variant,
      runMs: round(runs.slice(1).reduce((a, e) => a + e.dur, 0) / nRuns / 1000, 1),
      ops: [...by].sort((a, b) => b[1] - a[1]).map(([op, us]) => ({ op, ms: round(us / nRuns / 1000, 1), share: round(us / total, 3) })),
    });
    log(`profile ${variant}: ${out.variants.at(-1)!.ops.slice(0, 4).map((o) => `${o.op} ${(100 * o.share).toFixed(0)}%`).join(", ")}`);
  }
  return out;
}
