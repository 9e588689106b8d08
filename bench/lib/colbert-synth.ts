/**
 * Synthetic ColBERT matrices with BGE-M3-like statistics, seeded and deterministic: unit rows
 * sharing a common direction (token vectors of one model are anisotropic), drawn from a Zipf
 * vocabulary plus per-topic words, with per-occurrence contextual noise — so near-duplicate
 * rows exist (pooling has something to merge) and MaxSim separates relevant documents.
 * Queries are rows of a source document re-drawn with fresh noise, plus a few foreign rows.
 */
import { mulberry32 } from "../../src/math/rng.js";
import type { MultiVector } from "../../src/types.js";

export { mulberry32 };

export function gaussian(rnd: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
}

/** A matrix of `tokens` random unit rows (no structure). */
export function randomMatrix(tokens: number, dim: number, seed: number): MultiVector {
  const g = gaussian(mulberry32(seed));
  const data = new Float32Array(tokens * dim);
  for (let i = 0; i < data.length; i++) data[i] = g();
  normalizeRows(data, dim);
  return { data, tokens, dim };
}

export function normalizeRows(m: Float32Array, dim: number): void {
  for (let o = 0; o < m.length; o += dim) {
    let s = 0;
    for (let k = 0; k < dim; k++) s += m[o + k]! * m[o + k]!;
    const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
    for (let k = 0; k < dim; k++) m[o + k] = m[o + k]! * inv;
  }
}

export interface SynthOptions {
  dim?: number;
  vocab?: number;
  topics?: number;
  wordsPerTopic?: number;
  minTokens?: number;
  maxTokens?: number;
  seed?: number;
}

export interface SynthDoc {
  topic: number;
  ids: Uint32Array;
  matrix: MultiVector;
}

export class SynthCorpus {
  readonly dim: number;
  private readonly protos: Float32Array;
  private readonly mu: Float32Array;
  private readonly o: Required<SynthOptions>;
  private readonly rnd: () => number;
  private readonly g: () => number;
  private readonly zipfCdf: Float64Array;

  constructor(options: SynthOptions = {}) {
    this.o = { dim: 1024, vocab: 4096, topics: 50, wordsPerTopic: 60, minTokens: 64, maxTokens: 256, seed: 1, ...options };
    this.dim = this.o.dim;
    this.rnd = mulberry32(this.o.seed);
    this.g = gaussian(this.rnd);
    const { dim, vocab } = this.o;
    this.protos = new Float32Array(vocab * dim);
    for (let i = 0; i < this.protos.length; i++) this.protos[i] = this.g();
    normalizeRows(this.protos, dim);
    this.mu = new Float32Array(dim);
    for (let k = 0; k < dim; k++) this.mu[k] = this.g();
    normalizeRows(this.mu, dim);
    this.zipfCdf = new Float64Array(vocab);
    let s = 0;
    for (let r = 0; r < vocab; r++) { s += 1 / (r + 1); this.zipfCdf[r] = s; }
    for (let r = 0; r < vocab; r++) this.zipfCdf[r] = this.zipfCdf[r]! / s;
  }

  private zipf(): number {
    const u = this.rnd();
    let lo = 0, hi = this.zipfCdf.length - 1;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (this.zipfCdf[mid]! < u) lo = mid + 1; else hi = mid; }
    return lo;
  }

  private topicWord(topic: number): number {
    return (topic * 7919 + Math.floor(this.rnd() * this.o.wordsPerTopic) * 104729) % this.o.vocab;
  }

  /** Writes the contextual vector of token `id` into `out` at row `row`. */
  private row(id: number, out: Float32Array, row: number, noise: number): void {
    const { dim } = this.o;
    const o = row * dim;
    for (let k = 0; k < dim; k++) out[o + k] = 0.6 * this.mu[k]! + this.protos[id * dim + k]! + (noise * this.g()) / Math.sqrt(dim) * 3;
    normalizeRows(out.subarray(o, o + dim), dim);
  }

  doc(): SynthDoc {
    const { minTokens, maxTokens, topics, dim } = this.o;
    const topic = Math.floor(this.rnd() * topics);
    const tokens = minTokens + Math.floor(this.rnd() * (maxTokens - minTokens + 1));
    const ids = new Uint32Array(tokens);
    const data = new Float32Array(tokens * dim);
    for (let j = 0; j < tokens; j++) {
      ids[j] = this.rnd() < 0.4 ? this.topicWord(topic) : this.zipf();
      this.row(ids[j]!, data, j, 0.2);
    }
    return { topic, ids, matrix: { data, tokens, dim } };
  }

  /** A query of `rows` rows: ~80% re-drawn from `source`'s tokens (noisier), the rest foreign. */
  query(source: SynthDoc, rows: number): MultiVector {
    const { dim } = this.o;
    const data = new Float32Array(rows * dim);
    for (let i = 0; i < rows; i++) {
      const id = this.rnd() < 0.8 ? source.ids[Math.floor(this.rnd() * source.ids.length)]! : this.zipf();
      this.row(id, data, i, 0.4);
    }
    return { data, tokens: rows, dim };
  }

  int(lo: number, hi: number): number {
    return lo + Math.floor(this.rnd() * (hi - lo + 1));
  }
}
