/**
 * A synthetic corpus with BGE-M3-like statistics, generated deterministically document by
 * document (so a 100k-document corpus never has to be held in memory, and a second process
 * regenerates exactly the same documents).
 *
 * Model of one document d in cluster k (clusters of ~50 documents):
 * - text: n_c tokens (64..256) drawn from n_s distinct token ids (20..200, n_s <= n_c); half of
 *   the ids come from the cluster's topic vocabulary, half from a Zipf-like law over the whole
 *   vocabulary (250002 ids, specials excluded). The text is the ids as words "t<id>".
 * - sparse: the n_s distinct ids with weights in [0.03, 0.33] (relu outputs of BGE-M3 are of
 *   this size).
 * - dense: normalize(a·G + b·C_k + c·noise) — G a global direction (BGE-M3 embeddings are
 *   anisotropic: unrelated texts score ~0.3), C_k the cluster centroid.
 * - ColBERT: one row per text token t_j: normalize(α·T[t_j] + β·dense + γ·noise_j), T a table of
 *   token prototypes, so that lexical overlap, dense similarity and MaxSim agree as they do
 *   for the real model.
 * A query picks a target document, takes ~60% of its ids from that document, a dense vector at
 * cosine ~0.8 from the target's, and 16..32 ColBERT rows built the same way.
 */
import type { M3Encoding, MultiVector, SparseVector } from "../../src/types.js";
import { hash32, randomUnit, Rng, seedOf } from "./rng.js";

export interface CorpusSpec {
  docs: number;
  /** Dense and ColBERT dimension. @default 1024 */
  dim?: number;
  /** @default 250002 */
  vocab?: number;
  /** @default 7 */
  seed?: number;
  /** @default docs / 50 */
  clusters?: number;
}

export interface SyntheticDoc {
  index: number;
  id: string;
  text: string;
  cluster: number;
  encoding: Required<Pick<M3Encoding, "dense" | "sparse" | "colbert">> & { tokenCount: number };
}

export interface SyntheticQuery {
  index: number;
  target: number;
  text: string;
  encoding: Required<Pick<M3Encoding, "dense" | "sparse" | "colbert">> & { tokenCount: number };
}

const SPECIAL_IDS = 4; // <s> <pad> </s> <unk>; <mask> is the last id
const PROTOTYPES = 8192;
const NOISE_POOL = 1 << 20;
const TOPIC_WORDS = 3000;
const DENSE_MIX = { global: 0.55, cluster: 0.6, noise: 0.6 };
const COLBERT_MIX = { token: 0.6, dense: 0.5, noise: 0.6 };
const QUERY_DENSE_NOISE = 0.7;

export class SyntheticCorpus {
  readonly docs: number;
  readonly dim: number;
  readonly vocab: number;
  readonly seed: number;
  readonly clusters: number;
  private readonly global: Float32Array;
  private readonly centroids: Float32Array[];
  private readonly prototypes: Float32Array;
  /** iid uniform values; a window of `dim` values at a random offset is a noise vector of norm ~1. */
  private readonly noise: Float32Array;

  constructor(spec: CorpusSpec) {
    this.docs = spec.docs;
    this.dim = spec.dim ?? 1024;
    this.vocab = spec.vocab ?? 250002;
    this.seed = spec.seed ?? 7;
    this.clusters = Math.max(1, spec.clusters ?? Math.round(spec.docs / 50));
    const rng = new Rng(seedOf(this.seed, 0xc0));
    this.global = randomUnit(rng, this.dim);
    this.centroids = Array.from({ length: this.clusters }, () => randomUnit(rng, this.dim));
    this.prototypes = new Float32Array(PROTOTYPES * this.dim);
    for (let p = 0; p < PROTOTYPES; p++) this.prototypes.set(randomUnit(rng, this.dim), p * this.dim);
    this.noise = new Float32Array(NOISE_POOL + this.dim);
    const scale = Math.sqrt(3 / this.dim); // uniform[-1,1] has variance 1/3
    for (let i = 0; i < this.noise.length; i++) this.noise[i] = (2 * rng.next() - 1) * scale;
  }

  clusterOf(i: number): number {
    return hash32(seedOf(this.seed, 0xc1, i)) % this.clusters;
  }

  private globalToken(rank: number): number {
    const span = this.vocab - SPECIAL_IDS - 1;
    return SPECIAL_IDS + (hash32(rank ^ 0x5bd1e995) % span);
  }

  private topicToken(cluster: number, rank: number): number {
    const span = this.vocab - SPECIAL_IDS - 1;
    return SPECIAL_IDS + (hash32(seedOf(this.seed, cluster, rank)) % span);
  }

  private drawToken(rng: Rng, cluster: number): number {
    return rng.next() < 0.5 ? this.topicToken(cluster, rng.zipf(TOPIC_WORDS)) : this.globalToken(rng.zipf(this.vocab));
  }

  /** out = normalize(Σ parts) where a part is (weight, source array, offset). */
  private mix(out: Float32Array, outOff: number, parts: Array<[number, Float32Array, number]>): void {
    const d = this.dim;
    out.fill(0, outOff, outOff + d);
    for (const [w, src, off] of parts) for (let i = 0; i < d; i++) out[outOff + i] += w * src[off + i]!;
    let s = 0;
    for (let i = 0; i < d; i++) s += out[outOff + i]! * out[outOff + i]!;
    const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
    for (let i = 0; i < d; i++) out[outOff + i] = out[outOff + i]! * inv;
  }

  private noiseOffset(rng: Rng): number {
    return Math.floor(rng.next() * NOISE_POOL);
  }

  private colbertRows(rng: Rng, tokens: number[], dense: Float32Array): MultiVector {
    const d = this.dim;
    const data = new Float32Array(tokens.length * d);
    const T = this.prototypes;
    const N = this.noise;
    const { token: a, dense: b, noise: c } = COLBERT_MIX;
    for (let j = 0; j < tokens.length; j++) {
      const p = (hash32(tokens[j]!) % PROTOTYPES) * d;
      const o = this.noiseOffset(rng);
      const r = j * d;
      let s = 0;
      for (let i = 0; i < d; i++) {
        const x = a * T[p + i]! + b * dense[i]! + c * N[o + i]!;
        data[r + i] = x;
        s += x * x;
      }
      const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
      for (let i = 0; i < d; i++) data[r + i] = data[r + i]! * inv;
    }
    return { data, tokens: tokens.length, dim: d };
  }

  private sparseOf(ids: number[], weights: number[]): SparseVector {
    const order = ids.map((_, i) => i).sort((a, b) => ids[a]! - ids[b]!);
    return { indices: Uint32Array.from(order.map((i) => ids[i]!)), values: Float32Array.from(order.map((i) => weights[i]!)) };
  }

  /** Distinct ids, their weights and the token sequence of document i (no vectors). */
  private docTokens(i: number): { rng: Rng; cluster: number; ids: number[]; weights: number[]; seq: number[] } {
    const rng = new Rng(seedOf(this.seed, 0xd0c, i));
    const cluster = this.clusterOf(i);
    const nc = rng.int(64, 256);
    const ns = Math.min(rng.int(20, 200), nc);
    const set = new Set<number>();
    while (set.size < ns) set.add(this.drawToken(rng, cluster));
    const ids = [...set];
    const weights = ids.map(() => {
      const u = rng.next();
      return 0.03 + 0.3 * u * u;
    });
    const seq = ids.slice();
    while (seq.length < nc) seq.push(ids[rng.zipf(ids.length)]!);
    for (let j = seq.length - 1; j > 0; j--) {
      const k = rng.int(0, j);
      [seq[j], seq[k]] = [seq[k]!, seq[j]!];
    }
    return { rng, cluster, ids, weights, seq };
  }

  /** Document i; with `colbert: false` its ColBERT matrix is left empty (0 rows), which is much faster. */
  doc(i: number, opts: { colbert?: boolean } = {}): SyntheticDoc {
    const { rng, cluster, ids, weights, seq } = this.docTokens(i);
    const dense = new Float32Array(this.dim);
    this.mix(dense, 0, [
      [DENSE_MIX.global, this.global, 0],
      [DENSE_MIX.cluster, this.centroids[cluster]!, 0],
      [DENSE_MIX.noise, this.noise, this.noiseOffset(rng)],
    ]);
    const colbert = opts.colbert === false ? { data: new Float32Array(0), tokens: 0, dim: this.dim } : this.colbertRows(rng, seq, dense);
    return {
      index: i,
      id: docId(i),
      text: seq.map((t) => `t${t}`).join(" "),
      cluster,
      encoding: { dense, sparse: this.sparseOf(ids, weights), colbert, tokenCount: seq.length + 2 },
    };
  }

  /** Query q (independent of the documents generated so far; deterministic). */
  query(q: number): SyntheticQuery {
    const rng = new Rng(seedOf(this.seed, 0x9e7, q));
    const target = rng.int(0, this.docs - 1);
    const t = this.docTokens(target);
    const nq = rng.int(16, 32);
    const nDistinct = rng.int(6, Math.min(16, nq));
    const set = new Set<number>();
    while (set.size < nDistinct) {
      set.add(rng.next() < 0.6 ? t.ids[rng.int(0, t.ids.length - 1)]! : this.drawToken(rng, t.cluster));
    }
    const ids = [...set];
    const weights = ids.map(() => 0.05 + 0.3 * rng.next());
    const seq = ids.slice();
    while (seq.length < nq) seq.push(ids[rng.int(0, ids.length - 1)]!);
    const targetDense = this.doc(target, { colbert: false }).encoding.dense;
    const dense = new Float32Array(this.dim);
    this.mix(dense, 0, [
      [1, targetDense, 0],
      [QUERY_DENSE_NOISE, this.noise, this.noiseOffset(rng)],
    ]);
    return {
      index: q,
      target,
      text: seq.map((x) => `t${x}`).join(" "),
      encoding: { dense, sparse: this.sparseOf(ids, weights), colbert: this.colbertRows(rng, seq, dense), tokenCount: seq.length + 2 },
    };
  }
}

export function docId(i: number): string {
  return `d${i}`;
}
