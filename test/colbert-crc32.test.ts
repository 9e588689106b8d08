/** CRC-32: the slicing-by-8 fallback and the native one against the textbook byte-at-a-time definition. */
import { describe, expect, it } from "vitest";
import { crc32, crc32Js } from "../src/util/crc32.js";
import { Rng } from "../bench/lib/rng.js";

/** The reference: reflected CRC-32 (poly 0xEDB88320), init/xorout 0xFFFFFFFF, one byte per step. */
function crc32Reference(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) {
    c ^= data[i]!;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

function randomBytes(rng: Rng, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rng.next() * 256);
  return b;
}

const text = (s: string) => new TextEncoder().encode(s);

describe("crc32", () => {
  it("gives the standard check values", () => {
    const vectors: Array<[Uint8Array, number]> = [
      [new Uint8Array(0), 0],
      [text("123456789"), 0xcbf43926],
      [text("a"), 0xe8b7be43],
      [text("The quick brown fox jumps over the lazy dog"), 0x414fa339],
      [new Uint8Array(32), 0x190a55ad],
      [new Uint8Array(32).fill(0xff), 0xff6cab0b],
    ];
    for (const [bytes, want] of vectors) {
      expect(crc32Reference(bytes)).toBe(want);
      expect(crc32Js(bytes)).toBe(want);
      expect(crc32(bytes)).toBe(want);
    }
  });

  it("agrees with the reference for lengths 0..40 at every start offset 0..8 of a subarray", () => {
    const base = randomBytes(new Rng(11), 64);
    for (let off = 0; off <= 8; off++) {
      for (let len = 0; len <= 40; len++) {
        const view = base.subarray(off, off + len);
        const want = crc32Reference(view);
        expect(crc32Js(view)).toBe(want);
        expect(crc32(view)).toBe(want);
      }
    }
  });

  it("agrees with the reference on large random buffers, unaligned subarrays and record payloads", () => {
    const rng = new Rng(12);
    for (const n of [1 << 20, 163_840 + 640, 99_999]) {
      const b = randomBytes(rng, n);
      for (const [s, e] of [[0, n], [1, n], [3, n - 5], [7, n - 1]] as const) {
        const view = b.subarray(s, e);
        const want = crc32Reference(view);
        expect(crc32Js(view)).toBe(want);
        expect(crc32(view)).toBe(want);
      }
    }
  });
});
