/**
 * The binary codec: one bit per dimension (1 when the value is > 0), packed 8 dims per byte,
 * dim 8b+t in bit t of byte b. A stored row b_j in {-1,+1}^dim is scored as the unit vector
 * b_j/sqrt(dim) against the full-precision query.
 *
 * Scoring uses per-query-row lookup tables: for each packed byte position k and byte value v,
 * lut[k][v] = sum_t (bit t of v ? +1 : -1) · q[8k+t] / sqrt(dim), so <q_i, b_j> is ceil(dim/8)
 * table lookups instead of dim multiply-adds. Tables are built incrementally
 * (lut[v] = lut[v without its lowest bit] + 2·q[that bit]), 256 entries per byte position.
 */
import type { ColbertCodec, PreparedQuery } from "./codec.js";
import { maxSimSumF32 } from "../maxsim/kernels.js";

/** Lookup tables of a query (rows × nBytes × 256 floats). */
export function buildByteLut(q: Float32Array, rows: number, dim: number): Float32Array {
  const nb = Math.ceil(dim / 8);
  const lut = new Float32Array(rows * nb * 256);
  const inv = 1 / Math.sqrt(dim);
  const vals = new Float64Array(8);
  const tmp = new Float64Array(256);
  for (let i = 0; i < rows; i++) {
    for (let k = 0; k < nb; k++) {
      let base = 0;
      for (let t = 0; t < 8; t++) {
        const d = 8 * k + t;
        const v = d < dim ? q[i * dim + d]! * inv : 0;
        vals[t] = 2 * v;
        base -= v;
      }
      const o = (i * nb + k) * 256;
      tmp[0] = base;
      lut[o] = base;
      for (let v = 1; v < 256; v++) {
        const low = v & -v;
        tmp[v] = tmp[v ^ low]! + vals[31 - Math.clz32(low)]!;
        lut[o + v] = tmp[v]!;
      }
    }
  }
  return lut;
}

/** `sum_i max_j <q_i, b_j/sqrt(dim)>` from byte lookup tables, four query rows per document row. */
export function maxSimSumBinary(lut: Float32Array, rows: number, bits: Uint8Array, tokens: number, nb: number): number {
  if (rows === 0 || tokens === 0) return 0;
  const stride = nb * 256;
  let total = 0;
  let i = 0;
  for (; i + 4 <= rows; i += 4) {
    const l0 = i * stride, l1 = l0 + stride, l2 = l1 + stride, l3 = l2 + stride;
    let m0 = -Infinity, m1 = -Infinity, m2 = -Infinity, m3 = -Infinity;
    for (let pj = 0, end = tokens * nb; pj < end; pj += nb) {
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let k = 0, kk = 0; k < nb; k++, kk += 256) {
        const v = bits[pj + k]! + kk;
        s0 += lut[l0 + v]!;
        s1 += lut[l1 + v]!;
        s2 += lut[l2 + v]!;
        s3 += lut[l3 + v]!;
      }
      if (s0 > m0) m0 = s0;
      if (s1 > m1) m1 = s1;
      if (s2 > m2) m2 = s2;
      if (s3 > m3) m3 = s3;
    }
    total += m0 + m1 + m2 + m3;
  }
  for (; i < rows; i++) {
    const l = i * stride;
    let m = -Infinity;
    for (let pj = 0, end = tokens * nb; pj < end; pj += nb) {
      let s = 0;
      for (let k = 0, kk = l; k < nb; k++, kk += 256) s += lut[kk + bits[pj + k]!]!;
      if (s > m) m = s;
    }
    total += m;
  }
  return total;
}

/** Queries whose tables would exceed this many bytes (≈ 256 rows at dim 1024) are scored on unpacked ±1 rows instead. */
const MAX_LUT_BYTES = 32 * 1024 * 1024;

export function createBinaryCodec(dim: number): ColbertCodec {
  const nb = Math.ceil(dim / 8);
  const inv = 1 / Math.sqrt(dim);
  let scratch = new Float32Array(0);
  const codec: ColbertCodec = {
    name: "binary",
    dim,
    bytesPerToken: nb,
    payloadBytes: (tokens) => tokens * nb,
    encode(src, tokens, out) {
      const full = dim >>> 3;
      for (let j = 0; j < tokens; j++) {
        const o = j * dim, p = j * nb;
        for (let b = 0; b < full; b++) {
          const s = o + 8 * b;
          out[p + b] = (src[s]! > 0 ? 1 : 0) | (src[s + 1]! > 0 ? 2 : 0) | (src[s + 2]! > 0 ? 4 : 0) | (src[s + 3]! > 0 ? 8 : 0)
            | (src[s + 4]! > 0 ? 16 : 0) | (src[s + 5]! > 0 ? 32 : 0) | (src[s + 6]! > 0 ? 64 : 0) | (src[s + 7]! > 0 ? 128 : 0);
        }
        if (full < nb) {
          let v = 0;
          for (let d = 8 * full; d < dim; d++) if (src[o + d]! > 0) v |= 1 << (d & 7);
          out[p + full] = v;
        }
      }
    },
    decode(payload, tokens, out) {
      for (let j = 0; j < tokens; j++) {
        for (let d = 0; d < dim; d++) out[j * dim + d] = (payload[j * nb + (d >>> 3)]! >>> (d & 7)) & 1 ? inv : -inv;
      }
    },
    prepare(data, rows): PreparedQuery {
      if (rows * nb * 256 * 4 > MAX_LUT_BYTES) return { data, rows, dim };
      return { data, rows, dim, lut: buildByteLut(data, rows, dim) };
    },
    maxSimSum(q, payload, tokens) {
      if (q.lut !== undefined) return maxSimSumBinary(q.lut, q.rows, payload, tokens, nb);
      if (scratch.length < tokens * dim) scratch = new Float32Array(tokens * dim);
      codec.decode(payload, tokens, scratch);
      return maxSimSumF32(q.data, q.rows, scratch, 0, tokens, dim);
    },
  };
  return codec;
}
