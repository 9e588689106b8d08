/**
 * Small deterministic random sources for the benchmarks and the tests (not cryptographic):
 * a seeded PRNG (mulberry32) with normal and Zipf draws, integer and string hashes to derive
 * per-item seeds, and unit-vector helpers.
 */

/** mulberry32: a fast 32-bit PRNG. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = Math.max(this.next(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
  /**
   * Zipf-like rank in [0, n): P(r) ~ 1/(r+1)^s, drawn by inverting the continuous CDF
   * (s = 1: log-uniform).
   */
  zipf(n: number, s = 1): number {
    const u = this.next();
    if (Math.abs(s - 1) < 1e-9) return Math.min(n - 1, Math.floor(Math.exp(u * Math.log(n + 1))) - 1);
    const a = 1 - s;
    const max = Math.pow(n + 1, a);
    return Math.min(n - 1, Math.floor(Math.pow(1 + u * (max - 1), 1 / a)) - 1);
  }
}

/** 32-bit integer hash (lowbias32). */
export function hashInt(x: number): number {
  x = x >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** A seed derived from several integers (order matters); never 0. */
export function seedOf(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) h = hashInt(h ^ hashInt(p));
  return h || 1;
}

/** 32-bit hash of a string (FNV-1a style, finalised). */
export function hash32(str: string, seed = 0x9e3779b9): number {
  let h = seed >>> 0;
  for (let i = 0; i < str.length; i++) {
    h = Math.imul(h ^ str.charCodeAt(i), 0x01000193) >>> 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  return h >>> 0;
}

/** A random unit vector of `dim` standard-normal coordinates from `rng`. */
export function randomUnit(rng: Rng, dim: number): Float32Array {
  const v = new Float32Array(dim);
  let s = 0;
  for (let i = 0; i < dim; i++) {
    v[i] = rng.normal();
    s += v[i]! * v[i]!;
  }
  const n = Math.sqrt(s);
  for (let i = 0; i < dim; i++) v[i] = v[i]! / n;
  return v;
}

/** out = normalize(sum of w · v[off ..]) over the parts (weight, vector, offset = 0). */
export function mixUnit(dim: number, parts: Array<[number, Float32Array, number?]>): Float32Array {
  const out = new Float32Array(dim);
  for (const [w, v, off = 0] of parts) for (let i = 0; i < dim; i++) out[i] = out[i]! + w * v[off + i]!;
  let s = 0;
  for (let i = 0; i < dim; i++) s += out[i]! * out[i]!;
  const n = Math.max(Math.sqrt(s), 1e-12);
  for (let i = 0; i < dim; i++) out[i] = out[i]! / n;
  return out;
}
