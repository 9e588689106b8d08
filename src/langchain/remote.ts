/**
 * `M3RemoteEmbeddings`: BGE-M3 from an `m3 serve` server, as a LangChain `Embeddings` and an
 * `M3EncoderLike` — so `M3VectorStore`, `M3HybridStore`, `M3SparseEmbeddings`,
 * `M3MultiVectorEmbeddings` and `M3Reranker` run on an app server with no model files:
 * `new M3VectorStore(new M3RemoteEmbeddings({ url }), { postgres })`. Float arrays travel as
 * base64 float32, so the encodings are bit-for-bit the server's.
 */
import { Embeddings, type EmbeddingsParams } from "@langchain/core/embeddings";
import { ErrorCodes, M3Error } from "../errors.js";
import type { RerankResult } from "../math/rerank.js";
import type { EncodeOptions, M3EncoderLike, M3Encoding, ModeWeights, ModelFingerprint } from "../types.js";
import { checkInt, checkTexts } from "../util/validate.js";
import { remoteCall, resolveRemote, type RemoteOptions, type ResolvedRemote } from "./remote-http.js";
import { checkSignalOption } from "./signal.js";

export interface M3RemoteEmbeddingsParams extends RemoteOptions, EmbeddingsParams {
  /** Texts per HTTP request (longer lists are sent in several, in order). @default 64 */
  batchSize?: number;
}

/** What the remote `encode` and `rerank` take besides their inputs. */
export interface RemoteCallOptions {
  /** Rejects with ABORTED once aborted (an HTTP request in flight is cancelled). @default none */
  signal?: AbortSignal;
}

interface WireEncoding {
  index: number;
  tokens: number;
  dense?: string;
  sparse?: { indices: number[]; values: string };
  colbert?: { tokens: number; dim: number; data: string };
}

export class M3RemoteEmbeddings extends Embeddings implements M3EncoderLike {
  readonly remote: ResolvedRemote;
  private readonly batchSize: number;
  private fp: Promise<ModelFingerprint> | undefined;

  constructor(params: M3RemoteEmbeddingsParams) {
    super({ ...params, maxRetries: 0 });
    this.remote = resolveRemote(params, "M3RemoteEmbeddings");
    this.batchSize = checkInt("batchSize", params.batchSize ?? 64, 1, 100_000);
  }

  /** The server's model fingerprint (asked once, from `GET /v1/info`). */
  fingerprint(): Promise<ModelFingerprint> {
    if (this.fp === undefined) {
      const p = remoteCall(this.remote, "GET", "/v1/info", undefined, undefined).then((r) => (r as { fingerprint: ModelFingerprint }).fingerprint);
      this.fp = p;
      p.catch(() => {
        if (this.fp === p) this.fp = undefined; // a failed call can be retried
      });
    }
    return this.fp;
  }

  /** All three outputs (or those asked for) as typed arrays, in input order, via `POST /v1/encode`. */
  async encode(texts: string[], options: EncodeOptions & RemoteCallOptions = {}): Promise<M3Encoding[]> {
    checkTexts("texts", texts);
    const signal = checkSignalOption(options?.signal, "encode");
    const out: M3Encoding[] = [];
    for (let i = 0; i < texts.length; i += this.batchSize) {
      const chunk = texts.slice(i, i + this.batchSize);
      const body = {
        input: chunk,
        dense: options.dense ?? true,
        sparse: options.sparse ?? true,
        colbert: options.colbert ?? true,
        max_length: options.maxLength,
        encoding_format: "base64",
      };
      const r = (await remoteCall(this.remote, "POST", "/v1/encode", body, signal)) as { data?: WireEncoding[] };
      if (!Array.isArray(r.data) || r.data.length !== chunk.length) {
        throw new M3Error(ErrorCodes.BACKEND_ERROR, `/v1/encode answered ${r.data?.length ?? "no"} encodings for ${chunk.length} texts.`);
      }
      for (const w of r.data) out.push(fromWire(w));
    }
    return out;
  }

  /** Dense vectors of the documents (`number[]`), for LangChain. */
  async embedDocuments(documents: string[], options?: RemoteCallOptions): Promise<number[][]> {
    const enc = await this.encode(documents, { dense: true, sparse: false, colbert: false, signal: options?.signal });
    return enc.map((e) => Array.from(e.dense!));
  }

  /** Dense vector of one query. */
  async embedQuery(document: string, options?: RemoteCallOptions): Promise<number[]> {
    if (typeof document !== "string") throw new M3Error(ErrorCodes.INVALID_ARGUMENT, "embedQuery expects a string.");
    const [e] = await this.encode([document], { dense: true, sparse: false, colbert: false, signal: options?.signal });
    return Array.from(e!.dense!);
  }

  /** Scores `documents` against `query` on the server (`POST /v1/rerank`), best first. */
  async rerank(query: string, documents: string[], options: { weights?: Partial<ModeWeights>; topN?: number; maxLength?: number } & RemoteCallOptions = {}): Promise<RerankResult[]> {
    checkTexts("documents", documents);
    const body = { query, documents, weights: options.weights, top_n: options.topN, max_length: options.maxLength };
    const r = (await remoteCall(this.remote, "POST", "/v1/rerank", body, checkSignalOption(options.signal, "rerank"))) as {
      results: Array<{ index: number; relevance_score: number; scores: RerankResult["scores"] }>;
    };
    return r.results.map((x) => ({ index: x.index, score: x.relevance_score, scores: x.scores }));
  }
}

function f32(b64: string): Float32Array {
  const buf = Buffer.from(b64, "base64");
  const out = new Float32Array(buf.length / 4);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

function fromWire(w: WireEncoding): M3Encoding {
  const e: M3Encoding = { tokenCount: w.tokens };
  if (w.dense !== undefined) e.dense = f32(w.dense);
  if (w.sparse !== undefined) e.sparse = { indices: Uint32Array.from(w.sparse.indices), values: f32(w.sparse.values) };
  if (w.colbert !== undefined) e.colbert = { data: f32(w.colbert.data), tokens: w.colbert.tokens, dim: w.colbert.dim };
  return e;
}
