/**
 * The optimised ColBERT encoders must write the same bytes as the straightforward ones they
 * replaced (records already on disk keep decoding and verifying the same way). The originals
 * are kept here as the reference.
 */
import { describe, expect, it } from "vitest";
import { createCodec } from "../src/multivector/codec/codecs.js";
import { toHalfBits } from "../src/math/half.js";
import { Rng } from "../bench/lib/rng.js";

/** The int8 encoder as first written: scale fround(max|x|/127), codes Math.round(x/scale) clamped to ±127. */
function int8Reference(src: Float32Array, tokens: number, dim: number): Uint8Array {
  const out = new Uint8Array(tokens * (dim + 4));
  const scales = new Float32Array(out.buffer, 0, tokens);
  const codes = new Int8Array(out.buffer, 4 * tokens, tokens * dim);
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
  return out;
}

function float16Reference(src: Float32Array, n: number): Uint8Array {
  const bits = new Uint16Array(n);
  for (let i = 0; i < n; i++) bits[i] = toHalfBits(src[i]!);
  return new Uint8Array(bits.buffer);
}

function binaryReference(src: Float32Array, tokens: number, dim: number): Uint8Array {
  const nb = Math.ceil(dim / 8);
  const out = new Uint8Array(tokens * nb);
  for (let j = 0; j < tokens; j++) {
    for (let d = 0; d < dim; d++) if (src[j * dim + d]! > 0) out[j * nb + (d >>> 3)] |= 1 << (d & 7);
  }
  return out;
}

function encode(name: "int8" | "float16" | "binary", src: Float32Array, tokens: number, dim: number): Uint8Array {
  const c = createCodec(name, dim);
  // A payload at a non-zero 8-aligned offset of a larger buffer (as in a record).
  const buf = new Uint8Array(24 + c.payloadBytes(tokens) + 8).fill(0xa5);
  const payload = buf.subarray(24, 24 + c.payloadBytes(tokens));
  c.encode(src, tokens, payload);
  return payload.slice();
}

/** Scales whose 1/s rounds down enough that some (n + 0.5)·s·(1/s) + 128.5 rounds up onto an integer (found by search). */
const NEAR_HALF_SCALES = [3 * 2 ** -10, 13 * 2 ** -3, 49 * 2 ** -12, 75 * 2 ** -12, 103 * 2 ** -12, 105 * 2 ** -12, 49 * 2 ** 5, 103 * 2 ** -40];

/** Rows that exercise every branch: random scales, zeros, ties, clamp, subnormal scales, non-finite values. */
function hardRows(rng: Rng, dim: number): Float32Array[] {
  const rows: Float32Array[] = [];
  const row = (f: (k: number) => number) => Float32Array.from({ length: dim }, (_, k) => f(k));
  for (const mag of [1, 1e-3, 30, 1e-20, 3e37]) rows.push(row(() => rng.normal() * mag));
  rows.push(row(() => 0));
  rows.push(row((k) => (k % 2 ? -0 : 0)));
  rows.push(row((k) => (k === 0 ? 5e-45 : 0))); // subnormal max: scale rounds (to 0 or the smallest subnormal)
  rows.push(row((k) => (k % 3 === 0 ? 3e-43 : -1e-43))); // subnormal scale
  rows.push(row((k) => (k === 0 ? 178 * 2 ** -149 : -(k % 200) * 2 ** -149))); // scale rounds down to 2^-149: codes up to 178 clamp to ±127
  rows.push(row((k) => (k === 1 ? 3.4e38 : -3.4e38 * ((k % 7) / 7))));
  rows.push(row((k) => (k === 2 ? Infinity : rng.normal())));
  rows.push(row((k) => (k === 3 ? -Infinity : rng.normal())));
  rows.push(row((k) => (k === 4 ? NaN : rng.normal())));
  rows.push(row((k) => (k % 5 === 0 ? NaN : rng.normal() * 0.1)));
  rows.push(row(() => NaN));
  // Exact halves: max|x| = 127 gives scale 1, so codes are Math.round of k - 63.5 etc. (-2.5 -> -2).
  rows.push(row((k) => (k === 0 ? 127 : -127 + ((k * 0.5) % 254))));
  rows.push(row((k) => (k === 0 ? -127 : (k % 255) - 127.5 + (k % 2 ? 0 : 1e-5))));
  // Near-halves: scale s with an inexact 1/s and values (n + 0.5)·s, so x = value/s lands on,
  // or one ulp either side of, n + 0.5; x + 128.5 then rounds onto an integer now and then.
  for (const s of NEAR_HALF_SCALES) {
    rows.push(row((k) => (k === 0 ? 127 * s : ((k % 254) - 127 + 0.5) * s * (k % 3 === 0 ? -1 : 1))));
  }
  return rows;
}

function concat(rows: Float32Array[], dim: number): Float32Array {
  const m = new Float32Array(rows.length * dim);
  rows.forEach((r, j) => m.set(r, j * dim));
  return m;
}

describe("int8 encode", () => {
  it("writes the same bytes as the reference on random matrices and edge-case rows", () => {
    const rng = new Rng(21);
    for (const dim of [1, 3, 5, 37, 128, 1024, 1027]) {
      const rows = hardRows(rng, dim);
      for (let t = 0; t < 20; t++) rows.push(Float32Array.from({ length: dim }, () => rng.normal() / Math.sqrt(dim)));
      const m = concat(rows, dim);
      expect(encode("int8", m, rows.length, dim)).toEqual(int8Reference(m, rows.length, dim));
    }
  });

  it("the near-half rows really hit the case where floor(x + 0.5) is not Math.round(x)", () => {
    // Guards the test above: without such x the correction step would go untested.
    let hits = 0;
    for (const s of NEAR_HALF_SCALES) {
      const inv = 1 / Math.fround((127 * s) / 127);
      for (let n = -127; n < 127; n++) {
        for (const sign of [1, -1]) {
          const x = Math.fround((n + 0.5) * s * sign) * inv;
          if (((x + 128.5) | 0) - 128 !== Math.round(x)) hits++;
        }
      }
    }
    expect(hits).toBeGreaterThan(100);
  });

  it("a whole 160 × 1024 unit-row document, as put stores it", () => {
    const rng = new Rng(22);
    const rows = Array.from({ length: 160 }, () => {
      const r = Float32Array.from({ length: 1024 }, () => rng.normal());
      const n = Math.hypot(...r);
      return r.map((v) => v / n);
    });
    const m = concat(rows, 1024);
    expect(encode("int8", m, 160, 1024)).toEqual(int8Reference(m, 160, 1024));
  });
});

describe("float16 encode", () => {
  it("writes toHalfBits of every value, over all float32 exponents, ties and non-finite values", () => {
    const rng = new Rng(23);
    const vals: number[] = [0, -0, Infinity, -Infinity, NaN, 65504, 65519.99, 65520, 2 ** -14, 2 ** -15, 2 ** -24, 2 ** -25, 1 + 2 ** -11, 1 + 3 * 2 ** -11];
    const bits = new Uint32Array(1);
    const f = new Float32Array(bits.buffer);
    for (let i = 0; i < 200_000; i++) {
      bits[0] = Math.floor(rng.next() * 2 ** 32);
      vals.push(f[0]!);
    }
    // Every exponent around the half range, with mantissas at, just below and above a tie.
    for (let e = 100; e <= 150; e++) {
      for (const mant of [0, 1, 0xfff, 0x1000, 0x1001, 0x2fff, 0x3000, 0x3001, 0x7fe000, 0x7ff000, 0x7fffff]) {
        for (const sign of [0, 0x80000000]) {
          bits[0] = (sign | (e << 23) | mant) >>> 0;
          vals.push(f[0]!);
        }
      }
    }
    const m = Float32Array.from(vals);
    expect(encode("float16", m, m.length, 1)).toEqual(float16Reference(m, m.length));
  });
});

describe("binary encode", () => {
  it("writes the same bits as the reference for every dim remainder", () => {
    const rng = new Rng(24);
    for (const dim of [1, 2, 7, 8, 9, 15, 16, 17, 1024, 1030]) {
      const tokens = 9;
      const m = Float32Array.from({ length: tokens * dim }, (_, i) => (i % 11 === 0 ? 0 : i % 13 === 0 ? NaN : i % 17 === 0 ? -0 : rng.normal()));
      expect(encode("binary", m, tokens, dim)).toEqual(binaryReference(m, tokens, dim));
    }
  });
});
