/**
 * Token pooling: merge near-duplicate token vectors of a document. Agglomerative clustering
 * with centroid linkage under cosine similarity (at each step the two clusters whose mean
 * vectors have the highest cosine merge; ties go to the lowest indices), run independently on
 * consecutive windows of at most POOL_WINDOW rows so the cost stays bounded for long documents.
 * Each window of n rows keeps ceil(n / poolFactor) clusters; a cluster becomes the
 * re-normalised mean of its rows, emitted in order of its first row. Deterministic.
 *
 * Cost: one Gram matrix of the window (n²/2 dot products); a merge then costs O(n), because
 * for cluster sums <a+b, c> = <a, c> + <b, c>, so cosines are updated from the Gram matrix.
 */
import type { MultiVector } from "../types.js";

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

/** Gram matrix (n × n, symmetric) of rows [start, start+n). */
function gram(src: Float32Array, start: number, n: number, dim: number): Float64Array {
  const g = new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    const oa = (start + a) * dim;
    let b = a;
    for (; b + 2 <= n; b += 2) {
      const ob = (start + b) * dim, oc = ob + dim;
      let s0 = 0, s1 = 0;
      for (let k = 0; k < dim; k++) {
        const x = src[oa + k]!;
        s0 += x * src[ob + k]!;
        s1 += x * src[oc + k]!;
      }
      g[a * n + b] = s0; g[b * n + a] = s0;
      g[a * n + b + 1] = s1; g[(b + 1) * n + a] = s1;
    }
    if (b < n) {
      const ob = (start + b) * dim;
      let s = 0;
      for (let k = 0; k < dim; k++) s += src[oa + k]! * src[ob + k]!;
      g[a * n + b] = s; g[b * n + a] = s;
    }
  }
  return g;
}

/** Clusters rows [start, start+n) down to `target` rows appended to `out` at row `written`; returns the new row count. */
function poolWindow(src: Float32Array, start: number, n: number, dim: number, target: number, out: Float32Array, written: number): number {
  const g = gram(src, start, n, dim); // becomes the Gram matrix of cluster sums
  const owner = new Int32Array(n).map((_, i) => i); // cluster of each row (its lowest row)
  const alive = new Uint8Array(n).fill(1);
  const invNorm = new Float64Array(n);
  const setNorm = (a: number): void => { invNorm[a] = 1 / Math.max(Math.sqrt(g[a * n + a]!), 1e-12); };
  for (let a = 0; a < n; a++) setNorm(a);
  for (let clusters = n; clusters > target; clusters--) {
    let best = -Infinity, ba = -1, bb = -1;
    for (let a = 0; a < n; a++) {
      if (alive[a] === 0) continue;
      const ia = invNorm[a]!, o = a * n;
      for (let b = a + 1; b < n; b++) {
        if (alive[b] === 0) continue;
        const s = g[o + b]! * ia * invNorm[b]!;
        if (s > best) { best = s; ba = a; bb = b; }
      }
    }
    alive[bb] = 0;
    const self = g[ba * n + ba]! + 2 * g[ba * n + bb]! + g[bb * n + bb]!;
    for (let c = 0; c < n; c++) {
      if (alive[c] === 0 || c === ba) continue;
      const v = g[ba * n + c]! + g[bb * n + c]!;
      g[ba * n + c] = v;
      g[c * n + ba] = v;
    }
    g[ba * n + ba] = self;
    setNorm(ba);
    for (let i = 0; i < n; i++) if (owner[i] === bb) owner[i] = ba;
  }
  const sums = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) {
    const o = owner[i]! * dim, r = (start + i) * dim;
    for (let k = 0; k < dim; k++) sums[o + k] = sums[o + k]! + src[r + k]!;
  }
  for (let i = 0; i < n; i++) {
    if (alive[i] === 0) continue;
    let s = 0;
    for (let k = 0, o = i * dim; k < dim; k++) s += sums[o + k]! * sums[o + k]!;
    const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
    for (let k = 0, o = i * dim, w = written * dim; k < dim; k++) out[w + k] = sums[o + k]! * inv;
    written++;
  }
  return written;
}
