import { describe, expect, it } from "vitest";
import { SparseIndex } from "../src/index/sparse.js";
import { lexicalScore } from "../src/math/scores.js";
import type { SparseVector } from "../src/types.js";
import { Rng } from "../bench/lib/rng.js";

function randomSparse(r: Rng, vocab: number, nMin: number, nMax: number, quantise = false): SparseVector {
  const m = new Map<number, number>();
  const n = r.int(nMin, nMax);
  while (m.size < n) {
    const t = r.zipf(vocab, 1.05);
    // learned weights are small for frequent tokens (low ranks), larger for rare ones
    const w = quantise ? [0.1, 0.2, 0.3][r.int(0, 2)]! : 0.01 + 0.3 * (Math.log(t + 2) / Math.log(vocab + 2)) * (0.3 + 0.7 * r.next());
    m.set(t, w);
  }
  const ids = [...m.keys()].sort((a, b) => a - b);
  return { indices: Uint32Array.from(ids), values: Float32Array.from(ids, (i) => m.get(i)!) };
}

function brute(vs: Map<number, SparseVector>, q: SparseVector, k: number, accept?: (s: number) => boolean) {
  const all: [number, number][] = [];
  for (const [slot, v] of vs) {
    if (accept && !accept(slot)) continue;
    const s = lexicalScore(q, v);
    if (s > 0) all.push([slot, s]);
  }
  all.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  return all.slice(0, k);
}

function check(idx: SparseIndex, vs: Map<number, SparseVector>, q: SparseVector, k: number, accept?: (s: number) => boolean) {
  const got = idx.search(q, k, accept);
  const want = brute(vs, q, k, accept);
  expect(Array.from(got.slots)).toEqual(want.map((w) => w[0]));
  expect(Array.from(got.scores)).toEqual(want.map((w) => w[1]));
  return got;
}

describe("SparseIndex (MaxScore) equals brute force", () => {
  it("on random corpora, k from 1 to 200, with and without a filter", () => {
    const r = new Rng(42);
    const idx = new SparseIndex();
    const vs = new Map<number, SparseVector>();
    for (let s = 0; s < 3000; s++) {
      const v = randomSparse(r, 5000, 5, 60);
      idx.set(s, v);
      vs.set(s, v);
    }
    for (let t = 0; t < 60; t++) {
      const q = randomSparse(r, 5000, 1, 30);
      const k = [1, 3, 10, 50, 200][t % 5]!;
      check(idx, vs, q, k);
      check(idx, vs, q, k, (s) => s % 3 === 0);
    }
  });

  it("breaks ties by lower slot, like brute force (duplicate documents, quantised weights)", () => {
    const r = new Rng(7);
    const idx = new SparseIndex();
    const vs = new Map<number, SparseVector>();
    const base = Array.from({ length: 40 }, () => randomSparse(r, 50, 2, 8, true));
    for (let s = 0; s < 2000; s++) {
      const v = base[s % base.length]!;
      idx.set(s, v);
      vs.set(s, v);
    }
    for (let t = 0; t < 40; t++) check(idx, vs, randomSparse(r, 50, 1, 6, true), [1, 5, 17, 100][t % 4]!);
  });

  it("stays exact through deletes, replacements and slot re-use (no stale postings)", () => {
    const r = new Rng(9);
    const idx = new SparseIndex();
    const vs = new Map<number, SparseVector>();
    for (let s = 0; s < 1500; s++) {
      const v = randomSparse(r, 800, 3, 40);
      idx.set(s, v);
      vs.set(s, v);
    }
    for (let round = 0; round < 5; round++) {
      for (let j = 0; j < 300; j++) {
        const s = r.int(0, 1499);
        if (r.next() < 0.5) {
          idx.remove(s);
          vs.delete(s);
        } else {
          const v = randomSparse(r, 800, 3, 40);
          idx.set(s, v);
          vs.set(s, v);
        }
      }
      for (let t = 0; t < 15; t++) check(idx, vs, randomSparse(r, 800, 1, 20), 10);
    }
    let postings = 0;
    for (const v of vs.values()) postings += v.indices.length;
    expect(idx.postingCount).toBe(postings);
  });

  it("removeMany (batched deletes) and fromForward (load) give the same index as one-by-one removes", () => {
    const r = new Rng(21);
    const one = new SparseIndex();
    const many = new SparseIndex();
    const vs = new Map<number, SparseVector>();
    for (let s = 0; s < 1200; s++) {
      const v = randomSparse(r, 600, 3, 40);
      one.set(s, v);
      many.set(s, v);
      vs.set(s, v);
    }
    const gone = Array.from({ length: 1200 }, (_, s) => s).filter(() => r.next() < 0.4);
    for (const s of gone) {
      one.remove(s);
      vs.delete(s);
    }
    many.removeMany([...gone, gone[0]!, 5000]);
    const loaded = SparseIndex.fromForward(Array.from({ length: 1200 }, (_, s) => vs.get(s)));
    for (const idx of [one, many, loaded]) {
      expect(idx.postingCount).toBe([...vs.values()].reduce((a, v) => a + v.indices.length, 0));
      for (let t = 0; t < 12; t++) check(idx, vs, randomSparse(r, 600, 1, 20), 10);
    }
    // a loaded index keeps working through writes
    const v = randomSparse(r, 600, 3, 40);
    loaded.set(gone[1]!, v);
    vs.set(gone[1]!, v);
    loaded.removeMany([1, 2, 3].filter((s) => vs.delete(s)));
    for (let t = 0; t < 8; t++) check(loaded, vs, randomSparse(r, 600, 1, 20), 10);
  });

  it("prunes: a top-10 query reads far fewer postings than its lists hold", () => {
    const r = new Rng(11);
    const idx = new SparseIndex();
    const vs = new Map<number, SparseVector>();
    for (let s = 0; s < 20000; s++) {
      const v = randomSparse(r, 30000, 20, 80);
      idx.set(s, v);
      vs.set(s, v);
    }
    let visited = 0;
    let total = 0;
    for (let t = 0; t < 10; t++) {
      const got = check(idx, vs, randomSparse(r, 30000, 8, 24), 10);
      visited += got.postingsVisited;
      total += got.postingsTotal;
    }
    expect(visited).toBeLessThan(total * 0.5);
  });

  it("returns nothing for a query with no known token, and only positive scores", () => {
    const idx = new SparseIndex();
    idx.set(0, { indices: Uint32Array.of(5, 9), values: Float32Array.of(0.2, 0.4) });
    expect(idx.search({ indices: Uint32Array.of(6), values: Float32Array.of(1) }, 5).slots.length).toBe(0);
    expect(Array.from(idx.search({ indices: Uint32Array.of(9), values: Float32Array.of(1) }, 5).slots)).toEqual([0]);
  });
});
