/**
 * A deterministic synthetic corpus with BGE-M3-like statistics, as encodings (no model needed).
 *
 * - dense: normalize(0.55·G + 0.6·C_k + 0.45·S_kj + 0.35·noise): anisotropic like BGE-M3
 *   (unrelated texts score ~0.3, same topic ~0.65, same sub-topic ~0.85), clusters of ~50
 *   documents with 8 sub-topics each. Most of the variance lives in the topic / sub-topic
 *   directions (text embeddings have a low intrinsic dimension), so reducing the dimension
 *   for CI keeps the score statistics.
 * - sparse: 20..120 distinct token ids per document (vocab 250002, ids >= 4): half from the
 *   cluster's topic words, half Zipf over the vocabulary; weights in [0.03, 0.33], rarer ids
 *   heavier (BGE-M3's relu weights are of this size).
 * - colbert: one row per token: normalize(0.6·P[token] + 0.5·dense + 0.35·noise), so lexical
 *   overlap, dense similarity and MaxSim agree as for the real model.
 * - queries: a target document; ~60% of its ids (weights within ±30% of the document's) plus
 *   a few others (8..24 ids, weighted like document ids of the same frequency), dense at cosine
 *   ~0.8 to the target's, colbert rows built the same way.
 * Dimensions and ColBERT lengths can be reduced for CI speed (the statistics above are kept).
 */
import type { M3Encoding, ModelFingerprint, MultiVector, SparseVector } from "../../src/types.js";
import { mixUnit, randomUnit, Rng } from "./rng.js";

export interface SyntheticSpec {
  docs: number;
  queries?: number;
  /** @default 1024 */
  denseDim?: number;
  /** @default 1024 */
  colbertDim?: number;
  /** ColBERT rows per document, inclusive range. @default [64, 256] */
  colbertTokens?: [number, number];
  /** @default 250002 */
  vocab?: number;
  /** @default 1 */
  seed?: number;
  /** @default docs / 50 */
  clusters?: number;
}

export interface SyntheticDoc {
  id: string;
  pageContent: string;
  metadata: { cluster: number; parity: "even" | "odd"; n: number };
  encoding: Required<M3Encoding>;
}

export interface SyntheticCorpus {
  docs: SyntheticDoc[];
  queries: (Required<M3Encoding> & { target: number })[];
  fingerprint: ModelFingerprint;
  spec: Required<SyntheticSpec>;
}

const SPECIAL = 4;
const TOPIC_WORDS = 2000;
const PROTOTYPES = 4096;
const SUBTOPICS = 8;

/** Generates the corpus described above in memory; same spec, same corpus. */
export function generateSyntheticCorpus(spec: SyntheticSpec): SyntheticCorpus {
  const g = createSyntheticGenerator(spec);
  const docs = Array.from({ length: g.spec.docs }, (_, i) => g.doc(i));
  const queries = Array.from({ length: g.spec.queries }, (_, q) => g.query(q, docs[g.targetOf(q)]));
  return { docs, queries, spec: g.spec, fingerprint: g.fingerprint };
}

/** Document-by-document generation (for corpora too big to hold): `doc(i)` is pure in (spec, i). */
export interface SyntheticGenerator {
  spec: Required<SyntheticSpec>;
  fingerprint: ModelFingerprint;
  doc(i: number): SyntheticDoc;
  /** The document query `q` is built from. */
  targetOf(q: number): number;
  /** Query `q` (pass its target document if already generated). */
  query(q: number, target?: SyntheticDoc): Required<M3Encoding> & { target: number };
}

export function createSyntheticGenerator(spec: SyntheticSpec): SyntheticGenerator {
  const s: Required<SyntheticSpec> = {
    docs: spec.docs,
    queries: spec.queries ?? 0,
    denseDim: spec.denseDim ?? 1024,
    colbertDim: spec.colbertDim ?? 1024,
    colbertTokens: spec.colbertTokens ?? [64, 256],
    vocab: spec.vocab ?? 250002,
    seed: spec.seed ?? 1,
    clusters: spec.clusters ?? Math.max(1, Math.round(spec.docs / 50)),
  };
  const rng = new Rng(s.seed);
  const G = randomUnit(rng, s.denseDim);
  const centroids = Array.from({ length: s.clusters }, () => randomUnit(rng, s.denseDim));
  const subtopics = Array.from({ length: s.clusters * SUBTOPICS }, () => randomUnit(rng, s.denseDim));
  const protoRng = new Rng(s.seed ^ 0x51f15e);
  const protos = Array.from({ length: PROTOTYPES }, () => randomUnit(protoRng, s.colbertDim));
  const topic = (c: number, r: number) => SPECIAL + ((Math.imul(c + 1, 2654435761) + Math.imul(r + 7, 40503)) >>> 0) % (s.vocab - SPECIAL - 1);
  const global = (r: number) => SPECIAL + ((Math.imul(r + 1, 2246822519) >>> 0) % (s.vocab - SPECIAL - 1));
  const weightOf = (rank: number, r: Rng) => Math.min(0.33, 0.03 + 0.05 * Math.log10(rank + 10) + 0.08 * r.next());
  const colbert = (r: Rng, tokens: number[], dense: Float32Array, rows: number): MultiVector => {
    const data = new Float32Array(rows * s.colbertDim);
    const dproj = dense.length === s.colbertDim ? dense : randomProject(dense, s.colbertDim);
    for (let j = 0; j < rows; j++) {
      const t = tokens[j % tokens.length]!;
      const noise = randomUnit(r, s.colbertDim);
      data.set(mixUnit(s.colbertDim, [[0.6, protos[t % PROTOTYPES]!], [0.5, dproj], [0.35, noise]]), j * s.colbertDim);
    }
    return { data, tokens: rows, dim: s.colbertDim };
  };
  const doc = (i: number): SyntheticDoc => {
    const r = new Rng(s.seed * 7919 + i * 104729 + 1);
    const cluster = i % s.clusters;
    const ns = r.int(20, 120);
    const w = new Map<number, number>();
    while (w.size < ns) {
      const topical = r.next() < 0.5;
      const rank = topical ? r.zipf(TOPIC_WORDS, 1.0) : r.zipf(s.vocab - SPECIAL - 1, 1.1);
      const id = topical ? topic(cluster, rank) : global(rank);
      if (!w.has(id)) w.set(id, weightOf(topical ? rank * 20 : rank, r));
    }
    const sparse = toSparse(w);
    const sub = subtopics[cluster * SUBTOPICS + r.int(0, SUBTOPICS - 1)]!;
    const dense = mixUnit(s.denseDim, [[0.55, G], [0.6, centroids[cluster]!], [0.45, sub], [0.35, randomUnit(r, s.denseDim)]]);
    const rows = r.int(s.colbertTokens[0], s.colbertTokens[1]);
    const cb = colbert(r, [...w.keys()], dense, rows);
    return {
      id: `doc-${i}`,
      pageContent: `synthetic document ${i} of cluster ${cluster}`,
      metadata: { cluster, parity: i % 2 === 0 ? "even" : "odd", n: i },
      encoding: { dense, sparse, colbert: cb, tokenCount: rows + 1 },
    };
  };
  const targetOf = (q: number) => new Rng(s.seed * 31337 + q * 7777 + 3).int(0, s.docs - 1);
  const query = (q: number, targetDoc?: SyntheticDoc) => {
    const r = new Rng(s.seed * 31337 + q * 7777 + 3);
    const target = r.int(0, s.docs - 1);
    const td = (targetDoc ?? doc(target)).encoding;
    const w = new Map<number, number>();
    const n = r.int(8, 24);
    for (let j = 0; j < td.sparse.indices.length && w.size < n * 0.6; j++) {
      // the same model weighs a token similarly in the query: frequent tokens stay light
      if (r.next() < 0.5) w.set(td.sparse.indices[j]!, Math.min(0.33, td.sparse.values[j]! * (0.7 + 0.6 * r.next())));
    }
    while (w.size < n) {
      const rank = r.zipf(s.vocab - SPECIAL - 1, 1.1);
      w.set(global(rank), weightOf(rank, r));
    }
    const dense = mixUnit(s.denseDim, [[1, td.dense], [0.75, randomUnit(r, s.denseDim)]]);
    const rows = r.int(16, 32);
    return { dense, sparse: toSparse(w), colbert: colbert(r, [...w.keys()], dense, rows), tokenCount: rows + 1, target };
  };
  return {
    doc,
    query,
    targetOf,
    spec: s,
    fingerprint: { layout: "synthetic", hiddenSize: s.denseDim, vocabSize: s.vocab, tokenizerSha256: `synthetic-${s.seed}` },
  };
}

function toSparse(w: Map<number, number>): SparseVector {
  const ids = [...w.keys()].sort((a, b) => a - b);
  return { indices: Uint32Array.from(ids), values: Float32Array.from(ids, (t) => w.get(t)!) };
}

/** A fixed projection of `v` to `dim` dims (folding), normalised. */
function randomProject(v: Float32Array, dim: number): Float32Array {
  const out = new Float32Array(dim);
  for (let i = 0; i < v.length; i++) out[i % dim] = out[i % dim]! + v[i]! * (((i * 2654435761) >>> 31) === 0 ? 1 : -1);
  let s = 0;
  for (let i = 0; i < dim; i++) s += out[i]! * out[i]!;
  const n = Math.max(Math.sqrt(s), 1e-12);
  for (let i = 0; i < dim; i++) out[i] = out[i]! / n;
  return out;
}
