/**
 * From per-token model outputs to the reference's three representations (spec, "The three
 * outputs"). Pure functions over typed arrays; every loop is linear in tokens × dim.
 */
import { normalizeInPlace, normalizeRowsInPlace } from "../math/vector.js";
import type { MultiVector, SparseVector } from "../types.js";

/** The normalised copy of `dim` values of `src` from `off` (dense: the `<s>` row). */
export function denseFrom(src: Float32Array, off: number, dim: number): Float32Array {
  const v = src.slice(off, off + dim);
  normalizeInPlace(v);
  return v;
}

/** The normalised mean of the `dim`-value rows of `src` at `positions` (rows counted from `off`): the MCLS dense vector. */
export function denseMeanFrom(src: Float32Array, off: number, positions: ArrayLike<number>, dim: number): Float32Array {
  const sum = new Float64Array(dim);
  for (let i = 0; i < positions.length; i++) {
    const o = off + positions[i]! * dim;
    for (let k = 0; k < dim; k++) sum[k]! += src[o + k]!;
  }
  const v = Float32Array.from(sum, (x) => x / positions.length);
  normalizeInPlace(v);
  return v;
}

/**
 * Lexical weights: for position p (0 <= p < ids.length) the weight is
 * `relu(weights[off + (p - first) * stride])` for p >= first (positions before `first` have
 * no weight). Ids in `drop` are skipped, only w > 0 is kept, repeats keep the MAXIMUM.
 * Indices come out sorted ascending.
 */
export function sparseFrom(
  ids: Int32Array,
  weights: Float32Array,
  off: number,
  stride: number,
  first: number,
  drop: ReadonlySet<number>,
): SparseVector {
  const best = new Map<number, number>();
  for (let p = first; p < ids.length; p++) {
    const id = ids[p]!;
    if (drop.has(id)) continue;
    const w = weights[off + (p - first) * stride]!;
    if (!(w > 0)) continue;
    const prev = best.get(id);
    if (prev === undefined || w > prev) best.set(id, w);
  }
  const indices = Uint32Array.from(best.keys()).sort();
  const values = new Float32Array(indices.length);
  for (let i = 0; i < indices.length; i++) values[i] = best.get(indices[i]!)!;
  return { indices, values };
}

/** `rows` consecutive rows of `dim` floats from `src` at `off`, each L2-normalised (ColBERT). */
export function colbertFrom(src: Float32Array, off: number, rows: number, dim: number): MultiVector {
  const data = src.slice(off, off + rows * dim);
  normalizeRowsInPlace(data, dim);
  return { data, tokens: rows, dim };
}
