/**
 * Measures the hybrid index on the synthetic corpus: build time, memory per document per part,
 * query latency per stage, recall@10 against exhaustive fused scoring.
 *
 *   npx tsx test/helpers/measure-index.ts [docs=20000] [denseDim=1024] [colbertDim=1024] [minTok=64] [maxTok=256] [codec=int8]
 */
import { defaultColbertFactory } from "../../src/index/default-colbert.js";
import { HybridIndex } from "../../src/index/hybrid-index.js";
import { searchWithStats } from "../../src/retrieve/search.js";
import type { ColbertCodecName } from "../../src/index/colbert/types.js";
import { generateSyntheticCorpus } from "./synthetic.js";

const [docs = 20000, denseDim = 1024, colbertDim = 1024, minTok = 64, maxTok = 256] = process.argv.slice(2, 7).map(Number);
const codec = (process.argv[7] ?? "int8") as ColbertCodecName;
const queries = 30;
const ms = (t: number) => (performance.now() - t).toFixed(0);

let t = performance.now();
const corpus = generateSyntheticCorpus({ docs, queries, denseDim, colbertDim, colbertTokens: [minTok, maxTok], seed: 2024 });
process.stdout.write(`corpus ${docs} docs, dense ${denseDim}, colbert ${colbertDim} x ${minTok}..${maxTok} rows, codec ${codec}: generated in ${ms(t)} ms\n`);
const efConstruction = process.env.EF_C === undefined ? undefined : Number(process.env.EF_C);
const index = await HybridIndex.create(corpus.fingerprint, { colbertDim, colbert: { codec }, dense: { efConstruction }, colbertFactory: defaultColbertFactory });
const phase = { dense: 0, sparse: 0, colbert: 0 };
t = performance.now();
for (const d of corpus.docs) {
  let s = performance.now();
  await index.colbert.put(index.docs.peekSlot(d.id), d.encoding.colbert);
  phase.colbert += performance.now() - s;
  const slot = index.docs.put({ id: d.id, pageContent: d.pageContent, metadata: d.metadata });
  s = performance.now();
  index.dense.set(slot, d.encoding.dense);
  phase.dense += performance.now() - s;
  s = performance.now();
  index.sparse.set(slot, d.encoding.sparse);
  phase.sparse += performance.now() - s;
}
const build = performance.now() - t;
const st = index.stats();
const per = (b: number) => (b / st.documents).toFixed(0);
process.stdout.write(
  `build ${build.toFixed(0)} ms (${(build / docs).toFixed(3)} ms/doc): dense ${phase.dense.toFixed(0)} ms, sparse ${phase.sparse.toFixed(0)} ms, colbert ${phase.colbert.toFixed(0)} ms\n` +
    `memory per doc: dense vectors ${per(st.dense.vectorBytes)} B + HNSW graph ~${per(st.dense.graphBytes)} B; sparse postings ${per(st.sparse.postingsBytes)} B + forward ${per(st.sparse.forwardBytes)} B (${(st.sparse.postings / docs).toFixed(0)} postings/doc); colbert ${per(st.colbert.liveBytes)} B (resident ${per(st.colbert.residentBytes)}); docs ~${per(st.docBytes)} B\n`,
);
const sum = { dense: 0, sparse: 0, score: 0, colbert: 0, fuse: 0, pool: 0, visited: 0, postings: 0, total: 0 };
let hit = 0;
let exactMs = 0;
for (const q of corpus.queries) {
  const s0 = performance.now();
  const exact = new Set((await searchWithStats(index, q, { k: 10, candidates: docs })).hits.map((h) => h.id));
  exactMs += performance.now() - s0;
  const s1 = performance.now();
  const r = await searchWithStats(index, q, { k: 10 });
  sum.total += performance.now() - s1;
  hit += r.hits.filter((h) => exact.has(h.id)).length;
  for (const k of ["dense", "sparse", "score", "colbert", "fuse"] as const) sum[k] += r.stats.timings[k];
  sum.pool += r.stats.poolSize;
  sum.visited += r.stats.sparsePostingsVisited;
  sum.postings += r.stats.sparsePostingsTotal;
}
const avg = (x: number) => (x / queries).toFixed(2);
process.stdout.write(
  `query (k=10, candidates=100, ${queries} queries, mean ms): dense HNSW ${avg(sum.dense)}, sparse MaxScore ${avg(sum.sparse)} (visits ${((100 * sum.visited) / sum.postings).toFixed(1)}% of the query's postings), dense+sparse scoring ${avg(sum.score)}, colbert rerank ${avg(sum.colbert)} (pool ${avg(sum.pool)}), fuse ${avg(sum.fuse)}, total ${avg(sum.total)}\n` +
    `recall@10 vs exhaustive fused scoring: ${(hit / (10 * queries)).toFixed(4)} (exhaustive: ${(exactMs / queries).toFixed(0)} ms/query)\n`,
);
await index.close();
