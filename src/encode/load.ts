/**
 * Loads a model folder: finds its files, reads the tokenizer and config, creates the
 * onnxruntime session(s) and, for encoder-only layouts, builds the head graph from the .pt files.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { basename, dirname, relative } from "node:path";
import { ErrorCodes, M3Error } from "../errors.js";
import { M3Tokenizer } from "../tokenize/tokenizer.js";
import { buildHeadGraph, headsFromStateDicts } from "./onnx/head-graph.js";
import { HIDDEN_OUTPUT, THREE_HEAD_OUTPUTS, classifyOutputs, findModelFiles, requireHeads, unknownGraph, type LayoutKind } from "./layout.js";
import { MAX_TOKENS, type ModelVariant, type ResolvedEncoderOptions } from "./options.js";
import { checkMclsRoom } from "./mcls.js";
import { deviceLabel } from "./providers.js";
import { headLimits, loadStateDict } from "./pt/state-dict.js";
import { EncoderOnlyRunner, ThreeHeadsRunner, checkInputs, type BatchRunner } from "./runners.js";
import { createEncoderSession } from "./fused-load.js";
import { createSession, inputTypes, outputLastDim, sessionOptions, type Session } from "./session.js";

/** What was loaded, for callers and logs. */
export interface EncoderInfo {
  layout: LayoutKind;
  /** The weights variant; graphs with the heads inside are "fp32". */
  variant: ModelVariant;
  modelPath: string;
  /** Files used, relative to modelPath. */
  files: string[];
  hiddenSize: number;
  /** Longest input the model accepts, including `<s>` and `</s>`. */
  maxLength: number;
  vocabSize: number;
  /**
   * The execution providers the sessions were created with, in onnxruntime's order of
   * preference (each node runs on the first that supports it; "cpu" is always last).
   */
  executionProviders: string[];
  /** Where the first provider runs: "cpu", or e.g. "cuda:0". */
  device: string;
  /** Content tokens per `<s>` when MCLS is on (`mcls: true`), else undefined. */
  mclsStep: number | undefined;
  /** Attention blocks rewritten to onnxruntime's fused MultiHeadAttention at load (0: none; see `fusedAttention`). */
  fusedAttentionBlocks: number;
  /** Encoder-only layouts: sha256 of the two head files (see `ModelFingerprint.headsSha256`). */
  headsSha256?: string;
}

export interface LoadedModel {
  runner: BatchRunner;
  tokenizer: M3Tokenizer;
  info: EncoderInfo;
}

interface ModelConfig {
  hidden_size?: number;
  num_attention_heads?: number;
  max_position_embeddings?: number;
  pad_token_id?: number;
}

async function readConfig(path: string | undefined): Promise<ModelConfig> {
  if (path === undefined) return {};
  try {
    const c = JSON.parse(await readFile(path, "utf8")) as unknown;
    if (typeof c !== "object" || c === null) throw new Error("not a JSON object");
    return c as ModelConfig;
  } catch (err) {
    throw new M3Error(ErrorCodes.MODEL_INVALID, `Cannot read ${path}: ${(err as Error).message}. Re-download config.json or delete it.`, {
      cause: err,
      details: { file: path },
    });
  }
}

const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isInteger(v) && v > 0 ? v : undefined);

export async function loadModel(o: ResolvedEncoderOptions): Promise<LoadedModel> {
  const t0 = Date.now();
  const files = await findModelFiles(o.modelPath, o.variant);
  // Graphs in onnx/ and the int8/fp16 files are encoder-only: check for the heads before any slow step.
  if (o.variant !== "fp32" || basename(dirname(files.graph)) === "onnx") await requireHeads(files);
  const [tokenizer, config] = await Promise.all([M3Tokenizer.load(files.tokenizer), readConfig(files.config)]);
  const opts = sessionOptions(o);
  const { session, fusedBlocks } = await createEncoderSession(files.graph, opts, o, num(config.num_attention_heads));
  const used = [files.graph, files.tokenizer, ...(files.config ? [files.config] : [])];
  const padId = num(config.pad_token_id) ?? tokenizer.special.pad;
  const s = tokenizer.special;
  const drop = new Set([s.cls, s.pad, s.sep, s.unk]);
  let runner: BatchRunner;
  let hidden: number | undefined;
  let headsSha256: string | undefined;
  const kind = classifyOutputs(session.outputNames);
  try {
    if (kind === undefined) throw unknownGraph(files, session.outputNames);
    checkInputs(session, files.graph);
    if (kind === "encoder-only") {
      const pts = await requireHeads(files);
      hidden = num(config.hidden_size) ?? outputLastDim(session, HIDDEN_OUTPUT);
      // The head files are checked against the hidden size (shapes, file size) before anything is allocated.
      const limits = headLimits(hidden);
      const [sp, cb] = await Promise.all([loadStateDict(pts.sparsePt, limits), loadStateDict(pts.colbertPt, limits)]);
      const heads = headsFromStateDicts(sp, cb, hidden, { sparse: basename(pts.sparsePt), colbert: basename(pts.colbertPt) });
      hidden = heads.hidden;
      // The heads are ~0.35% of the encoder's FLOPs. On one thread they run on the caller's
      // thread, without waking a pool that competes with the encoder's still-spinning workers:
      // measured 0.9 vs 2.9 ms after a 16-token query, 213 vs 250 ms for 2000 rows.
      const headOpts = { ...opts, intraOpNumThreads: 1 };
      const [both, sparseOnly] = await Promise.all([
        createSession(buildHeadGraph(heads), headOpts, "the generated head graph"),
        createSession(buildHeadGraph(heads, { colbert: false }), headOpts, "the generated sparse head graph"),
      ]);
      runner = new EncoderOnlyRunner(session, inputTypes(session), HIDDEN_OUTPUT, both, sparseOnly, padId, drop);
      used.push(pts.sparsePt, pts.colbertPt);
      headsSha256 = await hashFiles([pts.sparsePt, pts.colbertPt]);
    } else {
      const names = THREE_HEAD_OUTPUTS[kind];
      hidden = num(config.hidden_size) ?? outputLastDim(session, names.dense);
      runner = new ThreeHeadsRunner(session, inputTypes(session), names, padId, drop);
    }
  } catch (err) {
    await session.release().catch(() => undefined);
    throw err;
  }
  const maxLength = Math.min(MAX_TOKENS, (num(config.max_position_embeddings) ?? MAX_TOKENS + 2) - 2);
  try {
    if (o.mcls) checkMcls(kind, maxLength, o.mclsStep);
    if (hidden === undefined) hidden = await probeHidden(runner, tokenizer);
  } catch (err) {
    await runner.release().catch(() => undefined);
    throw err;
  }
  const info: EncoderInfo = {
    layout: kind,
    variant: kind === "encoder-only" ? o.variant : "fp32",
    modelPath: o.modelPath,
    files: used.map((f) => relative(o.modelPath, f)),
    hiddenSize: hidden,
    maxLength,
    vocabSize: tokenizer.vocabSize,
    executionProviders: o.executionProviders.map((p) => p.name),
    device: deviceLabel(o.executionProviders[0]!),
    mclsStep: o.mcls ? o.mclsStep : undefined,
    fusedAttentionBlocks: fusedBlocks,
    ...(headsSha256 === undefined ? {} : { headsSha256 }),
  };
  o.logger.debug?.("bge-m3 model loaded", { ...info, ms: Date.now() - t0 });
  return { runner, tokenizer, info };
}

/** sha256 of the files' bytes in order (the head files: a few MB at most, bounded by loadStateDict). */
async function hashFiles(paths: string[]): Promise<string> {
  const h = createHash("sha256");
  for (const p of paths) h.update(await readFile(p));
  return h.digest("hex");
}

/** MCLS needs per-token hidden states (encoder-only) and room for an inserted `<s>`. */
function checkMcls(kind: LayoutKind, maxLength: number, step: number): void {
  if (kind !== "encoder-only") {
    throw new M3Error(
      ErrorCodes.INVALID_ARGUMENT,
      `mcls needs the per-token hidden states of an encoder-only graph (onnx/model.onnx of BAAI/bge-m3); this model is ` +
        `${kind}, whose graph pools position 0 itself. Turn mcls off or use the encoder-only layout.`,
      { details: { layout: kind } },
    );
  }
  checkMclsRoom(maxLength, step, "this model's maxLength (config.json max_position_embeddings − 2)");
}

/** Hidden size from one tiny run, for graphs that declare neither it nor a config.json. */
async function probeHidden(runner: BatchRunner, tokenizer: M3Tokenizer): Promise<number> {
  const ids = await tokenizer.tokenize([""], 2);
  const [r] = await runner.run(ids, ids[0]!.length, { dense: true, sparse: false, colbert: false });
  return r!.dense!.length;
}

export type { Session };
