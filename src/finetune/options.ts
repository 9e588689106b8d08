/** Options of `finetuneHeads`, their defaults and checks. */
import { tmpdir } from "node:os";
import { ErrorCodes, M3Error } from "../errors.js";
import type { ModelVariant } from "../encode/options.js";
import type { Logger } from "../types.js";
import { checkInt, checkNumber, describe } from "../util/validate.js";
import type { Mode, PerMode } from "./loss.js";
import type { TrainingPair } from "./pairs.js";

/** Per-epoch report. Accuracy: share of queries whose positive scores highest among the batch's candidates. */
export interface FinetuneEpoch {
  epoch: number;
  epochs: number;
  /** Mean loss L_final over the training batches, and per mode InfoNCE / distillation loss and accuracy. */
  train: EpochStats;
  heldOut: EpochStats;
  /** The epoch whose heads are kept so far (lowest held-out loss). */
  bestEpoch: number;
  seconds: number;
}

export interface EpochStats {
  loss: number;
  modes: PerMode<{ infoNce: number; distill: number; accuracy: number }>;
}

export type FinetuneProgress =
  | { phase: "encode"; done: number; total: number }
  | ({ phase: "epoch" } & FinetuneEpoch);

export interface FinetuneOptions {
  /** The model folder to start from (encoder-only layout: onnx/model.onnx + sparse_linear.pt + colbert_linear.pt). */
  modelPath: string;
  /** The training pairs: a JSONL file path, or the pairs themselves. */
  pairs: string | readonly TrainingPair[];
  /** The new model folder; must not exist. */
  outPath: string;
  /** Encoder weights used to compute the hidden states. @default "fp32" */
  variant?: ModelVariant;
  /** Passes over the training pairs. @default 4 */
  epochs?: number;
  /** Adam learning rate. @default 1e-4 */
  learningRate?: number;
  /** Queries per batch (their positives and negatives are every query's candidates). @default 16 */
  batchSize?: number;
  /** Softmax temperature τ of every InfoNCE and of the teacher. @default 0.02 */
  temperature?: number;
  /** Teacher weights w1..w3 of s_inter = w1·s_dense + w2·s_lex + w3·s_mul. @default { dense: 1, sparse: 0.3, colbert: 1 } */
  teacherWeights?: Partial<PerMode<number>>;
  /** Loss weights λ1..λ3. @default { dense: 1, sparse: 0.3, colbert: 1 } */
  lossWeights?: Partial<PerMode<number>>;
  /** Share of the pairs (whole pages when pairs carry `page`) held out for early stopping and the sparsity guard. @default 0.1 */
  heldOutShare?: number;
  /** Epochs without a lower held-out loss before training stops. @default 2 */
  patience?: number;
  /** Seed of the split, the shuffles and nothing else (training is deterministic). @default 1 */
  seed?: number;
  /** Tokens per text, `<s>` and `</s>` included. @default 256 */
  maxLength?: number;
  /** Largest share of held-out passages the new heads may leave with no lexical weight. @default 0.05 */
  maxEmptySparseShare?: number;
  /** Hidden states larger than this many bytes are cached in a temporary file instead of memory. @default 536870912 (512 MiB) */
  cacheMemoryBytes?: number;
  /** Folder for the temporary cache file (removed afterwards). @default os.tmpdir() */
  cacheDir?: string;
  /** Threads of the encoder session and nothing else (the heads train on the calling thread). @default the encoder's default (os.availableParallelism()) */
  intraOpNumThreads?: number;
  /** Called after each encoding batch and each epoch. */
  onProgress?: (p: FinetuneProgress) => void;
  /** Aborting stops at the next batch: ABORTED, nothing written. */
  signal?: AbortSignal;
  /** @default no logging */
  logger?: Logger;
}

export type ResolvedFinetuneOptions = Required<Omit<FinetuneOptions, "onProgress" | "signal" | "teacherWeights" | "lossWeights" | "intraOpNumThreads">> & {
  intraOpNumThreads: number | undefined;
  teacherWeights: PerMode<number>;
  lossWeights: PerMode<number>;
  onProgress: ((p: FinetuneProgress) => void) | undefined;
  signal: AbortSignal | undefined;
};

export const FINETUNE_DEFAULTS = {
  variant: "fp32" as ModelVariant,
  epochs: 4,
  learningRate: 1e-4,
  batchSize: 16,
  temperature: 0.02,
  teacherWeights: { dense: 1, sparse: 0.3, colbert: 1 },
  lossWeights: { dense: 1, sparse: 0.3, colbert: 1 },
  heldOutShare: 0.1,
  patience: 2,
  seed: 1,
  maxLength: 256,
  maxEmptySparseShare: 0.05,
  cacheMemoryBytes: 512 * 1024 * 1024,
} as const;

const invalid = (m: string): M3Error => new M3Error(ErrorCodes.INVALID_ARGUMENT, m);

function weights(name: string, v: Partial<PerMode<number>> | undefined, d: PerMode<number>): PerMode<number> {
  if (v !== undefined && (typeof v !== "object" || v === null)) throw invalid(`${name} must be an object such as { dense: 1, sparse: 0.3, colbert: 1 }; got ${describe(v)}.`);
  const out = { ...d };
  for (const m of ["dense", "sparse", "colbert"] as Mode[]) out[m] = checkNumber(`${name}.${m}`, v?.[m] ?? d[m], 0, 1000);
  return out;
}

export function resolveFinetuneOptions(o: FinetuneOptions): ResolvedFinetuneOptions {
  if (typeof o !== "object" || o === null) throw invalid(`finetuneHeads needs an options object with modelPath, pairs and outPath; got ${describe(o)}.`);
  for (const k of ["modelPath", "outPath"] as const) {
    if (typeof o[k] !== "string" || o[k].length === 0) throw invalid(`${k} must be a folder path; got ${describe(o[k])}.`);
  }
  if (typeof o.pairs !== "string" && !Array.isArray(o.pairs)) throw invalid(`pairs must be a JSONL file path or an array of { query, positive } pairs; got ${describe(o.pairs)}.`);
  if (o.onProgress !== undefined && typeof o.onProgress !== "function") throw invalid(`onProgress must be a function; got ${describe(o.onProgress)}.`);
  const D = FINETUNE_DEFAULTS;
  const variant = o.variant ?? D.variant;
  if (!["fp32", "int8", "fp16"].includes(variant)) throw invalid(`variant must be fp32, int8 or fp16; got ${describe(variant)}.`);
  return {
    modelPath: o.modelPath,
    pairs: o.pairs,
    outPath: o.outPath,
    variant,
    epochs: checkInt("epochs", o.epochs ?? D.epochs, 1, 10000),
    learningRate: checkNumber("learningRate", o.learningRate ?? D.learningRate, 1e-12, 10),
    batchSize: checkInt("batchSize", o.batchSize ?? D.batchSize, 2, 4096),
    temperature: checkNumber("temperature", o.temperature ?? D.temperature, 1e-4, 100),
    teacherWeights: weights("teacherWeights", o.teacherWeights, D.teacherWeights),
    lossWeights: weights("lossWeights", o.lossWeights, D.lossWeights),
    heldOutShare: checkNumber("heldOutShare", o.heldOutShare ?? D.heldOutShare, 0.01, 0.9),
    patience: checkInt("patience", o.patience ?? D.patience, 1, 10000),
    seed: checkInt("seed", o.seed ?? D.seed, 0, 2 ** 31 - 1),
    maxLength: checkInt("maxLength", o.maxLength ?? D.maxLength, 4, 8192),
    maxEmptySparseShare: checkNumber("maxEmptySparseShare", o.maxEmptySparseShare ?? D.maxEmptySparseShare, 0, 1),
    cacheMemoryBytes: checkNumber("cacheMemoryBytes", o.cacheMemoryBytes ?? D.cacheMemoryBytes, 0, Number.MAX_SAFE_INTEGER),
    cacheDir: o.cacheDir ?? tmpdir(),
    intraOpNumThreads: o.intraOpNumThreads === undefined ? undefined : checkInt("intraOpNumThreads", o.intraOpNumThreads, 1, 1024),
    onProgress: o.onProgress,
    signal: o.signal,
    logger: o.logger ?? {},
  };
}
