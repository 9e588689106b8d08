/** The options and argument checks of `M3VectorStore` (types, embeddings check, delete forms). */
import type { EmbeddingsInterface } from "@langchain/core/embeddings";
import type { MaxMarginalRelevanceSearchOptions } from "@langchain/core/vectorstores";
import type { RetrievalBackend } from "../backend/types.js";
import { ErrorCodes, M3Error } from "../errors.js";
import type { M3HybridStore, M3HybridStoreOptions, M3PostgresOptions } from "../open.js";
import type { ProgressEvent } from "../retrieve/hybrid-store.js";
import type { MetadataFilter } from "../retrieve/options.js";
import type { M3EncoderLike } from "../types.js";
import { describe } from "../util/validate.js";
import type { MmrSimilarity } from "./mmr.js";
import { checkSignalOption } from "./signal.js";

/** An encoder usable by LangChain: `M3Embeddings` is one. */
export type M3EncoderEmbeddings = M3EncoderLike & EmbeddingsInterface;

/** MMR defaults of a vector store (a call's options win). */
export interface M3MmrDefaults {
  /** Candidates taken from the hybrid search (at least k). @default 20 */
  fetchK?: number;
  /** 1 = relevance only, 0 = diversity only. @default 0.5 */
  lambda?: number;
  /** "dense" (LangChain's MMR) or "colbert" (MaxSim; see mmr.ts). @default "dense" */
  mmrSimilarity?: MmrSimilarity;
}

/**
 * What `new M3VectorStore(embeddings, fields)` takes. With neither `store` nor `backend`, an
 * empty embedded index is created on first use with the index options given here.
 */
export interface M3VectorStoreArgs extends M3HybridStoreOptions, M3MmrDefaults {
  /** An open store to use (its encoder must be `embeddings`' model). @default none */
  store?: M3HybridStore;
  /** Any retrieval backend (embedded `HybridIndex`, Postgres, ...), opened on first use. @default none */
  backend?: RetrievalBackend;
  /**
   * A Postgres + pgvector collection: `{ connectionString | pool, table, ... }` (M3PostgresOptions without the
   * fingerprint, which comes from `embeddings`). Connected on first use; `close()` ends the pool it made. @default none
   */
  postgres?: Omit<M3PostgresOptions, "fingerprint">;
}

/** Options of `addDocuments` / `addVectors`. */
export interface M3AddOptions {
  /** One id per document; else `doc.id`; else a random UUID. @default undefined */
  ids?: string[];
  /** Rejects with ABORTED before the write; an aborted call stores nothing. @default none */
  signal?: AbortSignal;
  /** Called after each encoded batch ("encode") and once written ("write"). @default none */
  onProgress?: (event: ProgressEvent) => void;
}

/**
 * What `delete` takes — exactly one of:
 * - `{ ids }`: those documents (unknown ids are ignored);
 * - `{ filter }`: every document matching the metadata filter (`{}` is refused, not "all");
 * - `{ deleteAll: true }`: every document.
 * `signal` may accompany any of them.
 */
export type M3DeleteParams = ({ ids: string[] } | { filter: MetadataFilter } | { deleteAll: true }) & { signal?: AbortSignal };

/** `maxMarginalRelevanceSearch` options: LangChain's plus the M3 similarity and a signal. */
export type M3MmrSearchOptions = MaxMarginalRelevanceSearchOptions<MetadataFilter> & {
  mmrSimilarity?: MmrSimilarity;
  signal?: AbortSignal;
};

/** A parsed `delete` argument. */
export type DeleteRequest = ({ kind: "ids"; ids: string[] } | { kind: "filter"; filter: MetadataFilter } | { kind: "all" }) & { signal: AbortSignal | undefined };

/** Checks `delete`'s argument: exactly one of `{ ids }`, `{ filter }`, `{ deleteAll: true }` (plus `signal`). */
export function parseDeleteParams(params: unknown): DeleteRequest {
  const forms = "{ ids: string[] }, { filter: {...} } or { deleteAll: true }";
  if (params === null || typeof params !== "object" || Array.isArray(params)) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `delete expects ${forms}; got ${describe(params)}.`);
  }
  const p = params as Record<string, unknown>;
  const keys = Object.keys(p).filter((k) => k !== "signal" && p[k] !== undefined);
  if (keys.length !== 1 || !["ids", "filter", "deleteAll"].includes(keys[0]!)) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `delete expects exactly one of ${forms}; got keys ${JSON.stringify(keys)}.`);
  }
  const signal = checkSignalOption(p["signal"], "delete");
  if (keys[0] === "ids") {
    if (!Array.isArray(p["ids"])) throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `delete({ ids }) needs an array of ids; got ${describe(p["ids"])}.`);
    return { kind: "ids", ids: p["ids"] as string[], signal };
  }
  if (keys[0] === "filter") return { kind: "filter", filter: p["filter"] as MetadataFilter, signal };
  if (p["deleteAll"] !== true) throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `delete({ deleteAll }) needs deleteAll: true; got ${describe(p["deleteAll"])}.`);
  return { kind: "all", signal };
}

/** A dense vector of `dim` finite numbers as a Float32Array; INVALID_ARGUMENT otherwise. */
export function denseVector(v: unknown, dim: number, what: string): Float32Array {
  if (!Array.isArray(v) || v.length !== dim || v.some((x) => typeof x !== "number" || !Number.isFinite(x))) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `${what} must be ${dim} finite numbers (the index's dense dimension); got ${describe(v)}. Embed with the index's model.`);
  }
  return Float32Array.from(v as number[]);
}

export function checkEmbeddings(embeddings: unknown): void {
  const e = embeddings as Partial<M3EncoderLike> | null;
  if (e === null || typeof e !== "object" || typeof e.encode !== "function" || typeof e.fingerprint !== "function") {
    const name = e !== null && typeof e === "object" ? e.constructor?.name : undefined;
    throw new M3Error(
      ErrorCodes.INVALID_ARGUMENT,
      `M3VectorStore needs BGE-M3 embeddings (M3Embeddings, or an M3Encoder-like object with encode() and fingerprint()); got ${name ? `a ${name}` : describe(embeddings)}. ` +
        "Other embeddings give only dense vectors, while this store also indexes BGE-M3's sparse and ColBERT outputs: use them with another store (e.g. MemoryVectorStore), or embed with M3Embeddings.",
    );
  }
}

export function checkAddOptions(options: unknown): M3AddOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== "object") {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `addDocuments options must be an object such as { ids, signal, onProgress }; got ${describe(options)}.`);
  }
  const o = options as M3AddOptions;
  checkSignalOption(o.signal, "addDocuments");
  if (o.onProgress !== undefined && typeof o.onProgress !== "function") {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `onProgress must be a function; got ${describe(o.onProgress)}.`);
  }
  return o;
}
