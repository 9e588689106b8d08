/**
 * The representation types shared by every stage. Typed arrays inside; `number[]`
 * only at the LangChain and hnswlib boundaries.
 */

/** A learned sparse (lexical) vector: token ids sorted ascending, with their weights (> 0). */
export interface SparseVector {
  indices: Uint32Array;
  values: Float32Array;
}

/** A ColBERT multi-vector: `tokens` rows of `dim` floats, row-major in one flat array. */
export interface MultiVector {
  data: Float32Array;
  tokens: number;
  dim: number;
}

/** What BGE-M3 gives for one text. A field is present exactly when it was requested. */
export interface M3Encoding {
  /** L2-normalised `<s>` hidden state projected as in the reference (length = hidden size). */
  dense?: Float32Array;
  /** relu(sparse_linear(H)) per token, special tokens dropped, max over repeats. */
  sparse?: SparseVector;
  /** normalize(colbert_linear(H_i)) for positions 1..n-1 (n = real tokens). */
  colbert?: MultiVector;
  /** Number of tokens the model saw for this text, including `<s>` and `</s>`. */
  tokenCount: number;
}

/** Which outputs to compute. */
export interface M3OutputSelection {
  /** @default true */
  dense?: boolean;
  /** @default true */
  sparse?: boolean;
  /** @default true */
  colbert?: boolean;
}

/** Weights of the three scores in the combined score `(w1·dense + w2·lexical + w3·colbert) / (w1+w2+w3)`. */
export interface ModeWeights {
  dense: number;
  sparse: number;
  colbert: number;
}

/** The reference README's weights [0.4, 0.2, 0.4]. */
export const DEFAULT_WEIGHTS: Readonly<ModeWeights> = Object.freeze({ dense: 0.4, sparse: 0.2, colbert: 0.4 });

/** A logger the library reports through instead of `console`. Every method is optional. */
export interface Logger {
  debug?(message: string, data?: Record<string, unknown>): void;
  info?(message: string, data?: Record<string, unknown>): void;
  warn?(message: string, data?: Record<string, unknown>): void;
}

/** Identifies the model an index was built with; an index refuses a query encoder whose fingerprint differs. */
export interface ModelFingerprint {
  /** Detected layout, e.g. "three-heads-aapot", "three-heads-yuniko", "encoder-only". */
  layout: string;
  /** Dense / ColBERT dimension (hidden size), 1024 for BGE-M3. */
  hiddenSize: number;
  /** Vocabulary size of the tokenizer (250002 for BGE-M3). */
  vocabSize: number;
  /** sha256 (hex) of the tokenizer.json bytes. */
  tokenizerSha256: string;
  /**
   * Encoder-only layouts: sha256 (hex) of sparse_linear.pt then colbert_linear.pt, so heads
   * retrained by `finetuneHeads` make another fingerprint. Compared only when both sides have it
   * (indexes written before it existed still load).
   */
  headsSha256?: string;
}

/** Options of one `encode` call. */
export interface EncodeOptions extends M3OutputSelection {
  /**
   * Maximum tokens per text including `<s>` and `</s>` (2..8192, and at most what the model's
   * position table allows). Longer texts keep their first maxLength-2 tokens.
   * @default the encoder's `maxLength` option
   */
  maxLength?: number;
}

/** Anything that encodes texts like BGE-M3: the real encoder, or a fake one in tests. */
export interface M3EncoderLike {
  encode(texts: string[], options?: EncodeOptions): Promise<M3Encoding[]>;
  /** Resolves once the model is loaded. */
  fingerprint(): Promise<ModelFingerprint>;
}

/**
 * A block of ColBERT token rows as stored: float32, float16 bits, or int8 codes with one scale
 * per row (row value = code · scale). Row-major, `rows × dim`.
 */
export type TokenRows =
  | { type: "float32"; data: Float32Array; rows: number; dim: number }
  | { type: "float16"; data: Uint16Array; rows: number; dim: number }
  | { type: "int8"; data: Int8Array; scales: Float32Array; rows: number; dim: number };

/**
 * Computes `D · Qᵀ` for a block of document rows D and a query matrix Q (`qRows × dim`): the
 * score matrix, `D.rows × qRows` row-major (entry [t, r] = <D_t, Q_r>). The ColBERT store uses
 * it for MaxSim (per-document column maxima over this matrix); the package's implementation
 * runs in onnxruntime.
 */
export interface RowScorer {
  score(q: Float32Array, qRows: number, d: TokenRows): Promise<Float32Array>;
  /** Releases native resources; the scorer cannot be used afterwards. */
  release(): Promise<void>;
}
