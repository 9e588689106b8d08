/**
 * 4-bit block quantisation of a MatMul weight for onnxruntime's `com.microsoft.MatMulNBits`:
 * W [K, N] (row-major fp32) becomes, for each output column n and each block of `block` rows,
 * `block / 2` bytes of 4-bit codes (element 2i in the low nibble, 2i + 1 in the high one), one
 * fp32 scale and one 4-bit zero point (two blocks per byte, low nibble first), so that
 * w ≈ (code − zero) · scale. Asymmetric: each block's [min, max] (widened to hold 0) spans the
 * 16 codes. The layouts are those of the MatMulNBits contrib-op schema: B [N, K/block, block/2],
 * scales [N · K/block], zero_points [N · ⌈(K/block)/2⌉].
 */

export interface Blocks4 {
  codes: Uint8Array;
  scales: Float32Array;
  zeros: Uint8Array;
  blocksPerColumn: number;
}

export function quantizeBlocks4(w: Float32Array, K: number, N: number, block: number): Blocks4 {
  if (K % block !== 0) throw new RangeError(`K = ${K} is not a multiple of the block size ${block}`);
  const kb = K / block;
  const zeroBytes = Math.ceil(kb / 2);
  const codes = new Uint8Array(N * kb * (block / 2));
  const scales = new Float32Array(N * kb);
  const zeros = new Uint8Array(N * zeroBytes);
  const v = new Float32Array(block);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < kb; b++) {
      let lo = 0;
      let hi = 0;
      for (let i = 0; i < block; i++) {
        const x = w[(b * block + i) * N + n]!;
        v[i] = x;
        if (x < lo) lo = x;
        if (x > hi) hi = x;
      }
      const s = hi > lo ? (hi - lo) / 15 : 1;
      const z = Math.min(15, Math.max(0, Math.round(-lo / s)));
      scales[n * kb + b] = s;
      zeros[n * zeroBytes + (b >> 1)]! |= (b & 1) === 0 ? z : z << 4;
      const o = (n * kb + b) * (block / 2);
      for (let i = 0; i < block; i += 2) {
        const c0 = Math.min(15, Math.max(0, Math.round(v[i]! / s) + z));
        const c1 = Math.min(15, Math.max(0, Math.round(v[i + 1]! / s) + z));
        codes[o + (i >> 1)] = c0 | (c1 << 4);
      }
    }
  }
  return { codes, scales, zeros, blocksPerColumn: kb };
}

/** The fp32 weight [K, N] the codes stand for (tests, fidelity). */
export function dequantizeBlocks4(q: Blocks4, K: number, N: number, block: number): Float32Array {
  const kb = q.blocksPerColumn;
  const zeroBytes = Math.ceil(kb / 2);
  const w = new Float32Array(K * N);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < kb; b++) {
      const zb = q.zeros[n * zeroBytes + (b >> 1)]!;
      const z = (b & 1) === 0 ? zb & 15 : zb >> 4;
      const s = q.scales[n * kb + b]!;
      const o = (n * kb + b) * (block / 2);
      for (let i = 0; i < block; i++) {
        const c = q.codes[o + (i >> 1)]!;
        w[(b * block + i) * N + n] = (((i & 1) === 0 ? c & 15 : c >> 4) - z) * s;
      }
    }
  }
  return w;
}
