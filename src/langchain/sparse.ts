/**
 * BGE-M3's learned sparse and ColBERT outputs for other vector stores (Qdrant, Milvus,
 * Pinecone, Elasticsearch, ...). `@langchain/core` has no interface for either; these follow
 * the Python integrations' `SparseEmbeddings` (`embed_documents` / `embed_query` returning
 * `{ indices, values }`), in LangChain.js naming. Both wrap an existing `M3Embeddings` or
 * `M3Encoder`, so one model instance serves the dense, sparse and ColBERT embeddings.
 */
import { ErrorCodes, M3Error } from "../errors.js";
import type { EncodeOptions, M3EncoderLike, M3Encoding } from "../types.js";
import { describe } from "../util/validate.js";
import { encodeWithOptions, type EncodeCallOptions } from "./encode-calls.js";

/** A sparse vector as other stores take it: token ids (ascending) and their weights (> 0). */
export interface SparseValues {
  indices: number[];
  values: number[];
}

/** Sparse embeddings, shaped like the Python integrations' `SparseEmbeddings`. */
export interface SparseEmbeddingsInterface {
  embedDocuments(texts: string[], options?: EncodeCallOptions): Promise<SparseValues[]>;
  embedQuery(text: string, options?: Pick<EncodeCallOptions, "signal">): Promise<SparseValues>;
}

/** Multi-vector (late-interaction) embeddings: one row per token, `number[][]` per text. */
export interface MultiVectorEmbeddingsInterface {
  embedDocuments(texts: string[], options?: EncodeCallOptions): Promise<number[][][]>;
  embedQuery(text: string, options?: Pick<EncodeCallOptions, "signal">): Promise<number[][]>;
}

/** Options of `M3SparseEmbeddings` and `M3MultiVectorEmbeddings`. */
export interface M3OutputEmbeddingsOptions {
  /** Tokens per text including `<s>` and `</s>`. @default the encoder's `maxLength` */
  maxLength?: number;
}

abstract class OneOutputEmbeddings<T> {
  protected readonly maxLength: number | undefined;

  constructor(
    /** The shared encoder: an `M3Embeddings` or `M3Encoder` (anything with `encode`). */
    readonly encoder: M3EncoderLike,
    options: M3OutputEmbeddingsOptions = {},
  ) {
    if (encoder === null || typeof encoder !== "object" || typeof (encoder as Partial<M3EncoderLike>).encode !== "function") {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `${new.target.name} needs an M3Embeddings or M3Encoder (something with encode()); got ${describe(encoder)}.`);
    }
    if (options === null || typeof options !== "object") {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `${new.target.name} options must be an object such as { maxLength: 512 }; got ${describe(options)}.`);
    }
    this.maxLength = options.maxLength;
  }

  protected abstract readonly output: "sparse" | "colbert";
  protected abstract convert(e: M3Encoding): T;

  /** One embedding per text, in input order; `signal` → ABORTED, `onProgress` per chunk. */
  async embedDocuments(texts: string[], options?: EncodeCallOptions): Promise<T[]> {
    const enc = await encodeWithOptions(this.encoder, texts, this.want(), options, "embedDocuments");
    return enc.map((e) => this.convert(e));
  }

  /** The embedding of one query (BGE-M3 needs no query instruction). */
  async embedQuery(text: string, options?: Pick<EncodeCallOptions, "signal">): Promise<T> {
    if (typeof text !== "string") throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `embedQuery expects a string; got ${describe(text)}.`);
    const [e] = await encodeWithOptions(this.encoder, [text], this.want(), { signal: options?.signal }, "embedQuery");
    return this.convert(e!);
  }

  private want(): EncodeOptions {
    return { dense: false, sparse: this.output === "sparse", colbert: this.output === "colbert", maxLength: this.maxLength };
  }
}

/**
 * BGE-M3's learned sparse (lexical) weights as `{ indices, values }` per text: vocabulary token
 * ids (ascending, special tokens dropped) and their weights. The score of a query against a
 * document is the dot product over shared indices — what a store's sparse-vector index computes.
 */
export class M3SparseEmbeddings extends OneOutputEmbeddings<SparseValues> implements SparseEmbeddingsInterface {
  protected readonly output = "sparse" as const;

  protected convert(e: M3Encoding): SparseValues {
    return { indices: Array.from(e.sparse!.indices), values: Array.from(e.sparse!.values) };
  }
}

/**
 * BGE-M3's ColBERT vectors as `number[][]` per text: one L2-normalised row per token after
 * `<s>` (`</s>` included). The score is MaxSim averaged over the query rows — what a store's
 * multi-vector field with a max-sim comparator computes (up to the averaging).
 */
export class M3MultiVectorEmbeddings extends OneOutputEmbeddings<number[][]> implements MultiVectorEmbeddingsInterface {
  protected readonly output = "colbert" as const;

  protected convert(e: M3Encoding): number[][] {
    const { data, tokens, dim } = e.colbert!;
    return Array.from({ length: tokens }, (_, t) => Array.from(data.subarray(t * dim, (t + 1) * dim)));
  }
}
