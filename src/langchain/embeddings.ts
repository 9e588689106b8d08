/**
 * `M3Embeddings`: BGE-M3 as a LangChain `Embeddings` (dense vectors as `number[]`), plus the
 * full three-output `encode` and the reference's `compute_score`.
 */
import { Embeddings, type EmbeddingsParams } from "@langchain/core/embeddings";
import { M3Encoder } from "../encode/encoder.js";
import type { EncoderInfo } from "../encode/load.js";
import type { M3EncoderOptions } from "../encode/options.js";
import { ErrorCodes, M3Error } from "../errors.js";
import { resolvePretrained, type PretrainedOptions } from "../hub/index.js";
import { colbertScore, combineScores, denseScore, lexicalScore } from "../math/scores.js";
import { DEFAULT_WEIGHTS, type EncodeOptions, type M3EncoderLike, type M3Encoding, type ModeWeights, type ModelFingerprint } from "../types.js";
import { checkNumber, describe } from "../util/validate.js";
import { encodeWithOptions, type EncodeCallOptions } from "./encode-calls.js";
import { checkSignalOption } from "./signal.js";

/** Options of `M3Embeddings`: the encoder's options plus LangChain's `EmbeddingsParams`. */
export type M3EmbeddingsParams = M3EncoderOptions & EmbeddingsParams;

/** The scores of one (query, passage) pair, like the reference's `compute_score`. */
export interface PairScores {
  dense: number;
  sparse: number;
  colbert: number;
  /** `(w1·dense + w2·sparse + w3·colbert) / (w1 + w2 + w3)`. */
  combined: number;
}

export class M3Embeddings extends Embeddings implements M3EncoderLike {
  /** The underlying encoder (loaded lazily). */
  readonly encoder: M3Encoder;

  constructor(params: M3EmbeddingsParams) {
    super(params ?? {});
    this.encoder = new M3Encoder(params);
  }

  /**
   * Downloads (or finds in the Hugging Face cache) a BGE-M3 model and creates embeddings for
   * it. `options` takes the download options and the encoder options (except `modelPath`).
   */
  static async fromPretrained(
    repo = "BAAI/bge-m3",
    options: PretrainedOptions & Omit<M3EmbeddingsParams, "modelPath" | "variant"> = {},
  ): Promise<M3Embeddings> {
    const resolved = await resolvePretrained(repo, options);
    const e = new M3Embeddings({ ...options, modelPath: resolved.dir, variant: resolved.variant ?? options.variant ?? "fp32" });
    await e.load();
    return e;
  }

  /** Loads the model now instead of on first use. */
  async load(): Promise<void> {
    await this.encoder.load();
  }

  /** What was loaded; undefined before loading. */
  get info(): EncoderInfo | undefined {
    return this.encoder.info;
  }

  /**
   * Dense vectors of the documents (L2-normalised, as `number[]`). `options.signal` rejects with
   * ABORTED (checked between chunks of `chunkSize` texts); `options.onProgress` reports each chunk.
   */
  async embedDocuments(documents: string[], options?: EncodeCallOptions): Promise<number[][]> {
    const enc = await encodeWithOptions(this.encoder, documents, { dense: true, sparse: false, colbert: false }, options, "embedDocuments");
    return enc.map((e) => Array.from(e.dense!));
  }

  /** Dense vector of one query. BGE-M3 needs no query instruction. */
  async embedQuery(document: string, options?: Pick<EncodeCallOptions, "signal">): Promise<number[]> {
    if (typeof document !== "string") {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `embedQuery expects a string; got ${describe(document)}.`);
    }
    const [e] = await encodeWithOptions(this.encoder, [document], { dense: true, sparse: false, colbert: false }, { signal: checkSignalOption(options?.signal, "embedQuery") }, "embedQuery");
    return Array.from(e!.dense!);
  }

  /**
   * All three representations as typed arrays (see `M3Encoder.encode`). With `signal` or
   * `onProgress` the texts are encoded in chunks of `chunkSize` and the signal is checked
   * before each (ABORTED).
   */
  encode(texts: string[], options?: EncodeOptions & EncodeCallOptions): Promise<M3Encoding[]> {
    if (options !== undefined && (options === null || typeof options !== "object")) return this.encoder.encode(texts, options); // the encoder's typed error
    const { signal, onProgress, chunkSize, ...encode } = options ?? {};
    return encodeWithOptions(this.encoder, texts, encode, { signal, onProgress, chunkSize }, "encode");
  }

  /**
   * Scores (query, passage) pairs with every mode and the weighted combination, like the
   * reference's `compute_score`. Each distinct text is encoded once.
   * @param weights defaults to the reference README's { dense: 0.4, sparse: 0.2, colbert: 0.4 }
   */
  async computeScore(
    pairs: Array<[string, string]>,
    weights: ModeWeights = DEFAULT_WEIGHTS,
    options: Pick<EncodeOptions, "maxLength"> = {},
  ): Promise<PairScores[]> {
    if (!Array.isArray(pairs)) throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `pairs must be an array of [query, passage]; got ${describe(pairs)}.`);
    // A plain loop: forEach would skip the holes of a sparse array.
    for (let i = 0; i < pairs.length; i++) {
      const p: unknown = pairs[i];
      if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== "string" || typeof p[1] !== "string") {
        throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `pairs[${i}] must be a [query, passage] pair of strings; got ${i in pairs ? describe(p) : "a hole"}.`, {
          details: { index: i },
        });
      }
    }
    for (const k of ["dense", "sparse", "colbert"] as const) checkNumber(`weights.${k}`, weights?.[k], 0, Number.MAX_VALUE);
    const texts = [...new Set(pairs.flat())];
    const enc = await this.encoder.encode(texts, { maxLength: options.maxLength });
    const byText = new Map(texts.map((t, i) => [t, enc[i]!]));
    return pairs.map(([q, p]) => {
      const a = byText.get(q)!;
      const b = byText.get(p)!;
      const s = { dense: denseScore(a.dense!, b.dense!), sparse: lexicalScore(a.sparse!, b.sparse!), colbert: colbertScore(a.colbert!, b.colbert!) };
      return { ...s, combined: combineScores(s, weights) };
    });
  }

  /** Identifies the model (loads it when needed). */
  fingerprint(): Promise<ModelFingerprint> {
    return this.encoder.fingerprint();
  }

  /** Releases the model; the instance cannot be used afterwards. */
  dispose(): Promise<void> {
    return this.encoder.dispose();
  }
}
