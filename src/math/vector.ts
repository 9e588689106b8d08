/** Pure vector maths on typed arrays. No allocation unless the name says so. */

/** Inner product of two equal-length vectors (from offsets, over `dim` values). */
export function dot(a: Float32Array, b: Float32Array, aOff = 0, bOff = 0, dim = a.length - aOff): number {
  let s = 0;
  for (let i = 0; i < dim; i++) s += a[aOff + i]! * b[bOff + i]!;
  return s;
}

/** L2-normalises `dim` values of `v` from `off` in place, as torch's normalize: x / max(|x|, 1e-12). */
export function normalizeInPlace(v: Float32Array, off = 0, dim = v.length - off): void {
  let s = 0;
  for (let i = 0; i < dim; i++) s += v[off + i]! * v[off + i]!;
  const n = Math.max(Math.sqrt(s), 1e-12);
  for (let i = 0; i < dim; i++) v[off + i] = v[off + i]! / n;
}

/** Normalises every `dim`-row of a row-major matrix in place. */
export function normalizeRowsInPlace(m: Float32Array, dim: number): void {
  for (let off = 0; off < m.length; off += dim) normalizeInPlace(m, off, dim);
}
