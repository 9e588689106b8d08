/**
 * The two BGE-M3 heads as trainable parameters, and one text's forward and backward pass
 * through them (spec, "The three outputs"):
 * - sparse: `w_p = relu(x_p · ws + bs)` per position; special ids dropped; per token id the
 *   MAXIMUM over its positions (the gradient goes to that position); only w > 0 kept;
 * - colbert: `e_k = normalize(Wc · x_k + bc)` for positions 1..n-1 (no `<s>` row);
 * - dense: `normalize(x_0)`, a constant (the encoder is frozen).
 * Float64 inside, so gradients agree with torch's float64 autograd to ~1e-12.
 */

/** sparse_linear (weight [1, H], bias [1]) and colbert_linear (weight [H, H] as [out, in], bias [H]). */
export interface HeadParams {
  hidden: number;
  sparseWeight: Float64Array;
  sparseBias: Float64Array;
  colbertWeight: Float64Array;
  colbertBias: Float64Array;
}

export function zerosLike(p: HeadParams): HeadParams {
  const H = p.hidden;
  return { hidden: H, sparseWeight: new Float64Array(H), sparseBias: new Float64Array(1), colbertWeight: new Float64Array(H * H), colbertBias: new Float64Array(H) };
}

export function cloneParams(p: HeadParams): HeadParams {
  return { hidden: p.hidden, sparseWeight: p.sparseWeight.slice(), sparseBias: p.sparseBias.slice(), colbertWeight: p.colbertWeight.slice(), colbertBias: p.colbertBias.slice() };
}

/** The parameter arrays in a fixed order (for the optimiser). */
export const paramArrays = (p: HeadParams): Float64Array[] => [p.sparseWeight, p.sparseBias, p.colbertWeight, p.colbertBias];

/** One text after the heads. */
export interface TextForward {
  ids: Int32Array;
  /** `[n, H]` hidden states. */
  x: Float32Array;
  dense: Float64Array;
  /** Lexical weights: ascending token ids, their weights (> 0) and the position each came from. */
  sparseIds: Int32Array;
  sparseValues: Float64Array;
  sparsePos: Int32Array;
  /** ColBERT rows 1..n-1, normalised, `[(n-1), H]`; `norms` before normalising. */
  colbert: Float64Array;
  norms: Float64Array;
  rows: number;
}

/** Gradient of the loss with respect to one text's outputs. */
export interface TextGrad {
  /** d loss / d sparseValues[k]. */
  sparse: Float64Array;
  /** d loss / d colbert rows. */
  colbert: Float64Array;
}

export function forwardText(p: HeadParams, ids: Int32Array, x: Float32Array, drop: ReadonlySet<number>, withColbert = true): TextForward {
  const H = p.hidden;
  const n = ids.length;
  const dense = new Float64Array(H);
  let s = 0;
  for (let k = 0; k < H; k++) s += x[k]! * x[k]!;
  const dn = Math.max(Math.sqrt(s), 1e-12);
  for (let k = 0; k < H; k++) dense[k] = x[k]! / dn;
  // Sparse: per token id, the maximum relu weight and its position.
  const best = new Map<number, { w: number; pos: number }>();
  const ws = p.sparseWeight;
  const bs = p.sparseBias[0]!;
  for (let q = 0; q < n; q++) {
    const id = ids[q]!;
    if (drop.has(id)) continue;
    let a = bs;
    const o = q * H;
    for (let k = 0; k < H; k++) a += ws[k]! * x[o + k]!;
    if (!(a > 0)) continue;
    const prev = best.get(id);
    if (prev === undefined || a > prev.w) best.set(id, { w: a, pos: q });
  }
  const sparseIds = Int32Array.from(best.keys()).sort();
  const sparseValues = new Float64Array(sparseIds.length);
  const sparsePos = new Int32Array(sparseIds.length);
  sparseIds.forEach((id, i) => {
    const b = best.get(id)!;
    sparseValues[i] = b.w;
    sparsePos[i] = b.pos;
  });
  const rows = withColbert ? Math.max(0, n - 1) : 0;
  const colbert = new Float64Array(rows * H);
  const norms = new Float64Array(rows);
  const W = p.colbertWeight;
  const cb = p.colbertBias;
  for (let r = 0; r < rows; r++) {
    const xo = (r + 1) * H;
    const eo = r * H;
    let nn = 0;
    for (let o = 0; o < H; o++) {
      let a = cb[o]!;
      const wo = o * H;
      for (let k = 0; k < H; k++) a += W[wo + k]! * x[xo + k]!;
      colbert[eo + o] = a;
      nn += a * a;
    }
    const norm = Math.max(Math.sqrt(nn), 1e-12);
    norms[r] = norm;
    for (let o = 0; o < H; o++) colbert[eo + o]! /= norm;
  }
  return { ids, x, dense, sparseIds, sparseValues, sparsePos, colbert, norms, rows };
}

export function zeroGrad(t: TextForward): TextGrad {
  return { sparse: new Float64Array(t.sparseValues.length), colbert: new Float64Array(t.colbert.length) };
}

/** Adds the parameter gradient of one text (given d loss / d its outputs) to `g`. */
export function backwardText(t: TextForward, d: TextGrad, g: HeadParams): void {
  const H = g.hidden;
  const x = t.x;
  for (let i = 0; i < t.sparseIds.length; i++) {
    const gi = d.sparse[i]!;
    if (gi === 0) continue; // weights kept are > 0, so relu' = 1
    const xo = t.sparsePos[i]! * H;
    for (let k = 0; k < H; k++) g.sparseWeight[k]! += gi * x[xo + k]!;
    g.sparseBias[0]! += gi;
  }
  const dr = new Float64Array(H);
  for (let r = 0; r < t.rows; r++) {
    const eo = r * H;
    let eg = 0;
    let any = false;
    for (let o = 0; o < H; o++) {
      const v = d.colbert[eo + o]!;
      if (v !== 0) any = true;
      eg += t.colbert[eo + o]! * v;
    }
    if (!any) continue;
    const inv = 1 / t.norms[r]!;
    for (let o = 0; o < H; o++) dr[o] = (d.colbert[eo + o]! - t.colbert[eo + o]! * eg) * inv;
    const xo = (r + 1) * H;
    for (let o = 0; o < H; o++) {
      const v = dr[o]!;
      if (v === 0) continue;
      g.colbertBias[o]! += v;
      const wo = o * H;
      for (let k = 0; k < H; k++) g.colbertWeight[wo + k]! += v * x[xo + k]!;
    }
  }
}

/** Lexical score (sum over shared ids of products) and, when `gq`/`gp` are given, adds `scale ×` its gradient. */
export function lexical(q: TextForward, p: TextForward, scale = 0, gq?: Float64Array, gp?: Float64Array): number {
  let i = 0;
  let j = 0;
  let s = 0;
  const a = q.sparseIds;
  const b = p.sparseIds;
  while (i < a.length && j < b.length) {
    if (a[i]! < b[j]!) i++;
    else if (a[i]! > b[j]!) j++;
    else {
      s += q.sparseValues[i]! * p.sparseValues[j]!;
      if (gq !== undefined && gp !== undefined && scale !== 0) {
        gq[i]! += scale * p.sparseValues[j]!;
        gp[j]! += scale * q.sparseValues[i]!;
      }
      i++;
      j++;
    }
  }
  return s;
}

/** MaxSim averaged over the query rows; `arg[i]` receives the passage row that query row i matched. */
export function maxSim(q: TextForward, p: TextForward, H: number, arg: Int32Array): number {
  if (q.rows === 0 || p.rows === 0) return 0;
  const E = q.colbert;
  const F = p.colbert;
  let total = 0;
  for (let i = 0; i < q.rows; i++) {
    const qo = i * H;
    let best = -Infinity;
    let a = 0;
    for (let j = 0; j < p.rows; j++) {
      const po = j * H;
      let d = 0;
      for (let k = 0; k < H; k++) d += E[qo + k]! * F[po + k]!;
      if (d > best) {
        best = d;
        a = j;
      }
    }
    arg[i] = a;
    total += best;
  }
  return total / q.rows;
}

/** Adds `scale ×` the gradient of `maxSim(q, p)` (with the matches `arg` it found) to `gq` and `gp`. */
export function maxSimBackward(q: TextForward, p: TextForward, H: number, arg: Int32Array, scale: number, gq: Float64Array, gp: Float64Array): void {
  if (q.rows === 0 || p.rows === 0 || scale === 0) return;
  const per = scale / q.rows;
  const E = q.colbert;
  const F = p.colbert;
  for (let i = 0; i < q.rows; i++) {
    const qo = i * H;
    const po = arg[i]! * H;
    for (let k = 0; k < H; k++) {
      gq[qo + k]! += per * F[po + k]!;
      gp[po + k]! += per * E[qo + k]!;
    }
  }
}

export function denseDot(q: TextForward, p: TextForward): number {
  let s = 0;
  for (let k = 0; k < q.dense.length; k++) s += q.dense[k]! * p.dense[k]!;
  return s;
}
