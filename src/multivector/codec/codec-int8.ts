/**
 * The int8 codec: per token row a symmetric scale s = max|x|/127 and codes round(x/s) in
 * [-127, 127]. Payload: `tokens` float32 scales, then `tokens · dim` int8 codes.
 */
import type { ColbertCodec } from "./codec.js";
import { f32View } from "./codec.js";
import { maxSimSumI8 } from "../maxsim/kernels.js";

/** Smallest normal float32: a scale at least this large is within 2^-24 of max|x|/127. */
const MIN_NORMAL_F32 = 1.1754943508222875e-38;

/** max|x| of a row, or NaN when the row holds a NaN (Math.max propagates it). */
function rowMaxAbs(src: Float32Array, o: number, dim: number): number {
  let m0 = 0, m1 = 0, m2 = 0, m3 = 0;
  let k = o;
  for (const end4 = o + dim - (dim & 3); k < end4; k += 4) {
    m0 = Math.max(m0, Math.abs(src[k]!));
    m1 = Math.max(m1, Math.abs(src[k + 1]!));
    m2 = Math.max(m2, Math.abs(src[k + 2]!));
    m3 = Math.max(m3, Math.abs(src[k + 3]!));
  }
  for (const end = o + dim; k < end; k++) m0 = Math.max(m0, Math.abs(src[k]!));
  return Math.max(m0, m1, m2, m3);
}

/**
 * Quantises row `j` (values `src[o .. o+dim)`) into `scales[j]` and `codes[o ..]`.
 *
 * Fast path (finite row without NaN, normal float32 scale): |x·inv| < 127.5, so no clamping
 * is needed and round(x) = floor(x + 0.5) is computed as trunc(y) - 128 with y = x + 128.5 > 0;
 * when the addition rounds y up onto an integer (x just below a half), the exact test
 * `x < c - 0.5` takes the 1 back. The bytes equal `Math.round` + clamp exactly (-0 stores as 0).
 * Other rows (NaN, ±Infinity, subnormal scales) use the plain loop.
 */
function encodeRow(src: Float32Array, o: number, dim: number, scales: Float32Array, j: number, codes: Int8Array): void {
  const fastMax = rowMaxAbs(src, o, dim);
  const maxAbs = fastMax === fastMax ? fastMax : plainMaxAbs(src, o, dim);
  const scale = Math.fround(maxAbs / 127);
  scales[j] = scale;
  const inv = scale > 0 ? 1 / scale : 0;
  const end = o + dim;
  if (fastMax === fastMax && scale >= MIN_NORMAL_F32 && scale < Infinity) {
    for (let k = o; k < end; k++) {
      const x = src[k]! * inv;
      let c = ((x + 128.5) | 0) - 128;
      if (x < c - 0.5) c--;
      codes[k] = c;
    }
    return;
  }
  for (let k = o; k < end; k++) {
    const c = Math.round(src[k]! * inv);
    codes[k] = c > 127 ? 127 : c < -127 ? -127 : c;
  }
}

/** max|x| ignoring NaN values (the definition the format was written with). */
function plainMaxAbs(src: Float32Array, o: number, dim: number): number {
  let maxAbs = 0;
  for (let k = o, end = o + dim; k < end; k++) {
    const a = Math.abs(src[k]!);
    if (a > maxAbs) maxAbs = a;
  }
  return maxAbs;
}

export function createInt8Codec(dim: number): ColbertCodec {
  const views = (payload: Uint8Array, tokens: number) => ({
    scales: f32View(payload, 0, tokens),
    codes: new Int8Array(payload.buffer, payload.byteOffset + 4 * tokens, tokens * dim),
  });
  return {
    name: "int8",
    dim,
    bytesPerToken: dim + 4,
    payloadBytes: (tokens) => tokens * (dim + 4),
    encode(src, tokens, out) {
      const { scales, codes } = views(out, tokens);
      for (let j = 0; j < tokens; j++) encodeRow(src, j * dim, dim, scales, j, codes);
    },
    decode(payload, tokens, out) {
      const { scales, codes } = views(payload, tokens);
      for (let j = 0; j < tokens; j++) {
        const s = scales[j]!;
        const o = j * dim;
        for (let k = 0; k < dim; k++) out[o + k] = codes[o + k]! * s;
      }
    },
    prepare: (data, rows) => ({ data, rows, dim }),
    maxSimSum(q, payload, tokens) {
      const { scales, codes } = views(payload, tokens);
      return maxSimSumI8(q.data, q.rows, codes, scales, tokens, dim);
    },
  };
}
