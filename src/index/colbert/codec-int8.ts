/**
 * The int8 codec: per token row a symmetric scale s = max|x|/127 and codes round(x/s) in
 * [-127, 127]. Payload: `tokens` float32 scales, then `tokens · dim` int8 codes.
 */
import type { ColbertCodec } from "./codec.js";
import { f32View } from "./codec.js";
import { maxSimSumI8 } from "./kernels.js";

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
      for (let j = 0; j < tokens; j++) {
        const o = j * dim;
        let maxAbs = 0;
        for (let k = 0; k < dim; k++) {
          const a = Math.abs(src[o + k]!);
          if (a > maxAbs) maxAbs = a;
        }
        const scale = Math.fround(maxAbs / 127);
        scales[j] = scale;
        const inv = scale > 0 ? 1 / scale : 0;
        for (let k = 0; k < dim; k++) {
          const c = Math.round(src[o + k]! * inv);
          codes[o + k] = c > 127 ? 127 : c < -127 ? -127 : c;
        }
      }
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
