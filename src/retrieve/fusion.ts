/** Fusion of per-mode scores into one ranking score. Pure functions. */
import { combineScores, type ModeScores } from "../math/scores.js";
import type { ModeWeights } from "../types.js";
import type { SearchMode } from "./options.js";

/** The spec's weighted combination over the searched modes. */
export function weightedFusion(scores: ModeScores[], weights: ModeWeights): Float64Array {
  return Float64Array.from(scores, (s) => combineScores(s, weights));
}

/**
 * Weighted reciprocal-rank fusion: sum over modes of weight / (rrfK + rank), rank 1 = best in
 * the pool by that mode; ties in a mode's score share the better rank.
 */
export function rrfFusion(scores: ModeScores[], modes: Iterable<SearchMode>, weights: ModeWeights, rrfK: number): Float64Array {
  const fused = new Float64Array(scores.length);
  for (const mode of modes) {
    const order = scores.map((_, i) => i).sort((a, b) => (scores[b]![mode] ?? -Infinity) - (scores[a]![mode] ?? -Infinity));
    let rank = 0;
    let prev = NaN;
    order.forEach((i, pos) => {
      const s = scores[i]![mode] ?? -Infinity;
      if (s !== prev) rank = pos + 1;
      prev = s;
      fused[i]! += weights[mode] / (rrfK + rank);
    });
  }
  return fused;
}
