/**
 * What `M3VectorStore` does on its store that is more than one call: opening the store its
 * arguments describe, and the two ways of adding LangChain documents (texts encoded in all three
 * outputs; or precomputed dense vectors, with sparse and ColBERT computed from the texts).
 */
import type { DocumentInterface } from "@langchain/core/documents";
import { checkSignal } from "../backend/validate.js";
import { ErrorCodes, M3Error } from "../errors.js";
import { openStore as openFromOptions, type M3HybridStore } from "../open.js";
import { describe } from "../util/validate.js";
import { copyMetadata } from "./documents.js";
import { encodeWithOptions } from "./encode-calls.js";
import { denseVector, type M3AddOptions, type M3EncoderEmbeddings, type M3VectorStoreArgs } from "./vectorstore-options.js";

/** Encodes (all three outputs) and upserts; ids from `o.ids`, else `doc.id`, else generated (the store checks each document). */
export function addDocumentsTo(store: M3HybridStore, documents: DocumentInterface[], o: M3AddOptions): Promise<string[]> {
  return store.addDocuments(
    documents.map((d) => ({ pageContent: d?.pageContent, metadata: d?.metadata === undefined || d?.metadata === null || typeof d.metadata !== "object" ? d?.metadata : copyMetadata(d.metadata), id: d?.id })),
    { ids: o.ids, signal: o.signal, onProgress: o.onProgress },
  );
}

/** Adds documents with precomputed dense vectors (checked against the index's dimension); sparse and ColBERT come from `pageContent`. */
export async function addVectorsTo(store: M3HybridStore, vectors: number[][], documents: DocumentInterface[], o: M3AddOptions): Promise<string[]> {
  const dim = store.backend.denseDim;
  if (!Array.isArray(vectors) || !Array.isArray(documents) || vectors.length !== documents.length) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `addVectors needs one vector per document; got ${describe(vectors)} for ${describe(documents)}.`);
  }
  const dense = vectors.map((v, i) => denseVector(v, dim, `vectors[${i}]`));
  if (o.ids !== undefined && (!Array.isArray(o.ids) || o.ids.length !== documents.length)) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `options.ids must have one id per document (${documents.length}); got ${describe(o.ids)}.`);
  }
  const texts = documents.map((d, i) => {
    if (d === null || typeof d !== "object" || typeof d.pageContent !== "string") {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `documents[${i}].pageContent must be a string; got ${describe(d?.pageContent)}.`);
    }
    return d.pageContent;
  });
  const ids = documents.map((d, i) => o.ids?.[i] ?? (typeof d.id === "string" && d.id.length > 0 ? d.id : crypto.randomUUID()));
  const enc = await encodeWithOptions(store.encoder, texts, { dense: false, sparse: true, colbert: true }, { signal: o.signal, onProgress: o.onProgress }, "addVectors");
  checkSignal(o.signal, "addVectors");
  await store.addEncoded(
    documents.map((d, i) => ({ id: ids[i]!, pageContent: d.pageContent, metadata: copyMetadata(d.metadata), encoding: { ...enc[i]!, dense: dense[i]! } })),
    { signal: o.signal },
  );
  o.onProgress?.({ phase: "write", done: documents.length, total: documents.length });
  return ids;
}

/**
 * Opens the store described by `args`: the given store, or what the composition module opens
 * (the given backend, a Postgres collection, or an empty embedded index).
 */
export async function openStore(embeddings: M3EncoderEmbeddings, args: M3VectorStoreArgs): Promise<M3HybridStore> {
  const { store, backend, postgres, fetchK: _f, lambda: _l, mmrSimilarity: _m, ...options } = args;
  if (store !== undefined) return store;
  if (backend !== undefined) return openFromOptions(embeddings, { ...options, backend });
  if (postgres !== undefined) return openFromOptions(embeddings, { ...options, postgres });
  return openFromOptions(embeddings, options);
}
