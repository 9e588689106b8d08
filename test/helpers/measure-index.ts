/**
 * Measures the hybrid index on the synthetic corpus (streamed document by document): build time
 * per part, memory per document per part, query latency per stage, sparse pruning, and
 * recall@10 against exhaustive fused scoring.
 *
 *   npx tsx test/helpers/measure-index.ts [docs=20000] [denseDim=1024] [colbertDim=1024] [minTok=64] [maxTok=256] [codec=int8]
 *   env: QUERIES (30) timed queries, RECALL_QUERIES (10) queries checked against exhaustive scoring, EF_C efConstruction,
 *        DIR (save there after the first batch, so ColBERT records are appended to disk as in the bench)
 */
import type { ColbertCodecName } from "../../src/index/colbert/types.js";
import { defaultColbertFactory } from "../../src/index/default-colbert.js";
import { HybridIndex } from "../../src/index/hybrid-index.js";
import { searchWithStats } from "../../src/retrieve/search.js";
import { createSyntheticGenerator } from "../../bench/lib/synthetic.js";

const [docs = 20000, denseDim = 1024, colbertDim = 1024, minTok = 64, maxTok = 256] = process.argv.slice(2, 7).map(Number);
const codec = (process.argv[7] ?? "int8") as ColbertCodecName;
const queries = Number(process.env.QUERIES ?? 30);
const recallQueries = Number(process.env.RECALL_QUERIES ?? 10);
const out = (s: string) => process.stdout.write(`${s}\n`);

const gen = createSyntheticGenerator({ docs, queries, denseDim, colbertDim, colbertTokens: [minTok, maxTok], seed: 2024 });
const efConstruction = process.env.EF_C === undefined ? undefined : Number(process.env.EF_C);
const index = await HybridIndex.create(gen.fingerprint, { colbertDim, colbert: { codec }, dense: { efConstruction }, colbertFactory: defaultColbertFactory });
const phase = { generate: 0, dense: 0, sparse: 0, colbert: 0, sketch: 0, docs: 0 };
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let tokens = 0;
// Batches of 128 as `upsert` does them: ColBERT records appended with one write per batch.
for (let start = 0; start < docs; start += 128) {
  let s = performance.now();
  const batch = Array.from({ length: Math.min(128, docs - start) }, (_, j) => gen.doc(start + j));
  for (const d of batch) tokens += d.encoding.colbert.tokens;
  phase.generate += performance.now() - s;
  s = performance.now();
  const slots = index.docs.plannedSlots(batch.map((d) => d.id));
  await index.colbert.putMany!(batch.map((d, j) => ({ slot: slots[j]!, matrix: d.encoding.colbert })));
  phase.colbert += performance.now() - s;
  for (const d of batch) {
    s = performance.now();
    const slot = index.docs.put({ id: d.id, pageContent: d.pageContent, metadata: d.metadata });
    phase.docs += performance.now() - s;
    s = performance.now();
    index.sketch?.set(slot, d.encoding.colbert);
    phase.sketch += performance.now() - s;
    s = performance.now();
    index.dense.set(slot, d.encoding.dense);
    phase.dense += performance.now() - s;
    s = performance.now();
    index.sparse.set(slot, d.encoding.sparse);
    phase.sparse += performance.now() - s;
  }
  if (start === 0 && process.env.DIR !== undefined) await index.save(process.env.DIR); // disk-backed ColBERT from here, as in the bench
}
const wall = performance.now() - t0 - phase.generate;
const cpu = process.cpuUsage(cpu0);
const st = index.stats();
const per = (b: number) => (b / st.documents).toFixed(0);
out(`corpus: ${docs} docs, dense ${denseDim}, colbert ${colbertDim} x ${minTok}..${maxTok} rows (${(tokens / docs).toFixed(0)} avg), codec ${codec}; generation ${(phase.generate / 1000).toFixed(1)} s (excluded)`);
out(`build: ${(wall / 1000).toFixed(1)} s wall (${((cpu.user + cpu.system) / 1000 / 1000).toFixed(1)} s CPU incl. generation) = dense ${(phase.dense / docs).toFixed(3)} + sparse ${(phase.sparse / docs).toFixed(3)} + colbert ${(phase.colbert / docs).toFixed(3)} + sketch ${(phase.sketch / docs).toFixed(3)} + docs ${(phase.docs / docs).toFixed(3)} ms/doc`);
out(`memory/doc: dense vectors ${per(st.dense.vectorBytes)} B + HNSW graph ~${per(st.dense.graphBytes)} B | sparse postings ${per(st.sparse.postingsBytes)} B + forward ${per(st.sparse.forwardBytes)} B (${(st.sparse.postings / docs).toFixed(0)} postings/doc, ${st.sparse.terms} terms) | colbert ${per(st.colbert.liveBytes)} B (resident ${per(st.colbert.residentBytes)} B) | docs ~${per(st.docBytes)} B | process RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);

const sum = { dense: 0, sparse: 0, multiVector: 0, score: 0, prescore: 0, colbert: 0, fuse: 0, pool: 0, visited: 0, postings: 0, total: 0 };
let hit = 0;
let exactMs = 0;
let sp10 = 0;
let sp10total = 0;
for (let qi = 0; qi < queries; qi++) {
  const q = gen.query(qi);
  const s1 = performance.now();
  const r = await searchWithStats(index, q, { k: 10 });
  sum.total += performance.now() - s1;
  for (const k of ["dense", "sparse", "multiVector", "score", "prescore", "colbert", "fuse"] as const) sum[k] += r.stats.timings[k];
  sum.pool += r.stats.poolSize;
  sum.visited += r.stats.sparsePostingsVisited;
  sum.postings += r.stats.sparsePostingsTotal;
  const s10 = index.sparse.search(q.sparse, 10);
  sp10 += s10.postingsVisited;
  sp10total += s10.postingsTotal;
  if (qi < recallQueries) {
    const s0 = performance.now();
    const exact = new Set((await searchWithStats(index, q, { k: 10, candidates: docs })).hits.map((h) => h.id));
    exactMs += performance.now() - s0;
    hit += r.hits.filter((h) => exact.has(h.id)).length;
  }
}
const avg = (x: number) => (x / queries).toFixed(2);
out(`query (k=10, default options, efSearch=${index.denseOptions.efSearch}; mean of ${queries}, ms): dense HNSW ${avg(sum.dense)} | sparse MaxScore ${avg(sum.sparse)} | ColBERT first stage ${avg(sum.multiVector)} | dense+sparse scoring of the pool ${avg(sum.score)} | approximate ColBERT ${avg(sum.prescore)} (pool ${avg(sum.pool)} docs) | exact ColBERT ${avg(sum.colbert)} | fuse+sort ${avg(sum.fuse)} | total ${avg(sum.total)} (+ query encoding)`);
out(`sparse pruning: top-100 reads ${((100 * sum.visited) / sum.postings).toFixed(0)}% of the query lists' postings, top-10 reads ${((100 * sp10) / sp10total).toFixed(0)}%`);
out(`recall@10 vs exhaustive fused scoring (${recallQueries} queries): ${(hit / (10 * recallQueries)).toFixed(3)}; exhaustive scoring ${(exactMs / recallQueries).toFixed(0)} ms/query`);
await index.close();
