/**
 * The scores of the BGE-M3 reference (spec: "Scores between a query q and a passage p").
 * Pure functions; every score points the same way: higher is better.
 */
import type { ModeWeights, MultiVector, SparseVector } from "../types.js";
import { dot } from "./vector.js";

/** Dense score: inner product of the two normalised vectors. */
export function denseScore(q: Float32Array, p: Float32Array): number {
  return dot(q, p, 0, 0, Math.min(q.length, p.length));
}

/** Lexical score: sum over token ids present in both of w_q[t] * w_p[t] (indices sorted ascending). */
export function lexicalScore(q: SparseVector, p: SparseVector): number {
  let i = 0;
  let j = 0;
  let s = 0;
  const qi = q.indices;
  const pi = p.indices;
  while (i < qi.length && j < pi.length) {
    const a = qi[i]!;
    const b = pi[j]!;
    if (a === b) {
      s += q.values[i]! * p.values[j]!;
      i++;
      j++;
    } else if (a < b) i++;
    else j++;
  }
  return s;
}

/**
 * For each query row, the maximum inner product with any passage row, written to `out`
 * (length q.tokens). Rows are processed four query rows at a time so each passage row is
 * loaded once per block: a blocked matrix product with a running max instead of a stored
 * score matrix.
 */
export function maxSimRows(q: MultiVector, p: MultiVector, out: Float32Array = new Float32Array(q.tokens)): Float32Array {
  const dim = q.dim;
  const qd = q.data;
  const pd = p.data;
  out.fill(p.tokens === 0 ? 0 : -Infinity, 0, q.tokens);
  if (p.tokens === 0) return out;
  let i = 0;
  for (; i + 4 <= q.tokens; i += 4) {
    const o0 = i * dim, o1 = o0 + dim, o2 = o1 + dim, o3 = o2 + dim;
    let m0 = -Infinity, m1 = -Infinity, m2 = -Infinity, m3 = -Infinity;
    for (let j = 0; j < p.tokens; j++) {
      const pj = j * dim;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let k = 0; k < dim; k++) {
        const v = pd[pj + k]!;
        s0 += qd[o0 + k]! * v;
        s1 += qd[o1 + k]! * v;
        s2 += qd[o2 + k]! * v;
        s3 += qd[o3 + k]! * v;
      }
      if (s0 > m0) m0 = s0;
      if (s1 > m1) m1 = s1;
      if (s2 > m2) m2 = s2;
      if (s3 > m3) m3 = s3;
    }
    out[i] = m0; out[i + 1] = m1; out[i + 2] = m2; out[i + 3] = m3;
  }
  for (; i < q.tokens; i++) {
    let m = -Infinity;
    for (let j = 0; j < p.tokens; j++) {
      const s = dot(qd, pd, i * dim, j * dim, dim);
      if (s > m) m = s;
    }
    out[i] = m;
  }
  return out;
}

/** ColBERT score: (1/N) * sum_i max_j <q_i, p_j>, N = query rows. 0 when either side is empty. */
export function colbertScore(q: MultiVector, p: MultiVector): number {
  if (q.tokens === 0 || p.tokens === 0) return 0;
  const rows = maxSimRows(q, p);
  let s = 0;
  for (let i = 0; i < rows.length; i++) s += rows[i]!;
  return s / q.tokens;
}

/** Per-mode scores; a mode that was not computed is undefined. */
export interface ModeScores {
  dense?: number;
  sparse?: number;
  colbert?: number;
}

/**
 * The weighted combination `(w1·dense + w2·lexical + w3·colbert) / (w1 + w2 + w3)`,
 * over the modes that are present (a missing mode contributes neither score nor weight).
 * Returns 0 when the weights of the present modes sum to 0.
 */
export function combineScores(scores: ModeScores, weights: ModeWeights): number {
  let num = 0;
  let den = 0;
  if (scores.dense !== undefined) { num += weights.dense * scores.dense; den += weights.dense; }
  if (scores.sparse !== undefined) { num += weights.sparse * scores.sparse; den += weights.sparse; }
  if (scores.colbert !== undefined) { num += weights.colbert * scores.colbert; den += weights.colbert; }
  return den === 0 ? 0 : num / den;
}
