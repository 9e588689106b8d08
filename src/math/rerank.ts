/**
 * Reranking: a query's encoding against each document's, scored in every mode present and fused
 * with `combineScores` (the reference's `compute_score`), sorted best first. Shared by the
 * server's `/v1/rerank` and the in-process `M3Reranker`, so both give the same order and scores.
 */
import { ErrorCodes, M3Error } from "../errors.js";
import type { M3Encoding, ModeWeights } from "../types.js";
import { checkNumber, describe } from "../util/validate.js";
import { colbertScore, combineScores, denseScore, lexicalScore, type ModeScores } from "./scores.js";

/** One reranked document: its input index, fused score and per-mode scores. */
export interface RerankResult {
  index: number;
  score: number;
  scores: ModeScores;
}

/** Checks rerank weights (each ≥ 0, a positive sum); missing ones take `defaults`. */
export function checkRerankWeights(w: unknown, defaults: ModeWeights): ModeWeights {
  if (w === undefined || w === null) return { ...defaults };
  if (typeof w !== "object" || Array.isArray(w)) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `weights must be an object such as { dense: 0.4, sparse: 0.2, colbert: 0.4 }; got ${describe(w)}.`);
  }
  const o = w as Record<string, unknown>;
  const bad = Object.keys(o).filter((k) => k !== "dense" && k !== "sparse" && k !== "colbert");
  if (bad.length > 0) throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `weights has unknown key(s) ${bad.map((k) => JSON.stringify(k)).join(", ")}; use dense, sparse and colbert.`);
  const r: ModeWeights = {
    dense: checkNumber("weights.dense", o["dense"] ?? defaults.dense, 0, 1e9),
    sparse: checkNumber("weights.sparse", o["sparse"] ?? defaults.sparse, 0, 1e9),
    colbert: checkNumber("weights.colbert", o["colbert"] ?? defaults.colbert, 0, 1e9),
  };
  if (r.dense + r.sparse + r.colbert <= 0) throw new M3Error(ErrorCodes.OUT_OF_RANGE, "The rerank weights sum to 0; give at least one mode a positive weight.");
  return r;
}

/** The outputs a rerank needs: those with a positive weight. */
export function rerankOutputs(weights: ModeWeights): { dense: boolean; sparse: boolean; colbert: boolean } {
  return { dense: weights.dense > 0, sparse: weights.sparse > 0, colbert: weights.colbert > 0 };
}

/** Scores every document against the query and sorts best first (ties keep input order); `topN` keeps the first ones. */
export function rerankEncodings(query: M3Encoding, docs: readonly M3Encoding[], weights: ModeWeights, topN = docs.length): RerankResult[] {
  const results = docs.map((d, index): RerankResult => {
    const scores: ModeScores = {};
    if (weights.dense > 0 && query.dense && d.dense) scores.dense = denseScore(query.dense, d.dense);
    if (weights.sparse > 0 && query.sparse && d.sparse) scores.sparse = lexicalScore(query.sparse, d.sparse);
    if (weights.colbert > 0 && query.colbert && d.colbert) scores.colbert = colbertScore(query.colbert, d.colbert);
    return { index, score: combineScores(scores, weights), scores };
  });
  results.sort((a, b) => b.score - a.score || a.index - b.index);
  return results.slice(0, topN);
}
