/** Conversions between the index's hits and LangChain Documents. */
import { Document } from "@langchain/core/documents";
import type { SearchHit } from "../retrieve/search.js";

/**
 * The metadata key under which `M3HybridRetriever({ includeScores: true })` reports the scores
 * of each result: `{ fused, dense?, sparse?, colbert? }` (a mode not searched is absent; higher
 * is better). Nothing else adds it: the vector store returns exactly the stored metadata.
 */
export const M3_SCORES_KEY = "m3Scores";

export interface M3Scores {
  fused: number;
  dense?: number;
  sparse?: number;
  colbert?: number;
}

/**
 * A Document with `id`, `pageContent` and a copy of exactly the stored metadata; with
 * `includeScores`, the scores are added under `metadata.m3Scores`.
 */
export function hitToDocument(hit: SearchHit, includeScores = false): Document {
  const metadata = copyMetadata(hit.document.metadata);
  if (includeScores) metadata[M3_SCORES_KEY] = { fused: hit.score, ...hit.scores } satisfies M3Scores;
  return new Document({ id: hit.id, pageContent: hit.document.pageContent, metadata });
}

/** A deep copy of plain-JSON metadata (so changing a result or an input never reaches the store); a shallow copy otherwise. */
export function copyMetadata(metadata: Record<string, unknown> | undefined): Record<string, unknown> {
  if (metadata === undefined || metadata === null) return {};
  try {
    return structuredClone(metadata);
  } catch {
    return { ...metadata };
  }
}
