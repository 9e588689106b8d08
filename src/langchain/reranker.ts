/**
 * `M3Reranker`: a LangChain `BaseDocumentCompressor` (what `ContextualCompressionRetriever` takes)
 * that reorders any retriever's documents by BGE-M3's fused score — dense + lexical + ColBERT,
 * weighted as `computeScore` — in process (an `M3Embeddings` / `M3Encoder`) or on an `m3 serve`
 * server (an `M3RemoteEmbeddings`, through `/v1/rerank`). Both give the same order and scores.
 */
import type { Callbacks } from "@langchain/core/callbacks/manager";
import { Document, type DocumentInterface } from "@langchain/core/documents";
import { BaseDocumentCompressor } from "@langchain/core/retrievers/document_compressors";
import { ErrorCodes, M3Error } from "../errors.js";
import { checkRerankWeights, rerankEncodings, rerankOutputs, type RerankResult } from "../math/rerank.js";
import { DEFAULT_WEIGHTS, type M3EncoderLike, type ModeWeights } from "../types.js";
import { checkInt, describe } from "../util/validate.js";
import { M3RemoteEmbeddings } from "./remote.js";

/** The metadata key under which `M3Reranker` puts each kept document's fused score. */
export const RELEVANCE_SCORE_KEY = "relevanceScore";

export interface M3RerankerOptions {
  /** The encoder: `M3Embeddings` / `M3Encoder` (in process) or `M3RemoteEmbeddings` (scored by the server). */
  encoder: M3EncoderLike;
  /** Documents kept, best first. @default 3 (as LangChain's CohereRerank) */
  topN?: number;
  /** Weights of the fused score; a mode of weight 0 is not computed. @default DEFAULT_WEIGHTS {dense 0.4, sparse 0.2, colbert 0.4} */
  weights?: Partial<ModeWeights>;
  /** Tokens per text including `<s>` and `</s>`. @default the encoder's */
  maxLength?: number;
}

export class M3Reranker extends BaseDocumentCompressor {
  readonly encoder: M3EncoderLike;
  readonly topN: number;
  readonly weights: ModeWeights;
  readonly maxLength: number | undefined;

  constructor(options: M3RerankerOptions) {
    super();
    const e = options?.encoder as Partial<M3EncoderLike> | undefined;
    if (e === undefined || e === null || typeof e.encode !== "function") {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `M3Reranker needs { encoder: M3Embeddings | M3Encoder | M3RemoteEmbeddings }; got ${describe(e)}.`);
    }
    this.encoder = e as M3EncoderLike;
    this.topN = checkInt("topN", options.topN ?? 3, 1, 1_000_000);
    this.weights = checkRerankWeights(options.weights, DEFAULT_WEIGHTS);
    this.maxLength = options.maxLength === undefined ? undefined : checkInt("maxLength", options.maxLength, 2, 8192);
  }

  /** Scores every document against `query`; best first, all of them (ignores topN). */
  async rank(query: string, texts: string[], signal?: AbortSignal): Promise<RerankResult[]> {
    if (typeof query !== "string") throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `The query must be a string; got ${describe(query)}.`);
    if (texts.length === 0) return [];
    if (this.encoder instanceof M3RemoteEmbeddings) {
      return this.encoder.rerank(query, texts, { weights: this.weights, maxLength: this.maxLength, signal });
    }
    const enc = await this.encoder.encode([query, ...texts], { ...rerankOutputs(this.weights), maxLength: this.maxLength });
    return rerankEncodings(enc[0]!, enc.slice(1), this.weights);
  }

  /** The `topN` documents most relevant to `query`, best first, each with `metadata.relevanceScore`. */
  async compressDocuments(documents: DocumentInterface[], query: string, _callbacks?: Callbacks): Promise<DocumentInterface[]> {
    if (!Array.isArray(documents)) throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `compressDocuments expects an array of Documents; got ${describe(documents)}.`);
    const texts = documents.map((d, i) => {
      if (d === null || typeof d !== "object" || typeof d.pageContent !== "string") {
        throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `documents[${i}].pageContent must be a string; got ${describe(d?.pageContent)}.`);
      }
      return d.pageContent;
    });
    const ranked = await this.rank(query, texts);
    return ranked.slice(0, this.topN).map((r) => {
      const d = documents[r.index]!;
      return new Document({ id: d.id, pageContent: d.pageContent, metadata: { ...d.metadata, [RELEVANCE_SCORE_KEY]: r.score } });
    });
  }
}
