/** Exhaustive reference scoring for tests: every document, the spec's formulas, no index. */
import { colbertScore, combineScores, denseScore, lexicalScore, type ModeScores } from "../../src/math/scores.js";
import type { M3Encoding, ModeWeights } from "../../src/types.js";
import { DEFAULT_WEIGHTS } from "../../src/types.js";

export type Mode = "dense" | "sparse" | "colbert";

/** The index stores dense vectors normalised exactly like this. */
export function normalised(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  const n = Math.max(Math.sqrt(s), 1e-12);
  return Float32Array.from(v, (x) => x / n);
}

export interface BruteDoc {
  id: string;
  metadata?: Record<string, unknown>;
  encoding: M3Encoding;
}

export interface BruteHit {
  id: string;
  score: number;
  scores: ModeScores;
}

export function modeScores(q: M3Encoding, d: M3Encoding, modes: readonly Mode[]): ModeScores {
  const s: ModeScores = {};
  if (modes.includes("dense")) s.dense = denseScore(q.dense!, normalised(d.dense!));
  if (modes.includes("sparse")) s.sparse = lexicalScore(q.sparse!, d.sparse!);
  if (modes.includes("colbert")) s.colbert = Math.fround(colbertScore(q.colbert!, d.colbert!));
  return s;
}

/** Top-k of every document by the weighted fused score; ties by id. */
export function bruteSearch(docs: BruteDoc[], q: M3Encoding, k: number, opts: { modes?: readonly Mode[]; weights?: ModeWeights; accept?: (d: BruteDoc) => boolean } = {}): BruteHit[] {
  const modes = opts.modes ?? ["dense", "sparse", "colbert"];
  const w = opts.weights ?? DEFAULT_WEIGHTS;
  const all = docs.filter((d) => opts.accept?.(d) ?? true).map((d) => {
    const scores = modeScores(q, d.encoding, modes);
    return { id: d.id, scores, score: combineScores(scores, w) };
  });
  all.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return all.slice(0, k);
}
