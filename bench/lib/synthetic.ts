/**
 * A synthetic corpus with BGE-M3-like statistics, for the benchmarks and the tests (no model
 * needed). Deterministic and document by document: `doc(i)` depends only on (spec, i), so a
 * 100k-document corpus never has to be held in memory and another process regenerates exactly
 * the same documents.
 *
 * Model of document i in cluster k = i mod clusters (clusters of ~50 documents, 8 sub-topics each):
 * - text: n_c tokens (64..256) drawn from n_s distinct token ids (20..200, n_s <= n_c); half of
 *   the ids from the cluster's topic vocabulary, half Zipf over the whole vocabulary (250002 ids,
 *   specials excluded). The text is the ids as words "t<id>".
 * - sparse: the n_s distinct ids, weights in [0.03, 0.33], rarer ids heavier (BGE-M3's relu
 *   outputs are of this size).
 * - dense: normalize(0.55·G + 0.6·C_k + 0.45·S_ks + 0.35·noise): G a global direction (BGE-M3
 *   embeddings are anisotropic: unrelated texts score ~0.3, same topic ~0.65, same sub-topic
 *   ~0.85), C_k the cluster centroid, S_ks a sub-topic. Most of the variance lives in the topic
 *   directions, so reducing the dimension for CI keeps the score statistics.
 * - ColBERT: one unit row per text token t_j: normalize(0.6·P[t_j] + 0.5·dense + 0.35·noise_j),
 *   P a table of token prototypes, so that lexical overlap, dense similarity and MaxSim agree as
 *   they do for the real model. `colbertTokens: [lo, hi]` draws the row count from that range
 *   instead (rows cycle through the text), to shrink CI corpora.
 * - query q, `queries: "from-docs"` (the default): a target document; ~60% of its ids (weights
 *   within ±30% of the document's) plus Zipf ids (8..24 distinct), a dense vector at cosine ~0.8
 *   to the target's, 16..32 ColBERT rows built the same way. All three modes point at the target,
 *   so they agree.
 * - query q, `queries: "independent"`: no target document; three clusters drawn independently,
 *   one per mode. The text (8..24 distinct ids, ~60% from the topic vocabulary of cluster k_s,
 *   the rest Zipf) gives the sparse weights and the ColBERT rows' token part; the dense vector is
 *   a fresh vector of cluster k_d, less topical than a document's (QUERY_DENSE_MIX: its best
 *   document scores ~0.55), and the ColBERT rows' contextual part a fresh document-like vector
 *   of cluster k_c. So the modes disagree (at 4k documents, 11% of the exhaustive fused top-10
 *   lie outside the exact dense top-100 ∪ sparse top-100),
 *   as they do for a model whose heads are not trained together (or for real queries whose
 *   words, topic and phrasing point different ways), and a document high in one mode only can
 *   enter the fused top-10.
 * Noise vectors are windows of one pool of uniform values (norm ~1), which keeps generation of
 * 1024-dimensional corpora fast.
 */
import type { M3Encoding, ModelFingerprint, MultiVector, SparseVector } from "../../src/types.js";
import { hashInt, randomUnit, Rng, seedOf } from "./rng.js";

export interface SyntheticSpec {
  docs: number;
  /** Queries `generateSyntheticCorpus` makes. @default 0 */
  queries?: number;
  /** Dense and ColBERT dimension, unless set apart. @default 1024 */
  dim?: number;
  /** @default dim */
  denseDim?: number;
  /** @default dim */
  colbertDim?: number;
  /** ColBERT rows per document, inclusive range. @default one row per text token (64..256) */
  colbertTokens?: [number, number];
  /** @default 250002 */
  vocab?: number;
  /** @default 7 */
  seed?: number;
  /** @default round(docs / 50) */
  clusters?: number;
  /**
   * How queries relate to the documents: `"from-docs"` cuts each query from a target document
   * (the three modes agree); `"independent"` draws each mode's signal from its own cluster (the
   * modes disagree; see the header). @default "from-docs"
   */
  queryModel?: QueryModel;
}

export type QueryModel = "from-docs" | "independent";

export type ResolvedSpec = Required<Omit<SyntheticSpec, "colbertTokens" | "dim">> & { colbertTokens: [number, number] | null };

type Encoding = Required<M3Encoding>;

export interface SyntheticDoc {
  index: number;
  id: string;
  /** The token ids as words "t<id>" (also `pageContent`). */
  text: string;
  pageContent: string;
  cluster: number;
  metadata: { cluster: number; parity: "even" | "odd"; n: number };
  encoding: Encoding;
}

/**
 * A query: its encoding's fields at the top level (it can be passed to `search` as is) and as
 * `encoding`. `target` is the document it was cut from (-1 for an independent query).
 */
export type SyntheticQuery = Encoding & { index: number; target: number; text: string; encoding: Encoding };

/** A whole corpus in memory (tests). */
export interface SyntheticCorpusData {
  docs: SyntheticDoc[];
  queries: SyntheticQuery[];
  fingerprint: ModelFingerprint;
  spec: ResolvedSpec;
}

const SPECIAL_IDS = 4; // <s> <pad> </s> <unk>; <mask> is the last id
const TOPIC_WORDS = 2000;
const SUBTOPICS = 8;
const PROTOTYPES = 8192;
const NOISE_POOL = 1 << 20;
const DENSE_MIX = { global: 0.55, cluster: 0.6, subtopic: 0.45, noise: 0.35 };
/**
 * An independent query's dense vector: a short text's, less topical than a document's (its best
 * document scores ~0.55, not ~0.9), so the dense mode does not outweigh the other two.
 */
const QUERY_DENSE_MIX = { global: 0.55, cluster: 0.3, subtopic: 0.2, noise: 0.8 };
const COLBERT_MIX = { token: 0.6, dense: 0.5, noise: 0.35 };
const QUERY_DENSE_NOISE = 0.75;

export function docId(i: number): string {
  return `doc-${i}`;
}

export class SyntheticCorpus {
  readonly spec: ResolvedSpec;
  readonly docs: number;
  /** The dense dimension (= the model's hidden size). */
  readonly dim: number;
  readonly colbertDim: number;
  readonly vocab: number;
  readonly seed: number;
  readonly clusters: number;
  readonly fingerprint: ModelFingerprint;
  private readonly global: Float32Array;
  private readonly centroids: Float32Array[];
  private readonly subtopics: Float32Array[];
  private readonly prototypes: Float32Array;
  /** iid uniform values of variance 1; a window of d values times 1/sqrt(d) is a noise vector of norm ~1. */
  private readonly noise: Float32Array;

  constructor(spec: SyntheticSpec) {
    const dim = spec.dim ?? 1024;
    this.spec = {
      docs: spec.docs,
      queries: spec.queries ?? 0,
      denseDim: spec.denseDim ?? dim,
      colbertDim: spec.colbertDim ?? dim,
      colbertTokens: spec.colbertTokens ?? null,
      vocab: spec.vocab ?? 250002,
      seed: spec.seed ?? 7,
      clusters: Math.max(1, spec.clusters ?? Math.round(spec.docs / 50)),
      queryModel: spec.queryModel ?? "from-docs",
    };
    if (this.spec.queryModel !== "from-docs" && this.spec.queryModel !== "independent") {
      throw new Error(`queryModel must be "from-docs" or "independent"; got ${String(this.spec.queryModel)}`);
    }
    const s = this.spec;
    this.docs = s.docs;
    this.dim = s.denseDim;
    this.colbertDim = s.colbertDim;
    this.vocab = s.vocab;
    this.seed = s.seed;
    this.clusters = s.clusters;
    this.fingerprint = { layout: "synthetic", hiddenSize: s.denseDim, vocabSize: s.vocab, tokenizerSha256: `synthetic-${s.seed}` };
    const rng = new Rng(seedOf(s.seed, 0xc0));
    this.global = randomUnit(rng, s.denseDim);
    this.centroids = Array.from({ length: s.clusters }, () => randomUnit(rng, s.denseDim));
    this.subtopics = Array.from({ length: s.clusters * SUBTOPICS }, () => randomUnit(rng, s.denseDim));
    this.prototypes = new Float32Array(PROTOTYPES * s.colbertDim);
    for (let p = 0; p < PROTOTYPES; p++) this.prototypes.set(randomUnit(rng, s.colbertDim), p * s.colbertDim);
    this.noise = new Float32Array(NOISE_POOL + Math.max(s.denseDim, s.colbertDim));
    for (let i = 0; i < this.noise.length; i++) this.noise[i] = (2 * rng.next() - 1) * Math.sqrt(3);
  }

  clusterOf(i: number): number {
    return i % this.clusters;
  }

  /** The document query `q` is built from (-1 for independent queries). */
  targetOf(q: number): number {
    if (this.spec.queryModel === "independent") return -1;
    return new Rng(seedOf(this.seed, 0x9e7, q)).int(0, this.docs - 1);
  }

  /** Document i; with `colbert: false` its ColBERT matrix is left empty (0 rows), which is much faster. */
  doc(i: number, opts: { colbert?: boolean } = {}): SyntheticDoc {
    const d = this.spec.denseDim;
    const rng = new Rng(seedOf(this.seed, 0xd0c, i));
    const cluster = this.clusterOf(i);
    const nc = rng.int(64, 256);
    const ns = Math.min(rng.int(20, 200), nc);
    const weights = new Map<number, number>();
    while (weights.size < ns) {
      const topical = rng.next() < 0.5;
      const rank = topical ? rng.zipf(TOPIC_WORDS) : rng.zipf(this.vocab - SPECIAL_IDS - 1, 1.1);
      const id = topical ? this.topicToken(cluster, rank) : this.globalToken(rank);
      if (!weights.has(id)) weights.set(id, weightOf(topical ? rank * 20 : rank, rng));
    }
    const ids = [...weights.keys()];
    const seq = ids.slice();
    while (seq.length < nc) seq.push(ids[rng.zipf(ids.length)]!);
    for (let j = seq.length - 1; j > 0; j--) {
      const k = rng.int(0, j);
      [seq[j], seq[k]] = [seq[k]!, seq[j]!];
    }
    const sub = this.subtopics[cluster * SUBTOPICS + rng.int(0, SUBTOPICS - 1)]!;
    const dense = new Float32Array(d);
    mixInto(dense, 0, d, [
      [DENSE_MIX.global, this.global, 0],
      [DENSE_MIX.cluster, this.centroids[cluster]!, 0],
      [DENSE_MIX.subtopic, sub, 0],
      [DENSE_MIX.noise / Math.sqrt(d), this.noise, this.noiseOffset(rng)],
    ]);
    const range = this.spec.colbertTokens;
    const rows = range === null ? nc : rng.int(range[0], range[1]);
    const colbert = opts.colbert === false ? { data: new Float32Array(0), tokens: 0, dim: this.colbertDim } : this.colbertRows(rng, seq, dense, rows);
    const text = seq.map((t) => `t${t}`).join(" ");
    return {
      index: i,
      id: docId(i),
      text,
      pageContent: text,
      cluster,
      metadata: { cluster, parity: i % 2 === 0 ? "even" : "odd", n: i },
      encoding: { dense, sparse: toSparse(weights), colbert, tokenCount: rows + 1 },
    };
  }

  /** Query q (pass its target document when already generated; otherwise it is regenerated without ColBERT rows). */
  query(q: number, targetDoc?: SyntheticDoc): SyntheticQuery {
    if (this.spec.queryModel === "independent") return this.independentQuery(q);
    const d = this.spec.denseDim;
    const rng = new Rng(seedOf(this.seed, 0x9e7, q));
    const target = rng.int(0, this.docs - 1);
    const td = (targetDoc ?? this.doc(target, { colbert: false })).encoding;
    const weights = new Map<number, number>();
    const n = rng.int(8, 24);
    for (let j = 0; j < td.sparse.indices.length && weights.size < n * 0.6; j++) {
      // the same model weighs a token similarly in the query: frequent tokens stay light
      if (rng.next() < 0.5) weights.set(td.sparse.indices[j]!, Math.min(0.33, td.sparse.values[j]! * (0.7 + 0.6 * rng.next())));
    }
    while (weights.size < n) {
      const rank = rng.zipf(this.vocab - SPECIAL_IDS - 1, 1.1);
      weights.set(this.globalToken(rank), weightOf(rank, rng));
    }
    const ids = [...weights.keys()];
    const nq = rng.int(16, 32);
    const seq = ids.slice(0, nq);
    while (seq.length < nq) seq.push(ids[rng.int(0, ids.length - 1)]!);
    const dense = new Float32Array(d);
    mixInto(dense, 0, d, [
      [1, td.dense, 0],
      [QUERY_DENSE_NOISE / Math.sqrt(d), this.noise, this.noiseOffset(rng)],
    ]);
    const encoding: Encoding = { dense, sparse: toSparse(weights), colbert: this.colbertRows(rng, seq, dense, nq), tokenCount: nq + 1 };
    return { ...encoding, index: q, target, text: seq.map((t) => `t${t}`).join(" "), encoding };
  }

  /** Query q of the "independent" model: dense, text and ColBERT context from three clusters. */
  private independentQuery(q: number): SyntheticQuery {
    const rng = new Rng(seedOf(this.seed, 0x1d9, q));
    const kd = rng.int(0, this.clusters - 1);
    const ks = rng.int(0, this.clusters - 1);
    const kc = rng.int(0, this.clusters - 1);
    const weights = new Map<number, number>();
    const n = rng.int(8, 24);
    while (weights.size < n) {
      const topical = rng.next() < 0.6;
      const rank = topical ? rng.zipf(TOPIC_WORDS) : rng.zipf(this.vocab - SPECIAL_IDS - 1, 1.1);
      const id = topical ? this.topicToken(ks, rank) : this.globalToken(rank);
      if (!weights.has(id)) weights.set(id, weightOf(topical ? rank * 20 : rank, rng));
    }
    const ids = [...weights.keys()];
    const nq = rng.int(16, 32);
    const seq = ids.slice(0, nq);
    while (seq.length < nq) seq.push(ids[rng.int(0, ids.length - 1)]!);
    const dense = this.clusterVector(rng, kd, QUERY_DENSE_MIX);
    const context = this.clusterVector(rng, kc, DENSE_MIX);
    const encoding: Encoding = { dense, sparse: toSparse(weights), colbert: this.colbertRows(rng, seq, context, nq), tokenCount: nq + 1 };
    return { ...encoding, index: q, target: -1, text: seq.map((t) => `t${t}`).join(" "), encoding };
  }

  /** A fresh dense vector of cluster k, mixed like a document's. */
  private clusterVector(rng: Rng, k: number, mix: typeof DENSE_MIX): Float32Array {
    const d = this.spec.denseDim;
    const v = new Float32Array(d);
    mixInto(v, 0, d, [
      [mix.global, this.global, 0],
      [mix.cluster, this.centroids[k]!, 0],
      [mix.subtopic, this.subtopics[k * SUBTOPICS + rng.int(0, SUBTOPICS - 1)]!, 0],
      [mix.noise / Math.sqrt(d), this.noise, this.noiseOffset(rng)],
    ]);
    return v;
  }

  private globalToken(rank: number): number {
    return SPECIAL_IDS + (hashInt(rank ^ 0x5bd1e995) % (this.vocab - SPECIAL_IDS - 1));
  }

  private topicToken(cluster: number, rank: number): number {
    return SPECIAL_IDS + (hashInt(seedOf(this.seed, cluster, rank)) % (this.vocab - SPECIAL_IDS - 1));
  }

  private noiseOffset(rng: Rng): number {
    return Math.floor(rng.next() * NOISE_POOL);
  }

  /** `rows` ColBERT rows for the token sequence `seq` (cycled) around `dense`. */
  private colbertRows(rng: Rng, seq: number[], dense: Float32Array, rows: number): MultiVector {
    const c = this.colbertDim;
    const dproj = dense.length === c ? dense : foldProject(dense, c);
    const data = new Float32Array(rows * c);
    const noiseW = COLBERT_MIX.noise / Math.sqrt(c);
    for (let j = 0; j < rows; j++) {
      const p = (hashInt(seq[j % seq.length]!) % PROTOTYPES) * c;
      mixInto(data, j * c, c, [
        [COLBERT_MIX.token, this.prototypes, p],
        [COLBERT_MIX.dense, dproj, 0],
        [noiseW, this.noise, this.noiseOffset(rng)],
      ]);
    }
    return { data, tokens: rows, dim: c };
  }
}

/** Document by document generation (for corpora too big to hold). */
export function createSyntheticGenerator(spec: SyntheticSpec): SyntheticCorpus {
  return new SyntheticCorpus(spec);
}
export type SyntheticGenerator = SyntheticCorpus;

/** The corpus in memory: `spec.docs` documents and `spec.queries` queries; same spec, same corpus. */
export function generateSyntheticCorpus(spec: SyntheticSpec): SyntheticCorpusData {
  const g = new SyntheticCorpus(spec);
  const docs = Array.from({ length: g.docs }, (_, i) => g.doc(i));
  const queries = Array.from({ length: g.spec.queries }, (_, q) => g.query(q, docs[g.targetOf(q)]));
  return { docs, queries, fingerprint: g.fingerprint, spec: g.spec };
}

/** A sparse weight of a token of Zipf rank `rank`: rarer tokens are heavier. */
function weightOf(rank: number, rng: Rng): number {
  return Math.min(0.33, 0.03 + 0.05 * Math.log10(rank + 10) + 0.08 * rng.next());
}

function toSparse(w: Map<number, number>): SparseVector {
  const ids = [...w.keys()].sort((a, b) => a - b);
  return { indices: Uint32Array.from(ids), values: Float32Array.from(ids, (t) => w.get(t)!) };
}

/** out[o .. o+d) = normalize(sum of weight · src[off ..]) over the parts. */
function mixInto(out: Float32Array, o: number, d: number, parts: Array<[number, Float32Array, number]>): void {
  out.fill(0, o, o + d);
  for (const [w, src, off] of parts) for (let i = 0; i < d; i++) out[o + i] = out[o + i]! + w * src[off + i]!;
  let s = 0;
  for (let i = 0; i < d; i++) s += out[o + i]! * out[o + i]!;
  const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
  for (let i = 0; i < d; i++) out[o + i] = out[o + i]! * inv;
}

/** A fixed projection of `v` to `dim` dims (folding with signs), normalised. */
function foldProject(v: Float32Array, dim: number): Float32Array {
  const out = new Float32Array(dim);
  for (let i = 0; i < v.length; i++) out[i % dim] = out[i % dim]! + v[i]! * (((i * 2654435761) >>> 31) === 0 ? 1 : -1);
  let s = 0;
  for (let i = 0; i < dim; i++) s += out[i]! * out[i]!;
  const n = Math.max(Math.sqrt(s), 1e-12);
  for (let i = 0; i < dim; i++) out[i] = out[i]! / n;
  return out;
}
