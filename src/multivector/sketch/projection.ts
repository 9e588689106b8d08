/**
 * The count sketch that maps ColBERT rows (`dim` columns) to `sketchDim` columns: input column k
 * is added, with a sign s(k) = ±1, to output column h(k). Columns are dealt out evenly (h is a
 * seeded permutation of the columns taken modulo `sketchDim`), so every output column sums
 * dim/sketchDim inputs. Inner products are preserved in expectation, E<Sx, Sy> = <x, y>, with an
 * error of about |x||y|/sqrt(sketchDim); one pass over a row (`dim` adds) computes it, which is
 * what makes sketching every row of every document affordable while indexing.
 * Pure and deterministic: (dim, sketchDim, seed) gives the same sketch everywhere.
 */

/** The seed of the count sketch (recorded in the manifest, so a future change cannot mix sketches). */
export const SKETCH_SEED = 0x5eed_c01b;

export interface CountSketch {
  readonly dim: number;
  readonly sketchDim: number;
  readonly seed: number;
  /** Input columns in output order: out[j] = Σ_t sign[j·g + t] · x[cols[j·g + t]] over its g inputs (from `starts`). */
  readonly cols: Uint32Array;
  readonly signs: Float32Array;
  /** Where each output column's inputs start in `cols` (length sketchDim + 1). */
  readonly starts: Uint32Array;
}

/** mulberry32 step; the sketch only needs a reproducible shuffle. */
function next(state: { s: number }): number {
  let t = (state.s = (state.s + 0x6d2b79f5) >>> 0);
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** The sketch of `dim` columns into `sketchDim` (≤ dim); `sketchDim === dim` is the identity. */
export function createCountSketch(dim: number, sketchDim: number, seed: number): CountSketch {
  const cols = new Uint32Array(dim);
  const signs = new Float32Array(dim).fill(1);
  const starts = new Uint32Array(sketchDim + 1);
  if (sketchDim >= dim) {
    for (let k = 0; k < dim; k++) cols[k] = k;
    for (let j = 0; j <= dim; j++) starts[j] = j;
    return { dim, sketchDim: dim, seed, cols, signs, starts };
  }
  const state = { s: seed >>> 0 };
  const perm = Array.from({ length: dim }, (_, k) => k);
  for (let k = dim - 1; k > 0; k--) {
    const r = Math.floor(next(state) * (k + 1));
    [perm[k], perm[r]] = [perm[r]!, perm[k]!];
  }
  const buckets: number[][] = Array.from({ length: sketchDim }, () => []);
  perm.forEach((col, i) => buckets[i % sketchDim]!.push(col));
  let at = 0;
  buckets.forEach((b, j) => {
    starts[j] = at;
    for (const col of b.sort((x, y) => x - y)) {
      cols[at] = col;
      signs[at++] = next(state) < 0.5 ? -1 : 1;
    }
  });
  starts[sketchDim] = at;
  return { dim, sketchDim, seed, cols, signs, starts };
}

/** Sketches `rows` rows of `src` (row-major, `dim` columns) into `out` (rows × sketchDim). */
export function sketchRows(s: CountSketch, src: Float32Array, rows: number, out: Float32Array): void {
  const { dim, sketchDim, cols, signs, starts } = s;
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    const w = r * sketchDim;
    for (let j = 0; j < sketchDim; j++) {
      let acc = 0;
      for (let t = starts[j]!, end = starts[j + 1]!; t < end; t++) acc += signs[t]! * src[o + cols[t]!]!;
      out[w + j] = acc;
    }
  }
}

/** Mean of `rows` rows of `src` (row-major, `dim` columns) into `out` (zeros for no rows). */
export function meanRow(src: Float32Array, rows: number, dim: number, out: Float32Array): Float32Array {
  out.fill(0);
  for (let r = 0; r < rows; r++) for (let k = 0, o = r * dim; k < dim; k++) out[k] = out[k]! + src[o + k]!;
  if (rows > 0) for (let k = 0; k < dim; k++) out[k] = out[k]! / rows;
  return out;
}
