/** Conversions between the index's hits and LangChain Documents. */
import { Document } from "@langchain/core/documents";
import type { SearchHit } from "../retrieve/search.js";

/**
 * The metadata key under which retrieved Documents carry their scores:
 * `{ fused, dense?, sparse?, colbert? }` (a mode not searched is absent; higher is better).
 */
export const M3_SCORES_KEY = "m3Scores";

export interface M3Scores {
  fused: number;
  dense?: number;
  sparse?: number;
  colbert?: number;
}

/** A Document with `id`, the stored metadata and the scores under `metadata.m3Scores`. */
export function hitToDocument(hit: SearchHit): Document {
  const scores: M3Scores = { fused: hit.score, ...hit.scores };
  return new Document({
    id: hit.id,
    pageContent: hit.document.pageContent,
    metadata: { ...hit.document.metadata, [M3_SCORES_KEY]: scores },
  });
}
