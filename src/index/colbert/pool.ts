/**
 * Token pooling: merge near-duplicate token vectors of a document. Agglomerative clustering
 * with centroid linkage under cosine similarity (at each step the two clusters whose mean
 * vectors have the highest cosine merge; ties go to the lowest indices), run independently on
 * consecutive windows of at most POOL_WINDOW rows so the cost stays O(window² · dim) per window
 * for long documents. Each window of n rows keeps ceil(n / poolFactor) clusters; a cluster
 * becomes the re-normalised mean of its rows, emitted in order of its first row. Deterministic.
 */
import type { MultiVector } from "../../types.js";

/** Rows clustered together at most; longer documents are pooled window by window. */
export const POOL_WINDOW = 256;

/** The pooled matrix (a new object; the input is not modified). poolFactor 1 returns a copy. */
export function poolTokens(m: MultiVector, poolFactor: number): MultiVector {
  const { dim, tokens } = m;
  if (poolFactor <= 1 || tokens <= 1) return { data: m.data.slice(0, tokens * dim), tokens, dim };
  let outTokens = 0;
  for (let start = 0; start < tokens; start += POOL_WINDOW) {
    outTokens += Math.ceil(Math.min(POOL_WINDOW, tokens - start) / poolFactor);
  }
  const out = new Float32Array(outTokens * dim);
  let written = 0;
  for (let start = 0; start < tokens; start += POOL_WINDOW) {
    const n = Math.min(POOL_WINDOW, tokens - start);
    written = poolWindow(m.data, start, n, dim, Math.ceil(n / poolFactor), out, written);
  }
  return { data: out, tokens: outTokens, dim };
}

/** Clusters rows [start, start+n) down to `target` rows appended to `out` at row `written`; returns the new row count. */
function poolWindow(src: Float32Array, start: number, n: number, dim: number, target: number, out: Float32Array, written: number): number {
  const sums = new Float64Array(n * dim);
  for (let i = 0; i < n * dim; i++) sums[i] = src[start * dim + i]!;
  const norms = new Float64Array(n);
  const alive = new Uint8Array(n).fill(1);
  const sim = new Float64Array(n * n);
  const rowNorm = (i: number): number => {
    let s = 0;
    for (let k = 0, o = i * dim; k < dim; k++) s += sums[o + k]! * sums[o + k]!;
    return Math.max(Math.sqrt(s), 1e-12);
  };
  const cos = (a: number, b: number): number => {
    let s = 0;
    for (let k = 0, oa = a * dim, ob = b * dim; k < dim; k++) s += sums[oa + k]! * sums[ob + k]!;
    return s / (norms[a]! * norms[b]!);
  };
  for (let i = 0; i < n; i++) norms[i] = rowNorm(i);
  for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) sim[a * n + b] = cos(a, b);
  for (let clusters = n; clusters > target; clusters--) {
    let best = -Infinity, ba = -1, bb = -1;
    for (let a = 0; a < n; a++) {
      if (alive[a] === 0) continue;
      for (let b = a + 1, o = a * n; b < n; b++) {
        if (alive[b] === 1 && sim[o + b]! > best) { best = sim[o + b]!; ba = a; bb = b; }
      }
    }
    alive[bb] = 0;
    for (let k = 0, oa = ba * dim, ob = bb * dim; k < dim; k++) sums[oa + k] = sums[oa + k]! + sums[ob + k]!;
    norms[ba] = rowNorm(ba);
    for (let c = 0; c < n; c++) {
      if (alive[c] === 0 || c === ba) continue;
      const s = cos(ba, c);
      if (c < ba) sim[c * n + ba] = s; else sim[ba * n + c] = s;
    }
  }
  for (let i = 0; i < n; i++) {
    if (alive[i] === 0) continue;
    const inv = 1 / norms[i]!;
    for (let k = 0, o = i * dim, w = written * dim; k < dim; k++) out[w + k] = sums[o + k]! * inv;
    written++;
  }
  return written;
}
