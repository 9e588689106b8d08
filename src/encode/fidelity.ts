/**
 * How close one encoder's outputs are to a reference encoder's on the same texts (int8 vs
 * fp32): dense cosine, lexical-weight agreement, ColBERT row cosine and MaxSim agreement over
 * every ordered pair of texts. Pure functions over encodings.
 */
import { colbertScore, lexicalScore } from "../math/scores.js";
import type { M3Encoding, SparseVector } from "../types.js";

export interface Fidelity {
  texts: number;
  /** Cosine between the dense vectors (both normalised): min and mean over texts. */
  denseCosine: { min: number; mean: number };
  /**
   * Lexical weights: cosine between the two weight vectors (min, mean), and the largest
   * |difference| of one weight relative to the text's largest weight.
   */
  sparseCosine: { min: number; mean: number };
  sparseMaxRelDiff: number;
  /** Cosine of corresponding ColBERT rows: min and mean over all rows. */
  colbertRowCosine: { min: number; mean: number };
  /** |MaxSim_got(q, p) − MaxSim_ref(q, p)| over ordered pairs of different texts: max and mean. */
  maxSimAbsDiff: { max: number; mean: number };
}

const summary = (xs: number[]) => ({ min: xs.length ? Math.min(...xs) : NaN, mean: xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN });

function cosine(a: Float32Array, b: Float32Array, ao = 0, bo = 0, n = a.length): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < n; i++) {
    const x = a[ao + i]!, y = b[bo + i]!;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return aa === 0 && bb === 0 ? 1 : ab / Math.sqrt(aa * bb || 1);
}

function sparseNorm(s: SparseVector): number {
  return Math.sqrt(lexicalScore(s, s));
}

/**
 * Compares `got` with `ref` (same texts, same order, all three outputs present). MaxSim is
 * compared on up to `maxPairs` ordered pairs (q, q+1), (q, q+2), … of different texts.
 */
export function compareEncodings(ref: readonly M3Encoding[], got: readonly M3Encoding[], maxPairs = Infinity): Fidelity {
  if (ref.length !== got.length) throw new RangeError(`compareEncodings: ${ref.length} reference encodings, ${got.length} to compare`);
  const dense: number[] = [];
  const sparse: number[] = [];
  const rows: number[] = [];
  let relDiff = 0;
  ref.forEach((r, i) => {
    const g = got[i]!;
    if (r.dense && g.dense) dense.push(cosine(r.dense, g.dense));
    if (r.sparse && g.sparse) {
      const nr = sparseNorm(r.sparse), ng = sparseNorm(g.sparse);
      sparse.push(nr === 0 && ng === 0 ? 1 : lexicalScore(r.sparse, g.sparse) / (nr * ng || 1));
      const top = Math.max(0, ...r.sparse.values);
      const gm = new Map(Array.from(g.sparse.indices, (k, j) => [k, g.sparse!.values[j]!] as [number, number]));
      const rm = new Map(Array.from(r.sparse.indices, (k, j) => [k, r.sparse!.values[j]!] as [number, number]));
      for (const k of new Set([...gm.keys(), ...rm.keys()])) {
        if (top > 0) relDiff = Math.max(relDiff, Math.abs((gm.get(k) ?? 0) - (rm.get(k) ?? 0)) / top);
      }
    }
    if (r.colbert && g.colbert && r.colbert.tokens === g.colbert.tokens) {
      const d = r.colbert.dim;
      for (let t = 0; t < r.colbert.tokens; t++) rows.push(cosine(r.colbert.data, g.colbert.data, t * d, t * d, d));
    }
  });
  const diffs: number[] = [];
  let pairs = 0;
  for (let shift = 1; shift < ref.length && pairs < maxPairs; shift++) {
    for (let q = 0; q < ref.length && pairs < maxPairs; q++) {
      const p = (q + shift) % ref.length;
      const rq = ref[q]!.colbert, rp = ref[p]!.colbert, gq = got[q]!.colbert, gp = got[p]!.colbert;
      pairs++;
      if (!rq || !rp || !gq || !gp || rq.tokens === 0 || rp.tokens === 0) continue;
      diffs.push(Math.abs(colbertScore(gq, gp) - colbertScore(rq, rp)));
    }
  }
  return {
    texts: ref.length,
    denseCosine: summary(dense),
    sparseCosine: summary(sparse),
    sparseMaxRelDiff: relDiff,
    colbertRowCosine: summary(rows),
    maxSimAbsDiff: { max: diffs.length ? Math.max(...diffs) : NaN, mean: summary(diffs).mean },
  };
}
