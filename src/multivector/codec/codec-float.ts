/** The float32 and float16 codecs: rows stored as IEEE floats; float16 decodes to scratch before MaxSim. */
import type { ColbertCodec, PreparedQuery } from "./codec.js";
import { f32View } from "./codec.js";
import { halfToFloat32, toHalfBits } from "../../math/half.js";
import { maxSimSumF32 } from "../maxsim/kernels.js";

function prepareFloat(data: Float32Array, rows: number, dim: number): PreparedQuery {
  return { data, rows, dim };
}

/**
 * `out[i] = toHalfBits(src[i])` for i < n. Values whose half is normal (float32 exponent
 * 113..142) are converted here on the raw bits — round to nearest even by adding 0xfff plus
 * the lowest kept bit, a carry into the exponent (up to Infinity) being correct — and all
 * others (subnormal, zero, overflow, Infinity, NaN) by `toHalfBits` itself.
 */
function floatsToHalfBits(src: Float32Array, n: number, out: Uint16Array): void {
  const u = new Uint32Array(src.buffer, src.byteOffset, n);
  for (let i = 0; i < n; i++) {
    const x = u[i]!;
    const abs = x & 0x7fffffff;
    if (abs >= 0x38800000 && abs < 0x47800000) {
      out[i] = ((x >>> 16) & 0x8000) | ((abs - 0x38000000 + 0xfff + ((abs >>> 13) & 1)) >>> 13);
    } else {
      out[i] = toHalfBits(src[i]!);
    }
  }
}

export function createFloat32Codec(dim: number): ColbertCodec {
  return {
    name: "float32",
    dim,
    bytesPerToken: 4 * dim,
    payloadBytes: (tokens) => tokens * 4 * dim,
    encode(src, tokens, out) {
      f32View(out, 0, tokens * dim).set(src.subarray(0, tokens * dim));
    },
    decode(payload, tokens, out) {
      out.set(f32View(payload, 0, tokens * dim));
    },
    prepare: (data, rows) => prepareFloat(data, rows, dim),
    maxSimSum(q, payload, tokens) {
      return maxSimSumF32(q.data, q.rows, f32View(payload, 0, tokens * dim), 0, tokens, dim);
    },
  };
}

export function createFloat16Codec(dim: number): ColbertCodec {
  let scratch = new Float32Array(0);
  const decode = (payload: Uint8Array, tokens: number, out: Float32Array): void => {
    halfToFloat32(new Uint16Array(payload.buffer, payload.byteOffset, tokens * dim), out);
  };
  return {
    name: "float16",
    dim,
    bytesPerToken: 2 * dim,
    payloadBytes: (tokens) => tokens * 2 * dim,
    encode(src, tokens, out) {
      const n = tokens * dim;
      floatsToHalfBits(src, n, new Uint16Array(out.buffer, out.byteOffset, n));
    },
    decode,
    prepare: (data, rows) => prepareFloat(data, rows, dim),
    maxSimSum(q, payload, tokens) {
      const n = tokens * dim;
      if (scratch.length < n) scratch = new Float32Array(n);
      decode(payload, tokens, scratch);
      return maxSimSumF32(q.data, q.rows, scratch, 0, tokens, dim);
    },
  };
}
