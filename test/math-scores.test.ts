import { describe, expect, it } from "vitest";
import { colbertScore, combineScores, denseScore, lexicalScore, maxSimRows } from "../src/math/scores.js";
import { normalizeInPlace, normalizeRowsInPlace } from "../src/math/vector.js";
import { DEFAULT_WEIGHTS } from "../src/types.js";

const f32 = (a: number[]) => Float32Array.from(a);

/** Plain-loop reference of the spec's colbert score, to check the blocked kernel against. */
function naiveColbert(q: number[][], p: number[][]): number {
  let s = 0;
  for (const qi of q) s += Math.max(...p.map((pj) => pj.reduce((acc, v, k) => acc + v * qi[k]!, 0)));
  return s / q.length;
}

describe("score maths", () => {
  it("normalises like torch (x / max(|x|, 1e-12)) and leaves a zero vector at zero", () => {
    const v = f32([3, 4]);
    normalizeInPlace(v);
    expect(Array.from(v)).toEqual([Math.fround(0.6), Math.fround(0.8)]);
    const z = f32([0, 0, 0]);
    normalizeInPlace(z);
    expect(Array.from(z)).toEqual([0, 0, 0]);
  });

  it("dense score is the inner product", () => {
    expect(denseScore(f32([0.6, 0.8]), f32([0.8, 0.6]))).toBeCloseTo(0.96, 6);
  });

  it("lexical score sums w_q*w_p over shared ids only", () => {
    const q = { indices: Uint32Array.from([5, 9, 40]), values: f32([0.5, 0.25, 1]) };
    const p = { indices: Uint32Array.from([4, 9, 40, 41]), values: f32([7, 0.5, 0.2, 3]) };
    expect(lexicalScore(q, p)).toBeCloseTo(0.25 * 0.5 + 1 * 0.2, 6);
    expect(lexicalScore(q, { indices: new Uint32Array(0), values: new Float32Array(0) })).toBe(0);
  });

  it("colbert score matches a plain max-sim loop for every query length (blocked and tail rows)", () => {
    const dim = 7;
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
    for (const nq of [1, 3, 4, 5, 9]) {
      const q = Array.from({ length: nq }, () => Array.from({ length: dim }, rnd));
      const p = Array.from({ length: 6 }, () => Array.from({ length: dim }, rnd));
      const qm = { data: f32(q.flat()), tokens: nq, dim };
      const pm = { data: f32(p.flat()), tokens: 6, dim };
      expect(colbertScore(qm, pm)).toBeCloseTo(naiveColbert(q, p), 5);
      expect(maxSimRows(qm, pm).length).toBe(nq);
    }
  });

  it("colbert score of normalised identical matrices is 1, and 0 against an empty passage", () => {
    const m = { data: f32([1, 2, 3, 4, 5, 6]), tokens: 2, dim: 3 };
    normalizeRowsInPlace(m.data, 3);
    expect(colbertScore(m, m)).toBeCloseTo(1, 6);
    expect(colbertScore(m, { data: new Float32Array(0), tokens: 0, dim: 3 })).toBe(0);
  });

  it("combines with the spec's weighted mean over the modes present", () => {
    const s = { dense: 0.5, sparse: 0.1, colbert: 0.7 };
    expect(combineScores(s, DEFAULT_WEIGHTS)).toBeCloseTo((0.4 * 0.5 + 0.2 * 0.1 + 0.4 * 0.7) / 1.0, 6);
    expect(combineScores({ dense: 0.5, colbert: 0.7 }, DEFAULT_WEIGHTS)).toBeCloseTo((0.2 + 0.28) / 0.8, 6);
    expect(combineScores({ sparse: 2 }, { dense: 1, sparse: 0, colbert: 1 })).toBe(0);
  });
});
