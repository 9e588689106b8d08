/**
 * Retrieval benchmark on synthetic corpora with BGE-M3-like statistics (bench/lib/synthetic.ts).
 *
 *   npx tsx bench/retrieval.ts --sizes 10000,100000 [--queries 200 --gt-queries 40 --lc-queries 50
 *        --queries-large 50 --gt-queries-large 10 --lc-queries-large 8 (corpora > 20k docs)
 *        --codec int8 --sketch-dim 128 --dim 1024 --mutate false --langchain keep
 *        --work bench/models/work --out-dir bench/results]
 *
 * For each size, two child processes (each with its own peak RSS):
 *   m3         HybridIndex (HNSW dense + inverted sparse + disk-backed ColBERT store + in-memory
 *              ColBERT sketch; default codec and sketch unless --codec / --sketch-dim) built in
 *              batches of 128 documents; saved; reloaded; queried with `searchWithStats` (k 10,
 *              default options) twice: cold (the first pass after loading) and warm. Two query
 *              sets of --queries each: "from-docs" (each query cut from a target document: the
 *              modes agree) and "independent" (the modes disagree; bench/lib/synthetic.ts). In the
 *              same pass over the corpus it computes the ground truth: exhaustive fused scoring
 *              (0.4·dense + 0.2·sparse + 0.4·float32 MaxSim over every document) for the first
 *              --gt-queries queries of each set, the MaxSim through an onnxruntime Gemm. Then
 *              (unless --mutate false) it deletes every third document, replaces every tenth of
 *              the rest with a new document under the same id, updates the ground truth the same
 *              way and measures recall again, before and after a save + load.
 *   langchain  the same documents through LangChain.js's existing way: HNSWLib
 *              (@langchain/community) over the dense vectors + BM25Retriever over the token
 *              strings, fused by EnsembleRetriever (@langchain/classic, weighted RRF), each
 *              retriever asked for 100 candidates, cut to 10. With --langchain keep this side is
 *              not run; the previous result at the same size is kept (and marked so).
 * Query encoding is excluded everywhere (queries are given as encodings / looked up vectors).
 */
import { spawn } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { log, machineInfo, now, parseArgs, peakRssMiB, round, rssMiB, summary } from "./lib/machine.js";
import { hashInt } from "./lib/rng.js";
import { docId, SyntheticCorpus, type SyntheticDoc, type SyntheticQuery } from "./lib/synthetic.js";

const K = 10;
const WEIGHTS = { dense: 0.4, sparse: 0.2, colbert: 0.4 };
/** Documents generated, indexed and scored for the ground truth at a time. */
const CHUNK = 128;
/** The ColBERT store goes disk-backed at the first save; the build saves once after this many documents. */
const FIRST_SAVE_AFTER = 1000;

interface GroundTruth {
  docs: number;
  queries: number[];
  top: string[][];
  /** fused score of the 10th document, per query */
  tenth: number[];
}

function sparseDot(a: { indices: Uint32Array; values: Float32Array }, b: { indices: Uint32Array; values: Float32Array }): number {
  let i = 0;
  let j = 0;
  let s = 0;
  while (i < a.indices.length && j < b.indices.length) {
    const x = a.indices[i]!;
    const y = b.indices[j]!;
    if (x === y) s += a.values[i++]! * b.values[j++]!;
    else if (x < y) i++;
    else j++;
  }
  return s;
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function topIds(scores: Float32Array, k: number): { ids: string[]; tenth: number } {
  const idx = Array.from(scores.keys()).sort((a, b) => scores[b]! - scores[a]! || a - b).slice(0, k);
  return { ids: idx.map(docId), tenth: scores[idx[idx.length - 1]!]! };
}

function dirBytes(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of readdirSync(dir)) {
    const st = statSync(join(dir, f));
    if (!st.isFile()) continue;
    const role = f.startsWith("colbert-data") ? "colbert" : f.startsWith("colbert-offsets") ? "colbertOffsets" : f.split(/[-.]/)[0]!;
    out[role] = (out[role] ?? 0) + st.size;
  }
  out.total = Object.values(out).reduce((a, b) => a + b, 0);
  return out;
}

/** Exhaustive fused ground truth, accumulated chunk by chunk. */
class GroundTruthBuilder {
  private readonly dense: Float32Array[];
  private readonly sparse: Float32Array[];
  private readonly colbert: Float32Array[];
  private readonly rows: Float32Array;
  private readonly rowStart: number[] = [];
  private readonly totalRows: number;
  /** 0 for a deleted document. */
  private readonly alive: Uint8Array;
  seconds = 0;
  private constructor(
    private readonly queries: SyntheticQuery[],
    private readonly docs: number,
    private readonly dim: number,
    private readonly scorer: import("./lib/onnx-matmul.js").RowScorer,
  ) {
    this.dense = queries.map(() => new Float32Array(docs));
    this.sparse = queries.map(() => new Float32Array(docs));
    this.colbert = queries.map(() => new Float32Array(docs));
    let r = 0;
    for (const q of queries) {
      this.rowStart.push(r);
      r += q.encoding.colbert.tokens;
    }
    this.rowStart.push(r);
    this.totalRows = r;
    this.rows = new Float32Array(r * dim);
    queries.forEach((q, i) => this.rows.set(q.encoding.colbert.data, this.rowStart[i]! * dim));
    this.alive = new Uint8Array(docs).fill(1);
  }
  /** Documents (by index) no longer in the corpus. */
  remove(indices: number[]): void {
    for (const i of indices) this.alive[i] = 0;
  }
  static async create(queries: SyntheticQuery[], docs: number, dim: number, threads: number): Promise<GroundTruthBuilder> {
    const { RowScorer } = await import("./lib/onnx-matmul.js");
    return new GroundTruthBuilder(queries, docs, dim, await RowScorer.create(threads));
  }
  async add(chunk: SyntheticDoc[]): Promise<void> {
    if (this.queries.length === 0) return;
    const t = now();
    const d = this.dim;
    let total = 0;
    for (const doc of chunk) total += doc.encoding.colbert.tokens;
    const b = new Float32Array(total * d);
    let off = 0;
    for (const doc of chunk) {
      b.set(doc.encoding.colbert.data, off * d);
      off += doc.encoding.colbert.tokens;
    }
    const c = await this.scorer.scores(this.rows, this.totalRows, b, total, d);
    this.queries.forEach((q, qi) => {
      const r0 = this.rowStart[qi]!;
      const r1 = this.rowStart[qi + 1]!;
      let start = 0;
      for (const doc of chunk) {
        const n = doc.encoding.colbert.tokens;
        let sum = 0;
        for (let r = r0; r < r1; r++) {
          const base = r * total + start;
          let m = -Infinity;
          for (let j = 0; j < n; j++) if (c[base + j]! > m) m = c[base + j]!;
          sum += m;
        }
        this.alive[doc.index] = 1;
        this.colbert[qi]![doc.index] = sum / (r1 - r0);
        this.dense[qi]![doc.index] = dot(q.encoding.dense, doc.encoding.dense);
        this.sparse[qi]![doc.index] = sparseDot(q.encoding.sparse, doc.encoding.sparse);
        start += n;
      }
    });
    this.seconds += (now() - t) / 1000;
  }
  result(): GroundTruth {
    const wsum = WEIGHTS.dense + WEIGHTS.sparse + WEIGHTS.colbert;
    const top: string[][] = [];
    const tenth: number[] = [];
    this.queries.forEach((_, qi) => {
      const f = new Float32Array(this.docs);
      for (let i = 0; i < this.docs; i++) {
        if (this.alive[i] === 0) {
          f[i] = -Infinity;
          continue;
        }
        f[i] = (WEIGHTS.dense * this.dense[qi]![i]! + WEIGHTS.sparse * this.sparse[qi]![i]! + WEIGHTS.colbert * this.colbert[qi]![i]!) / wsum;
      }
      const t = topIds(f, K);
      top.push(t.ids);
      tenth.push(t.tenth);
    });
    return { docs: this.docs, queries: this.queries.map((q) => q.index), top, tenth };
  }
  release(): Promise<void> {
    return this.scorer.release();
  }
}

function recallAt(found: string[], truth: string[]): number {
  const t = new Set(truth.slice(0, K));
  return found.slice(0, K).filter((id) => t.has(id)).length / K;
}

function stageSummary(xs: number[]): { p50: number; p99: number; mean: number } {
  const s = summary(xs);
  return { p50: round(s.p50), p99: round(s.p99), mean: round(s.mean) };
}

type M3Index = import("../src/index/hybrid-index.js").HybridIndex;
type QueryModel = "from-docs" | "independent";
const QUERY_MODELS: QueryModel[] = ["from-docs", "independent"];

interface QuerySet {
  model: QueryModel;
  queries: SyntheticQuery[];
  /** Queries [0, gt) are checked against the ground truth. */
  gt: number;
}

/** Latency per stage (ms) and pool statistics of one pass over every query of every set. */
async function timedPass(index: M3Index, sets: QuerySet[]): Promise<Record<string, unknown>> {
  const { searchWithStats } = await import("../src/retrieve/search.js");
  const e2e: number[] = [];
  const st = { dense: [] as number[], sparse: [] as number[], multiVector: [] as number[], score: [] as number[], prescore: [] as number[], colbert: [] as number[], fuse: [] as number[], fetch: [] as number[] };
  const pool: number[] = [];
  const reranked: number[] = [];
  for (const set of sets) {
    for (const q of set.queries) {
      const t0 = now();
      const { stats: s } = await searchWithStats(index, q.encoding, { k: K });
      e2e.push(now() - t0);
      for (const k of Object.keys(st) as (keyof typeof st)[]) st[k].push(s.timings[k] + (k === "score" ? s.timings.filter : 0));
      pool.push(s.poolSize);
      reranked.push(s.reranked);
    }
  }
  const out: Record<string, unknown> = { queries: e2e.length, endToEnd: stageSummary(e2e) };
  for (const [k, v] of Object.entries(st)) out[k] = stageSummary(v);
  return { latencyMs: out, poolSize: stageSummary(pool), reranked: stageSummary(reranked) };
}

/** recall@10 of the default search against the ground truth, per query model. */
async function recallOf(index: M3Index, sets: QuerySet[], truth: GroundTruth, options: Record<string, unknown> = {}): Promise<Record<string, { queries: number; mean: number; min: number }>> {
  const { search } = await import("../src/retrieve/search.js");
  const out: Record<string, { queries: number; mean: number; min: number }> = {};
  let row = 0;
  for (const set of sets) {
    const r: number[] = [];
    for (let i = 0; i < set.gt; i++, row++) {
      const hits = await search(index, set.queries[i]!.encoding, { k: K, ...options });
      r.push(recallAt(hits.map((h) => h.id), truth.top[row]!));
      if (process.env.M3_BENCH_HITS) appendFileSync(process.env.M3_BENCH_HITS, JSON.stringify({ options, set: set.model, i, hits: hits.map((h) => [h.id, h.score]) }) + "\n");
    }
    out[set.model] = { queries: r.length, mean: round(r.reduce((x, y) => x + y, 0) / Math.max(1, r.length)), min: Math.min(...r) };
  }
  return out;
}

async function runM3(a: Record<string, string | true>): Promise<unknown> {
  const { HybridIndex } = await import("../src/index/hybrid-index.js");
  const { saveIndex, loadIndex } = await import("../src/index/persist.js");
  const colbertMod = await import("../src/index/colbert/index.js");
  const factory = {
    create: (dim: number, o?: object) => Promise.resolve(colbertMod.createColbertStore({ dim, ...o })),
    open: (dir: string, part: Parameters<typeof colbertMod.openColbertStore>[1], o?: object) => colbertMod.openColbertStore(dir, part, o),
  };
  const docs = Number(a.docs);
  const nQ = Number(a.queries ?? 200);
  const nGT = Math.min(nQ, Number(a["gt-queries"] ?? 40));
  const threads = Number(a.threads ?? machineInfo().nproc);
  const dir = String(a.dir);
  const codec = typeof a.codec === "string" ? a.codec : undefined;
  const sketchDim = typeof a["sketch-dim"] === "string" ? Number(a["sketch-dim"]) : undefined;
  const mutate = a.mutate !== "false";
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const baseRss = rssMiB();

  const dim = Number(a.dim ?? 1024);
  const corpus = new SyntheticCorpus({ docs, dim });
  const sets: QuerySet[] = QUERY_MODELS.map((model) => {
    const g = model === "from-docs" ? corpus : new SyntheticCorpus({ docs, dim, queryModel: model });
    return { model, queries: Array.from({ length: nQ }, (_, q) => g.query(q)), gt: nGT };
  });
  const gtQueries = sets.flatMap((s) => s.queries.slice(0, s.gt));
  const gt = await GroundTruthBuilder.create(gtQueries, docs, corpus.dim, threads);
  const fingerprint = { layout: "synthetic", hiddenSize: corpus.dim, vocabSize: corpus.vocab, tokenizerSha256: "synthetic" };
  const index = await HybridIndex.create(fingerprint, {
    colbertFactory: factory,
    ...(codec ? { colbert: { codec: codec as "int8" } } : {}),
    ...(sketchDim !== undefined ? { sketchDim } : {}),
  });
  let genSeconds = 0;
  let buildSeconds = 0;
  let colbertTokens = 0;
  let sparseTerms = 0;
  let saved = false;
  log(`m3 ${docs}: building (${nGT} ground-truth queries per query model)`);
  for (let start = 0; start < docs; start += CHUNK) {
    let t = now();
    const chunk: SyntheticDoc[] = [];
    for (let i = start; i < Math.min(docs, start + CHUNK); i++) chunk.push(corpus.doc(i));
    genSeconds += (now() - t) / 1000;
    t = now();
    await index.upsert(chunk.map((d) => ({ id: d.id, pageContent: d.text, metadata: { cluster: d.cluster }, encoding: d.encoding })));
    if (!saved && start + CHUNK >= Math.min(FIRST_SAVE_AFTER, docs)) {
      await saveIndex(index, dir); // from here on the ColBERT matrices are appended to disk
      saved = true;
    }
    buildSeconds += (now() - t) / 1000;
    for (const d of chunk) {
      colbertTokens += d.encoding.colbert.tokens;
      sparseTerms += d.encoding.sparse.indices.length;
    }
    await gt.add(chunk);
    if ((start / CHUNK) % 40 === 0) log(`m3 ${docs}: ${start + chunk.length} docs, build ${buildSeconds.toFixed(1)} s, gen ${genSeconds.toFixed(1)} s, gt ${gt.seconds.toFixed(1)} s, rss ${rssMiB()} MiB`);
  }
  const truth = gt.result();
  writeFileSync(join(dir, "..", `gt-${docs}.json.tmp`), JSON.stringify({ ...truth, top: truth.top.slice(0, nGT), queries: truth.queries.slice(0, nGT) }));
  renameSync(join(dir, "..", `gt-${docs}.json.tmp`), join(dir, "..", `gt-${docs}.json`));
  let t = now();
  await saveIndex(index, dir);
  const saveSeconds = (now() - t) / 1000;
  const stats = index.stats();
  const rssAfterBuild = rssMiB();
  await index.close();
  const disk = dirBytes(dir);

  t = now();
  let loaded = await loadIndex(dir, { colbertFactory: factory });
  const loadSeconds = (now() - t) / 1000;
  const rssAfterLoad = rssMiB();
  log(`m3 ${docs}: built in ${buildSeconds.toFixed(1)} s, saved ${saveSeconds.toFixed(1)} s, loaded ${loadSeconds.toFixed(1)} s; querying`);
  // Cold: the first pass after loading (the ColBERT record cache is empty; the sketch is in memory).
  const cold = await timedPass(loaded, sets);
  const warm = await timedPass(loaded, sets);
  const recall: Record<string, unknown> = { fresh: await recallOf(loaded, sets, truth) };
  // Other settings on the same index and ground truth: "previous" is the plan before the sketch
  // (dense ∪ sparse top-100, every candidate reranked exactly).
  const sweep: Record<string, unknown> = {};
  const variants: Record<string, Record<string, unknown>> = {
    previous: { colbertCandidates: 0, rerank: 1e9 }, "rerank 64": { rerank: 64 }, "candidates 200": { candidates: 200 },
    "colbertCandidates 200": { colbertCandidates: 200 }, "both 200": { candidates: 200, colbertCandidates: 200 },
  };
  if (a.sweep !== "false") for (const [name, o] of Object.entries(variants)) sweep[name] = await recallOf(loaded, sets, truth, o);
  const colbertAfterQueries = loaded.stats().colbert;

  let mutation: Record<string, unknown> | undefined;
  if (mutate) {
    // Delete a third of the documents, replace a tenth of the rest with new ones (same ids), then
    // check recall against the ground truth updated the same way, before and after save + load.
    // Documents are chosen by a hash of their number, not `i % 3`: clusters are `i % clusters`,
    // so a modulus would delete whole clusters whenever 3 divides their count.
    log(`m3 ${docs}: deleting a third, replacing a tenth`);
    const pick = (i: number) => hashInt(i ^ 0x5bd1e995) % 30;
    const removed = Array.from({ length: docs }, (_, i) => i).filter((i) => pick(i) < 10);
    const replacedAt = Array.from({ length: docs }, (_, i) => i).filter((i) => pick(i) >= 10 && pick(i) < 13);
    t = now();
    for (let i = 0; i < removed.length; i += 4096) await loaded.delete(removed.slice(i, i + 4096).map(docId));
    const deleteSeconds = (now() - t) / 1000;
    gt.remove(removed);
    let replaceSeconds = 0;
    for (let i = 0; i < replacedAt.length; i += CHUNK) {
      const chunk = replacedAt.slice(i, i + CHUNK).map((at, j) => ({ ...corpus.doc(docs + i + j), index: at, id: docId(at) }));
      t = now();
      await loaded.upsert(chunk.map((d) => ({ id: d.id, pageContent: d.text, metadata: { cluster: d.cluster }, encoding: d.encoding })));
      replaceSeconds += (now() - t) / 1000;
      await gt.add(chunk);
    }
    const truth2 = gt.result();
    const afterMutation = await recallOf(loaded, sets, truth2);
    t = now();
    await saveIndex(loaded, dir);
    const resaveSeconds = (now() - t) / 1000;
    await loaded.close();
    t = now();
    loaded = await loadIndex(dir, { colbertFactory: factory });
    const reloadSeconds = (now() - t) / 1000;
    recall.afterDeleteReplace = afterMutation;
    recall.afterSaveLoad = await recallOf(loaded, sets, truth2);
    mutation = { deleted: removed.length, replaced: replacedAt.length, deleteSeconds: round(deleteSeconds, 2), replaceSeconds: round(replaceSeconds, 2), resaveSeconds: round(resaveSeconds, 2), reloadSeconds: round(reloadSeconds, 2) };
  }
  await gt.release();
  await loaded.close();
  const n = docs;
  const sk = stats.sketch;
  return {
    system: "m3",
    docs,
    corpus: { colbertTokensPerDoc: round(colbertTokens / n, 1), sparseTermsPerDoc: round(sparseTerms / n, 1), clusters: corpus.clusters, dim: corpus.dim, vocab: corpus.vocab },
    codec: stats.colbert.codec,
    sketchDim: sk?.dim ?? 0,
    buildSeconds: round(buildSeconds, 2),
    docsPerSecond: round(n / buildSeconds, 1),
    generateSeconds: round(genSeconds, 2),
    groundTruthSeconds: round(gt.seconds, 2),
    saveSeconds: round(saveSeconds, 2),
    loadSeconds: round(loadSeconds, 2),
    memoryBytesPerDoc: {
      dense: round((stats.dense.vectorBytes + stats.dense.graphBytes) / n, 1),
      denseVectors: round(stats.dense.vectorBytes / n, 1),
      denseGraph: round(stats.dense.graphBytes / n, 1),
      sparse: round((stats.sparse.postingsBytes + stats.sparse.forwardBytes) / n, 1),
      colbertResident: round(stats.colbert.residentBytes / n, 1),
      colbertResidentAfterQueries: round(colbertAfterQueries.residentBytes / n, 1),
      colbertOnDisk: round(stats.colbert.liveBytes / n, 1),
      sketchRows: sk ? round(sk.rowBytes / n, 1) : 0,
      sketchMeans: sk ? round((sk.meanBytes + sk.graphBytes) / n, 1) : 0,
      docs: round(stats.docBytes / n, 1),
    },
    diskBytes: disk,
    diskBytesPerDoc: round(disk.total! / n, 1),
    rssMiB: { base: baseRss, afterBuild: rssAfterBuild, afterLoad: rssAfterLoad },
    latencyMs: warm.latencyMs,
    latencyColdMs: cold.latencyMs,
    poolSize: warm.poolSize,
    reranked: warm.reranked,
    recallAt10: (recall.fresh as Record<string, unknown>)["from-docs"],
    recall,
    recallSweep: sweep,
    mutation,
    peakRssMiB: peakRssMiB(),
    note: "peak RSS includes the ground-truth buffers (3 score arrays per ground-truth query, one Gemm chunk); cold = the first pass over the queries after loading, warm = the second",
  };
}

async function runLangChain(a: Record<string, string | true>): Promise<unknown> {
  const { HNSWLib } = await import("@langchain/community/vectorstores/hnswlib");
  const { BM25Retriever } = await import("@langchain/community/retrievers/bm25");
  const { EnsembleRetriever } = await import("@langchain/classic/retrievers/ensemble");
  const { Document } = await import("@langchain/core/documents");
  const { Embeddings } = await import("@langchain/core/embeddings");
  const docs = Number(a.docs);
  const nQ = Number(a["lc-queries"] ?? 50);
  const candidates = 100;
  const dir = String(a.dir);
  const baseRss = rssMiB();
  const corpus = new SyntheticCorpus({ docs, dim: Number(a.dim ?? 1024) });
  const queries = Array.from({ length: nQ }, (_, q) => corpus.query(q));
  const lookup = new Map(queries.map((q) => [q.text, Array.from(q.encoding.dense)]));
  class LookupEmbeddings extends Embeddings {
    constructor() {
      super({});
    }
    embedQuery(text: string): Promise<number[]> {
      const v = lookup.get(text);
      if (!v) throw new Error("unknown query");
      return Promise.resolve(v);
    }
    embedDocuments(): Promise<number[][]> {
      throw new Error("documents are added as vectors");
    }
  }
  let t = now();
  const vectors: number[][] = [];
  const documents: InstanceType<typeof Document>[] = [];
  for (let i = 0; i < docs; i++) {
    const d = corpus.doc(i, { colbert: false });
    vectors.push(Array.from(d.encoding.dense));
    documents.push(new Document({ id: d.id, pageContent: d.text, metadata: { id: d.id, cluster: d.cluster } }));
  }
  const genSeconds = (now() - t) / 1000;
  log(`langchain ${docs}: building HNSWLib`);
  t = now();
  const store = new HNSWLib(new LookupEmbeddings(), { space: "cosine", numDimensions: corpus.dim });
  await store.addVectors(vectors, documents);
  const bm25 = BM25Retriever.fromDocuments(documents, { k: candidates });
  const buildSeconds = (now() - t) / 1000;
  vectors.length = 0;
  const rssAfterBuild = rssMiB();
  const dense = store.asRetriever({ k: candidates });
  const ensemble = new EnsembleRetriever({ retrievers: [dense, bm25], weights: [0.5, 0.5] });
  t = now();
  rmSync(dir, { recursive: true, force: true });
  await store.save(dir);
  const saveSeconds = (now() - t) / 1000;
  const disk = dirBytes(dir);
  log(`langchain ${docs}: built in ${buildSeconds.toFixed(1)} s; querying ${nQ}`);
  await ensemble.invoke(queries[0]!.text);
  const e2e: number[] = [];
  const stage = { dense: [] as number[], sparse: [] as number[] };
  const recalls: number[] = [];
  const ranked: string[][] = [];
  for (const q of queries) {
    let t0 = now();
    await dense.invoke(q.text);
    stage.dense.push(now() - t0);
    if (q.index < 5) {
      // BM25 alone (its cost is in the end-to-end number too); only a few queries, it is slow.
      t0 = now();
      await bm25.invoke(q.text);
      stage.sparse.push(now() - t0);
    }
    t0 = now();
    const res = await ensemble.invoke(q.text);
    e2e.push(now() - t0);
    ranked.push(res.slice(0, K).map((d) => String(d.metadata.id)));
  }
  // The ground truth comes from the m3 run over the same corpus (possibly running alongside).
  const gtFile = join(dir, "..", `gt-${docs}.json`);
  for (let waited = 0; !existsSync(gtFile); waited += 5) {
    if (waited > 4 * 3600) throw new Error(`no ground truth ${gtFile}`);
    await new Promise((r) => setTimeout(r, 5000));
  }
  await new Promise((r) => setTimeout(r, 1000));
  const truth = JSON.parse(readFileSync(gtFile, "utf8")) as GroundTruth;
  queries.forEach((q, i) => {
    const gi = truth.queries.indexOf(q.index);
    if (gi >= 0) recalls.push(recallAt(ranked[i]!, truth.top[gi]!));
  });
  return {
    system: "langchain",
    docs,
    components: "HNSWLib (@langchain/community, hnswlib-node, cosine, M 16, efConstruction 200) + BM25Retriever (@langchain/community) -> EnsembleRetriever (@langchain/classic, weighted RRF 0.5/0.5, c 60)",
    candidatesPerRetriever: candidates,
    buildSeconds: round(buildSeconds, 2),
    docsPerSecond: round(docs / buildSeconds, 1),
    generateSeconds: round(genSeconds, 2),
    saveSeconds: round(saveSeconds, 2),
    diskBytes: disk,
    diskBytesPerDoc: round(disk.total! / docs, 1),
    rssMiB: { base: baseRss, afterBuild: rssAfterBuild },
    memoryBytesPerDocRss: round(((rssAfterBuild - baseRss) * 2 ** 20) / docs, 1),
    latencyMs: { queries: queries.length, endToEnd: stageSummary(e2e), dense: stageSummary(stage.dense), sparse: stageSummary(stage.sparse) },
    recallAt10: { queries: recalls.length, mean: round(recalls.reduce((x, y) => x + y, 0) / Math.max(1, recalls.length)), min: Math.min(...recalls) },
    peakRssMiB: peakRssMiB(),
    note: "no ColBERT stage exists in this stack; BM25 re-tokenises every document on each query (BM25Retriever's design)",
  };
}

function child(args: string[]): Promise<unknown> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, [...process.execArgv, "--max-old-space-size=16384", fileURLToPath(import.meta.url), ...args], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.on("exit", (code) => {
      const line = out.split("\n").find((l) => l.startsWith("@@RESULT "));
      if (code === 0 && line) res(JSON.parse(line.slice(9)));
      else rej(new Error(`${args.join(" ")} exited with ${code}`));
    });
  });
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  if (a.system === "m3" || a.system === "langchain") {
    const r = a.system === "m3" ? await runM3(a) : await runLangChain(a);
    process.stdout.write(`@@RESULT ${JSON.stringify(r)}\n`);
    return;
  }
  const sizes = String(a.sizes ?? "10000,100000").split(",").map(Number);
  const work = String(a.work ?? "bench/models/work");
  const outDir = String(a["out-dir"] ?? "bench/results");
  mkdirSync(outDir, { recursive: true });
  let failed = false;
  for (const docs of sizes) {
    const machine = machineInfo();
    log(`retrieval ${docs} docs; ${machine.uptime}`);
    // Corpora above 20k documents use the "-large" query counts: exhaustive float32 MaxSim ground
    // truth and LangChain's BM25 (which re-tokenises every document per query) scale with the corpus.
    const large = docs > 20000;
    const counts: Record<string, string> = {
      queries: String(a[large ? "queries-large" : "queries"] ?? (large ? 50 : 200)),
      "gt-queries": String(a[large ? "gt-queries-large" : "gt-queries"] ?? (large ? 10 : 40)),
      "lc-queries": String(a[large ? "lc-queries-large" : "lc-queries"] ?? (large ? 8 : 50)),
    };
    const pass = [
      ...Object.entries(counts).flatMap(([k, v]) => [`--${k}`, v]),
      ...["codec", "threads", "dim", "sketch-dim", "mutate", "sweep"].flatMap((k) => (typeof a[k] === "string" ? [`--${k}`, a[k] as string] : [])),
    ];
    const result: Record<string, unknown> = { kind: "retrieval", docs, machine, weights: WEIGHTS, k: K };
    rmSync(join(work, `gt-${docs}.json`), { force: true });
    const run = async (system: string) => {
      try {
        result[system] = await child(["--system", system, "--docs", String(docs), "--dir", join(work, `${system}-${docs}`), ...pass]);
      } catch (err) {
        log(`${system} ${docs} failed: ${(err as Error).message}`);
        result[system] = { error: (err as Error).message };
        failed = true;
      }
    };
    // --parallel runs the LangChain side alongside ours (it waits for our ground truth at the
    // end): each has its own process and peak RSS, but they share the CPU, which the results say.
    const parallel = a.parallel === true || (a.parallel === "large" && large);
    const file = join(outDir, `retrieval-${docs}.json`);
    if (a.langchain === "keep") {
      // Keep the LangChain side of the previous run at this size (its stack did not change).
      const old = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as { langchain?: Record<string, unknown>; machine?: { date?: string; uptime?: string } }) : undefined;
      const lc = old?.langchain;
      result.langchain = lc && !lc.error && !lc.skipped
        ? { ...lc, kept: lc.kept ?? `from the run of ${old?.machine?.date ?? "an earlier date"} (machine at start: ${old?.machine?.uptime ?? "?"}); not re-run` }
        : { skipped: "not re-run (--langchain keep) and no earlier run at this size" };
      await run("m3");
    } else if (parallel) {
      result.parallel = "m3 and langchain ran at the same time (shared CPU)";
      const lc = run("langchain");
      await run("m3");
      if (result.m3 && (result.m3 as { error?: string }).error) writeFileSync(join(work, `gt-${docs}.json`), JSON.stringify({ docs, queries: [], top: [], tenth: [] }));
      await lc;
    } else {
      await run("m3");
      if (!(result.m3 as { error?: string }).error) await run("langchain");
    }
    result.machineAtEnd = { uptime: machineInfo().uptime };
    writeFileSync(file, JSON.stringify(result, null, 1) + "\n");
    log(`wrote ${file}`);
    if (a.keep !== true) rmSync(work, { recursive: true, force: true });
  }
  if (failed) process.exitCode = 1;
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
