import { describe, expect, it } from "vitest";
import { randomMatrix, SynthCorpus } from "../bench/lib/colbert-synth.js";
import { bytesPerToken } from "../src/multivector/codec/codec.js";
import { createCodec } from "../src/multivector/codec/codecs.js";
import { crc32, crc32Js } from "../src/util/crc32.js";
import { fromHalfBits, toHalfBits } from "../src/math/half.js";
import { maxSimSumF32 } from "../src/multivector/maxsim/kernels.js";
import { poolTokens } from "../src/multivector/pool.js";
import { colbertScore } from "../src/math/scores.js";

const CODECS = ["float32", "float16", "int8", "binary"] as const;

function roundTrip(name: (typeof CODECS)[number], m: { data: Float32Array; tokens: number; dim: number }) {
  const c = createCodec(name, m.dim);
  const payload = new Uint8Array(c.payloadBytes(m.tokens));
  c.encode(m.data, m.tokens, payload);
  const out = new Float32Array(m.tokens * m.dim);
  c.decode(payload, m.tokens, out);
  return { c, payload, out };
}

describe("float16 conversion", () => {
  it("rounds to nearest even and handles subnormals, overflow, NaN", () => {
    expect(toHalfBits(1)).toBe(0x3c00);
    expect(toHalfBits(-2)).toBe(0xc000);
    expect(toHalfBits(65504)).toBe(0x7bff);
    expect(toHalfBits(65520)).toBe(0x7c00); // halfway to the next binade rounds up to Infinity
    expect(toHalfBits(1e6)).toBe(0x7c00);
    expect(toHalfBits(2 ** -24)).toBe(0x0001);
    expect(toHalfBits(2 ** -25)).toBe(0x0000); // tie -> even (0)
    expect(toHalfBits(3 * 2 ** -25)).toBe(0x0002); // 1.5 ulp ties to even 2
    expect(toHalfBits(1 + 2 ** -11)).toBe(0x3c00); // tie between 1 and 1+2^-10 -> even
    expect(toHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(toHalfBits(-0)).toBe(0x8000);
    expect(Number.isNaN(fromHalfBits(toHalfBits(NaN)))).toBe(true);
    expect(fromHalfBits(0x7c00)).toBe(Infinity);
  });

  it("round-trips every half value exactly", () => {
    for (let h = 0; h < 0x7c00; h++) {
      expect(toHalfBits(fromHalfBits(h))).toBe(h);
      expect(toHalfBits(-fromHalfBits(h))).toBe(h | 0x8000);
    }
  });
});

describe("codecs", () => {
  const m = randomMatrix(37, 96, 7);

  it("have the documented bytes per token", () => {
    expect(CODECS.map((c) => bytesPerToken(c, 1024))).toEqual([4096, 2048, 1028, 128]);
    for (const name of CODECS) expect(createCodec(name, 1024).payloadBytes(3)).toBe(3 * bytesPerToken(name, 1024));
  });

  it("round-trip within their error bounds", () => {
    expect(Array.from(roundTrip("float32", m).out)).toEqual(Array.from(m.data));
    const f16 = roundTrip("float16", m).out;
    for (let i = 0; i < m.data.length; i++) expect(Math.abs(f16[i]! - m.data[i]!)).toBeLessThanOrEqual(Math.abs(m.data[i]!) * 2 ** -11 + 2 ** -25);
    const i8 = roundTrip("int8", m).out;
    for (let j = 0; j < m.tokens; j++) {
      let maxAbs = 0;
      for (let k = 0; k < m.dim; k++) maxAbs = Math.max(maxAbs, Math.abs(m.data[j * m.dim + k]!));
      for (let k = 0; k < m.dim; k++) expect(Math.abs(i8[j * m.dim + k]! - m.data[j * m.dim + k]!)).toBeLessThanOrEqual((maxAbs / 127) * 0.5 + 1e-7);
    }
    const bin = roundTrip("binary", m).out;
    const u = 1 / Math.sqrt(m.dim);
    for (let i = 0; i < m.data.length; i++) expect(bin[i]).toBeCloseTo(m.data[i]! > 0 ? u : -u, 6);
  });

  it("score like colbertScore on the decoded matrices (float32 exactly to 1e-5)", () => {
    const q = randomMatrix(11, 96, 8);
    for (const name of CODECS) {
      const { c, payload, out } = roundTrip(name, m);
      const s = c.maxSimSum(c.prepare(q.data, q.tokens), payload, m.tokens) / q.tokens;
      expect(Math.abs(s - colbertScore(q, { data: out, tokens: m.tokens, dim: m.dim }))).toBeLessThan(1e-5);
    }
  });

  it("int8 and float16 stay close to float32 scores; binary correlates", () => {
    const corpus = new SynthCorpus({ dim: 256, vocab: 512, topics: 8, minTokens: 16, maxTokens: 48, seed: 5 });
    const docs = Array.from({ length: 24 }, () => corpus.doc());
    const q = corpus.query(docs[0]!, 12);
    const exact = docs.map((d) => colbertScore(q, d.matrix));
    const scored = (name: (typeof CODECS)[number]) => docs.map((d) => {
      const { c, payload } = roundTrip(name, d.matrix);
      return c.maxSimSum(c.prepare(q.data, q.tokens), payload, d.matrix.tokens) / q.tokens;
    });
    scored("float16").forEach((s, i) => expect(Math.abs(s - exact[i]!)).toBeLessThan(1e-3));
    scored("int8").forEach((s, i) => expect(Math.abs(s - exact[i]!)).toBeLessThan(5e-3));
    expect(pearson(scored("binary"), exact)).toBeGreaterThan(0.9);
  });

  it("binary scores long queries (no lookup tables) the same way", () => {
    const c = createCodec("binary", 1024);
    const d = randomMatrix(5, 1024, 3), q = randomMatrix(300, 1024, 4); // tables would be 39 MB
    const payload = new Uint8Array(c.payloadBytes(5));
    c.encode(d.data, 5, payload);
    const pq = c.prepare(q.data, 300);
    expect(pq.lut).toBeUndefined();
    const out = new Float32Array(5 * 1024);
    c.decode(payload, 5, out);
    expect(Math.abs(c.maxSimSum(pq, payload, 5) / 300 - colbertScore(q, { data: out, tokens: 5, dim: 1024 }))).toBeLessThan(1e-5);
  });

  it("unknown codec -> INVALID_ARGUMENT", () => {
    expect(() => createCodec("bf16" as never, 8)).toThrowError(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
  });
});

describe("kernels", () => {
  it("blocked MaxSim equals colbertScore for every row-count remainder", () => {
    for (const [qt, dt] of [[1, 1], [3, 2], [4, 1], [5, 3], [8, 7], [9, 10]] as const) {
      const q = randomMatrix(qt, 40, qt * 31 + dt), d = randomMatrix(dt, 40, dt * 17);
      expect(Math.abs(maxSimSumF32(q.data, qt, d.data, 0, dt, 40) / qt - colbertScore(q, d))).toBeLessThan(1e-6);
      for (const name of ["int8", "binary"] as const) {
        const { c, payload, out } = roundTrip(name, d);
        const s = c.maxSimSum(c.prepare(q.data, qt), payload, dt) / qt;
        expect(Math.abs(s - colbertScore(q, { data: out, tokens: dt, dim: 40 }))).toBeLessThan(1e-5);
      }
    }
    expect(maxSimSumF32(new Float32Array(0), 0, new Float32Array(8), 0, 1, 8)).toBe(0);
  });
});

describe("crc32", () => {
  it("matches the standard check value and the JS fallback", () => {
    const check = new TextEncoder().encode("123456789");
    expect(crc32(check)).toBe(0xcbf43926);
    expect(crc32Js(check)).toBe(0xcbf43926);
    const r = randomMatrix(5, 33, 1);
    const bytes = new Uint8Array(r.data.buffer);
    expect(crc32Js(bytes)).toBe(crc32(bytes));
  });
});

describe("token pooling", () => {
  it("reduces tokens to ceil(n/poolFactor) per window, keeps rows unit, is deterministic", () => {
    const corpus = new SynthCorpus({ dim: 64, vocab: 128, topics: 4, minTokens: 40, maxTokens: 300, seed: 9 });
    for (let t = 0; t < 3; t++) {
      const d = corpus.doc().matrix;
      for (const pf of [1, 2, 3, 1.5]) {
        const p = poolTokens(d, pf);
        const expected = d.tokens <= 256 ? Math.ceil(d.tokens / pf) : Math.ceil(256 / pf) + Math.ceil((d.tokens - 256) / pf);
        expect(p.tokens).toBe(pf === 1 ? d.tokens : expected);
        for (let j = 0; j < p.tokens; j++) {
          let s = 0;
          for (let k = 0; k < 64; k++) s += p.data[j * 64 + k]! ** 2;
          expect(Math.sqrt(s)).toBeCloseTo(1, 5);
        }
        expect(Array.from(poolTokens(d, pf).data)).toEqual(Array.from(p.data));
      }
    }
  });

  it("merges exact duplicates first", () => {
    const a = randomMatrix(3, 16, 2);
    const data = new Float32Array(4 * 16);
    data.set(a.data.subarray(0, 16), 0);
    data.set(a.data.subarray(16, 32), 16);
    data.set(a.data.subarray(0, 16), 32); // row 2 duplicates row 0
    data.set(a.data.subarray(32, 48), 48);
    const p = poolTokens({ data, tokens: 4, dim: 16 }, 4 / 3);
    expect(p.tokens).toBe(3);
    for (let k = 0; k < 16; k++) expect(p.data[k]).toBeCloseTo(a.data[k]!, 6);
  });

  it("keeps MaxSim close on near-duplicate rows", () => {
    const corpus = new SynthCorpus({ dim: 128, vocab: 64, topics: 2, minTokens: 60, maxTokens: 60, seed: 4 });
    const d = corpus.doc();
    const q = corpus.query(d, 16);
    expect(Math.abs(colbertScore(q, poolTokens(d.matrix, 2)) - colbertScore(q, d.matrix))).toBeLessThan(0.05);
  });
});

function pearson(a: number[], b: number[]): number {
  const n = a.length;
  const ma = a.reduce((s, x) => s + x, 0) / n, mb = b.reduce((s, x) => s + x, 0) / n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) { sab += (a[i]! - ma) * (b[i]! - mb); saa += (a[i]! - ma) ** 2; sbb += (b[i]! - mb) ** 2; }
  return sab / Math.sqrt(saa * sbb);
}
