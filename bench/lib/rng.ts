/** Small deterministic random sources for the benchmarks (not cryptographic). */

/** 32-bit integer hash (lowbias32), used to derive per-item seeds. */
export function hash32(x: number): number {
  x = x >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

export function seedOf(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) h = hash32(h ^ hash32(p));
  return h || 1;
}

/** mulberry32: a fast 32-bit PRNG. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 1;
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
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
  /** Zipf-like rank in [0, n): log-uniform, i.e. P(rank r) ∝ 1/(r+1). */
  zipf(n: number): number {
    return Math.min(n - 1, Math.floor(Math.exp(this.next() * Math.log(n + 1))) - 1);
  }
  /** Fisher–Yates sample of k distinct indices in [0, n). */
  sample(n: number, k: number): number[] {
    const out = new Set<number>();
    while (out.size < Math.min(k, n)) out.add(this.int(0, n - 1));
    return [...out];
  }
}

/** A random unit vector with standard-normal coordinates. */
export function randomUnit(rng: Rng, dim: number): Float32Array {
  const v = new Float32Array(dim);
  let s = 0;
  for (let i = 0; i < dim; i++) {
    const x = rng.normal();
    v[i] = x;
    s += x * x;
  }
  const n = Math.sqrt(s);
  for (let i = 0; i < dim; i++) v[i] = v[i]! / n;
  return v;
}
