/** Options of the M3 encoder, their documented defaults, and their validation. */
import { availableParallelism } from "node:os";
import type { InferenceSession } from "onnxruntime-node";
import { ErrorCodes, M3Error } from "../errors.js";
import type { Logger } from "../types.js";
import { checkInt, describe } from "../util/validate.js";
import { DEFAULT_ATTENTION_BUDGET } from "./batching.js";
import { MCLS_STEP, checkMclsRoom } from "./mcls.js";
import { resolveProviders, type ExecutionProvider, type ResolvedProvider } from "./providers.js";

/** Which weights of an encoder-only layout to load: `onnx/model.onnx`, `model_quantized.onnx` or `model_fp16.onnx`. */
export type ModelVariant = "fp32" | "int8" | "fp16";

/** The longest input BGE-M3 accepts (position table of 8194 minus the padding offset). */
export const MAX_TOKENS = 8192;

export interface M3EncoderOptions {
  /** A local folder with a BGE-M3 model in one of the supported layouts (see the README). */
  modelPath: string;
  /**
   * Weights to load for the encoder-only layout. "int8" loads `model_quantized.onnx`,
   * "fp16" loads `model_fp16.onnx`. Graphs with the heads inside are fp32 only.
   * @default "fp32"
   */
  variant?: ModelVariant;
  /**
   * Default maximum tokens per text including `<s>` and `</s>` (2..8192); clamped to what
   * the model's position table allows (config.json `max_position_embeddings - 2`).
   * @default 8192
   */
  maxLength?: number;
  /**
   * Token budget of one forward pass: texts are packed so that count × longest <= batchTokens
   * (a longer text runs alone).
   * @default 16384
   */
  batchTokens?: number;
  /**
   * Attention-memory budget of one forward pass, in texts × L² (L: the pass's padded length):
   * the attention scores of a pass grow with it (unfused: ~150 bytes per unit on BGE-M3, 16
   * heads; see the README's Limitations). Texts are packed so that count × longest² stays within
   * it, so long texts run alone. One text at `maxLength` must fit (maxLength² <= budget), else
   * the constructor throws INVALID_ARGUMENT; lower it with `maxLength` to bound memory further.
   * @default 67108864 (8192², one 8192-token text per pass)
   */
  attentionBudget?: number;
  /**
   * MCLS (the M3 paper's "multiple CLS", for long inputs on models without long-text tuning):
   * a `<s>` is inserted in front of every block of `mclsStep` content tokens and the dense vector
   * is the normalised mean of the final hidden states at all `<s>` positions. Inserted tokens
   * count toward `maxLength`; their rows are dropped from sparse and ColBERT (see the README).
   * Texts of at most `mclsStep` content tokens are encoded exactly as without it. Encoder-only
   * layout only (the graphs with heads inside pool position 0 themselves).
   * @default false
   */
  mcls?: boolean;
  /** Content tokens per `<s>` with `mcls`. @default 256 */
  mclsStep?: number;
  /**
   * Rewrite the encoder graph's attention at load into onnxruntime's fused MultiHeadAttention
   * (fp32/int8 graphs with external or up to 768 MiB of inline weights, when the pattern is found;
   * `info.fusedAttentionBlocks` says how many blocks). A pass without padding (one text, or
   * texts of one length) then takes the CPU kernel's flash path, whose attention memory is
   * linear in L; padded passes materialise the scores once. false loads the graph as it is.
   * @default true
   */
  fusedAttention?: boolean;
  /** Maximum texts in one forward pass. @default 64 */
  maxBatchSize?: number;
  /** onnxruntime intra-op threads. @default os.availableParallelism() */
  intraOpNumThreads?: number;
  /** onnxruntime graph optimisation level. @default "all" */
  graphOptimizationLevel?: "disabled" | "basic" | "extended" | "all";
  /**
   * onnxruntime execution providers in order of preference: names (`"cpu"`, `"cuda"`,
   * `"tensorrt"`, `"dml"`, `"coreml"`, `"webgpu"`) or objects with provider options
   * (`{ name: "cuda", deviceId: 1 }`, `{ name: "coreml", coreMlFlags: 0 }`, `{ name: "webgpu",
   * preferredLayout: "NHWC" }`). onnxruntime gives each graph node to the first listed provider
   * that can run it; `"cpu"` is appended when absent, so the rest falls back to the CPU. A
   * provider the installed onnxruntime-node cannot give fails the load with
   * PROVIDER_UNAVAILABLE (never silently CPU); see `providerSupport()`.
   * @default ["cpu"]
   */
  executionProviders?: ExecutionProvider[];
  /**
   * Extra onnxruntime session options, applied over the defaults above (its
   * `executionProviders`, if any, is validated like the option above; give only one of the two).
   * @default {}
   */
  sessionOptions?: InferenceSession.SessionOptions;
  /** Receives debug/info/warn messages. @default no logging */
  logger?: Logger;
}

/**
 * onnxruntime graph rewrites turned off for the int8 graphs: fusing the residual Add and
 * LayerNormalization into SkipLayerNormalization made the int8 encoder 14–22% slower here
 * (three interleaved runs on the full-size model; neutral for fp32).
 */
export const INT8_DISABLED_OPTIMIZERS = "SkipLayerNormFusion;BiasSkipLayerNormFusion";

/** The options with every default filled in. */
export type ResolvedEncoderOptions = Required<Omit<M3EncoderOptions, "logger" | "executionProviders">> & {
  logger: Logger;
  executionProviders: ResolvedProvider[];
};

const VARIANTS: readonly ModelVariant[] = ["fp32", "int8", "fp16"];
const LEVELS = ["disabled", "basic", "extended", "all"] as const;

/** Validates `options` and fills in the defaults (never mutates the argument). */
export function resolveEncoderOptions(options: M3EncoderOptions): ResolvedEncoderOptions {
  if (typeof options !== "object" || options === null) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `Encoder options must be an object with a modelPath; got ${describe(options)}.`);
  }
  const { modelPath } = options;
  if (typeof modelPath !== "string" || modelPath.length === 0) {
    throw new M3Error(
      ErrorCodes.INVALID_ARGUMENT,
      `modelPath must be the path of a local BGE-M3 model folder; got ${describe(modelPath)}. ` +
        `Download one (e.g. BAAI/bge-m3) or use fromPretrained().`,
    );
  }
  const variant = options.variant ?? "fp32";
  if (!VARIANTS.includes(variant)) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `variant must be one of ${VARIANTS.join(", ")}; got ${describe(variant)}.`);
  }
  const level = options.graphOptimizationLevel ?? "all";
  if (!LEVELS.includes(level)) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `graphOptimizationLevel must be one of ${LEVELS.join(", ")}; got ${describe(level)}.`);
  }
  const sessionOptions = options.sessionOptions ?? {};
  if (typeof sessionOptions !== "object" || sessionOptions === null) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `sessionOptions must be an object of onnxruntime session options; got ${describe(sessionOptions)}.`);
  }
  const { executionProviders: fromSession, ...restSession } = sessionOptions;
  if (fromSession !== undefined && options.executionProviders !== undefined) {
    throw new M3Error(
      ErrorCodes.INVALID_ARGUMENT,
      "executionProviders is given twice (as an option and inside sessionOptions); keep only the executionProviders option.",
    );
  }
  const executionProviders =
    fromSession !== undefined ? resolveProviders(fromSession, "sessionOptions.executionProviders") : resolveProviders(options.executionProviders);
  const maxLength = checkInt("maxLength", options.maxLength ?? MAX_TOKENS, 2, MAX_TOKENS);
  const mcls = options.mcls ?? false;
  if (typeof mcls !== "boolean") throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `mcls must be true or false; got ${describe(mcls)}.`);
  const mclsStep = checkInt("mclsStep", options.mclsStep ?? MCLS_STEP, 1, MAX_TOKENS);
  if (mcls) checkMclsRoom(maxLength, mclsStep, "the maxLength option");
  const fusedAttention = options.fusedAttention ?? true;
  if (typeof fusedAttention !== "boolean") throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `fusedAttention must be true or false; got ${describe(fusedAttention)}.`);
  const attentionBudget = checkInt("attentionBudget", options.attentionBudget ?? DEFAULT_ATTENTION_BUDGET, 4, 2 ** 52);
  checkAttentionRoom(maxLength, attentionBudget, "the maxLength option");
  return {
    modelPath,
    variant,
    maxLength,
    mcls,
    mclsStep,
    batchTokens: checkInt("batchTokens", options.batchTokens ?? 16384, 2, 1 << 30),
    attentionBudget,
    fusedAttention,
    maxBatchSize: checkInt("maxBatchSize", options.maxBatchSize ?? 64, 1, 1 << 20),
    intraOpNumThreads: checkInt("intraOpNumThreads", options.intraOpNumThreads ?? availableParallelism(), 1, 1024),
    graphOptimizationLevel: level,
    executionProviders,
    sessionOptions: restSession,
    logger: options.logger ?? {},
  };
}

/** INVALID_ARGUMENT when one text of `maxLength` tokens would not fit the attention budget. */
export function checkAttentionRoom(maxLength: number, attentionBudget: number, what: string): void {
  if (maxLength * maxLength <= attentionBudget) return;
  const longest = Math.floor(Math.sqrt(attentionBudget));
  throw new M3Error(
    ErrorCodes.INVALID_ARGUMENT,
    `attentionBudget ${attentionBudget} (texts × tokens² per pass) is too small for one text of ${maxLength} tokens (${what}), ` +
      `which needs ${maxLength * maxLength}. Set attentionBudget to at least ${maxLength * maxLength}, or maxLength to at most ${longest}.`,
    { details: { maxLength, attentionBudget, needed: maxLength * maxLength } },
  );
}
