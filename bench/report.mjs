#!/usr/bin/env node
/**
 * Renders the benchmark results (bench/results/*.json) as markdown.
 *
 *   node bench/report.mjs [--dir bench/results] [--out bench/results/REPORT.md] [--check [--parts encoder,retrieval,colbert]]
 *
 * --check validates that every expected result file is present and well formed (finite
 * numbers, recall in [0, 1], no failed variant) and exits 1 otherwise; used by the smoke run.
 * The tables are also what bench/render-readme.mjs puts in the README.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const f1 = (x) => (x === undefined || x === null || Number.isNaN(x) ? "–" : Number(x).toFixed(1));
const f2 = (x) => (x === undefined || x === null || Number.isNaN(x) ? "–" : Number(x).toFixed(2));
const f4 = (x) => (x === undefined || x === null || Number.isNaN(x) ? "–" : Number(x).toFixed(4));
const f3 = (x) => (x === undefined || x === null || Number.isNaN(x) ? "–" : Number(x).toFixed(3));
const int = (x) => (x === undefined || x === null ? "–" : Math.round(x).toLocaleString("en-US"));
const kib = (b) => (b === undefined ? "–" : b >= 1 << 20 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${(b / 1024).toFixed(1)} KiB`);
const size = (b) => (b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(2)} GiB` : b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${(b / 1024).toFixed(1)} KiB`);
const pct = (x) => `${(100 * x).toFixed(0)}%`;
const table = (head, rows) => [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");

export function loadResults(dir) {
  const read = (f) => (existsSync(join(dir, f)) ? JSON.parse(readFileSync(join(dir, f), "utf8")) : undefined);
  const retrieval = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => /^retrieval-\d+\.json$/.test(f))
        .map(read)
        .sort((a, b) => a.docs - b.docs)
    : [];
  return { encoder: read("encoder.json"), retrieval, colbert: read("colbert-fidelity.json") ?? read("colbert-fidelity.small.json") };
}

export function machineSection(r) {
  const m = r.encoder?.machine ?? r.retrieval[0]?.machine ?? r.colbert?.machine;
  if (!m) return "";
  // Parts measured on another machine than the header's say so (results may come from different runs).
  const cpu = (x) => (x.cpuModel !== m.cpuModel ? ` on ${x.cpuModel} (${x.cpuFlags.join(", ") || "no listed flags"})` : "");
  const loads = [
    r.encoder && `encoder: \`${r.encoder.machine.uptime}\`${cpu(r.encoder.machine)}`,
    ...r.retrieval.map((x) => `retrieval ${int(x.docs)}: \`${x.machine.uptime}\`${cpu(x.machine)}${x.m3 && x.m3.recall === undefined ? " (previous code)" : ""}`),
    r.colbert && `colbert fidelity: \`${r.colbert.machine.uptime}\`${cpu(r.colbert.machine)}`,
  ].filter(Boolean);
  return [
    `**Machine:** ${m.cpuModel}, \`nproc\` = ${m.nproc}, ${m.memTotalGiB} GiB RAM, no GPU; CPU flags ${m.cpuFlags.join(", ")}; Node ${m.node}, onnxruntime-node ${m.onnxruntimeNode}.`,
    ``,
    `Load when each part started (other processes shared the CPU when this was not ~0):`,
    ...loads.map((l) => `- ${l}`),
  ].join("\n");
}

export function encoderSection(e) {
  if (!e) return "";
  const rows = [];
  for (const v of e.variants) {
    if (v.error) {
      rows.push([v.variant, "failed", "", "", "", "", "", ""]);
      continue;
    }
    for (const c of v.corpora) {
      rows.push([
        v.variant,
        `${c.corpus} (${c.texts})`,
        f2(c.textsPerSecond),
        f1(c.tokensPerSecond),
        `${int(c.tokens)} / ${int(c.paddedTokens)}`,
        f1(c.gflops),
        f1(c.usefulGflops),
        pct(c.fractionOfPeak ?? c.gflops / e.matmulPeak.bestGflops),
      ]);
    }
  }
  const shapes = e.matmulPeak.shapes.map((s) => `[${s.m}×${s.k}]·[${s.k}×${s.n}] ${f1(s.peakGflops)}`).join(", ");
  const notes = e.variants.filter((v) => v.note).map((v) => `- \`${v.variant}\`: ${v.note}; load ${f1(v.loadSeconds)} s, peak RSS ${int(v.peakRssMiB)} MiB`);
  const tps = (variant, corpus) => e.variants.find((v) => v.variant === variant && !v.error)?.corpora.find((c) => c.corpus === corpus)?.tokensPerSecond;
  const ratios = [];
  for (const corpus of ["queries", "passages", "mixed"]) {
    const m = tps("m3-embeddings", corpus), raw = tps("raw-sorted", corpus), fixed = tps("raw-fixed", corpus), tf = tps("transformers-js", corpus);
    const parts = [];
    if (m && raw) parts.push(`M3Embeddings (3 outputs) = ${pct(m / raw)} of the raw-session floor`);
    if (raw && fixed) parts.push(`length-sorted vs fixed unsorted batches ×${f2(raw / fixed)}`);
    if (m && tf) parts.push(`M3Embeddings vs transformers.js ×${f2(m / tf)}`);
    if (parts.length) ratios.push(`- ${corpus}: ${parts.join("; ")}`);
  }
  return [
    `### Encoder throughput`,
    ``,
    `Model: \`${e.model.dir}\` (hidden ${e.model.hidden}, ${e.model.layers} layers, FFN ${e.model.ffn}, vocab ${int(e.model.vocab)}), fp32, ${e.threads} threads, one run, one ONNX file.`,
    `FLOP per token: ${e.flopFormula}. fp32 MatMul peak of this machine through onnxruntime (best of ${e.matmulPeak.shapes[0].runs} runs, constant right operand as for weights): **${f1(e.matmulPeak.bestGflops)} GFLOP/s** (${shapes}).`,
    ``,
    table(["variant", "corpus (texts)", "texts/s", "tokens/s", "real / padded tokens", "GFLOP/s (padded)", "GFLOP/s (real)", "% of peak"], rows),
    ``,
    ...ratios,
    ``,
    ...notes,
  ].join("\n");
}

/** The comparison parts of encoder.json (bench/lib/encoder-parts.ts): int8 vs fp32, single query, MCLS, op profile. */
export function comparisonsSection(e) {
  const c = e?.comparisons;
  if (!c) return "";
  const out = [];
  const at = (x) => (x?.startedAt ? ` Load at start: \`${x.startedAt}\`.` : "");
  if (c.int8?.corpora) {
    out.push(
      `#### int8 vs fp32 (same texts, same batches, run alternately in one process)`,
      ``,
      `int8 = \`onnx/model_quantized.onnx\` written by \`m3 quantize\` (per-column weight scales, per-row embedding scales).${at(c.int8)}`,
      ``,
      table(
        ["corpus (texts)", "fp32 tokens/s", "int8 tokens/s", "int8 / fp32", "dense cosine min / mean", "lexical cosine min", "ColBERT row cosine min", "MaxSim abs diff max / mean"],
        c.int8.corpora.map((x) => [
          `${x.corpus} (${x.texts})`,
          f1(x.fp32TokensPerSecond),
          f1(x.int8TokensPerSecond),
          `×${f2(x.ratio)}`,
          `${f4(x.fidelity.denseCosine.min)} / ${f4(x.fidelity.denseCosine.mean)}`,
          f4(x.fidelity.sparseCosine.min),
          f4(x.fidelity.colbertRowCosine.min),
          `${f4(x.fidelity.maxSimAbsDiff.max)} / ${f4(x.fidelity.maxSimAbsDiff.mean)}`,
        ]),
      ),
      ``,
    );
  } else if (c.int8?.skipped) out.push(`int8 vs fp32: not run (${c.int8.skipped}).`, ``);
  if (c.single?.rows) {
    out.push(
      `#### One query of ${c.single.tokens} tokens (p50 / p90 ms over ${c.single.rows[0]?.runs ?? "?"} runs, all paths interleaved)`,
      ``,
      `\`session.run\` is the bare encoder graph on pre-built tensors (the floor); \`encode\` adds tokenising, the head graph and the post-processing.${at(c.single)}`,
      ``,
      table(["weights", "path", "p50 ms", "p90 ms"], c.single.rows.map((r) => [r.variant, r.path, f1(r.p50Ms), f1(r.p90Ms)])),
      ``,
    );
  }
  if (c.mcls && !c.mcls.error) {
    out.push(
      `#### MCLS cost`,
      ``,
      `${c.mcls.texts} texts of ~${int(c.mcls.tokensOff / c.mcls.texts)} tokens, fp32, all three outputs, \`mcls\` off and on alternately: ${f1(c.mcls.offTokensPerSecond)} vs ${f1(c.mcls.onTokensPerSecond)} tokens/s (time ×${f3(c.mcls.costRatio)} for the same texts; ${int(c.mcls.insertedCls)} inserted \`<s>\` in ${int(c.mcls.tokensOn)} model tokens). Dense cosine between the two vectors: min ${f4(c.mcls.denseCosine.min)}, mean ${f4(c.mcls.denseCosine.mean)} (random weights: only the cost is meaningful).${at(c.mcls)}`,
      ``,
    );
  }
  if (c.profile?.variants?.length) {
    const v = c.profile.variants;
    const ops = [...new Set(v.flatMap((x) => x.ops.slice(0, 10).map((o) => o.op)))];
    const cell = (x, op) => {
      const o = x.ops.find((y) => y.op === op);
      return o ? `${f1(o.ms)} (${pct(o.share)})` : "–";
    };
    out.push(
      `#### Where the time goes (onnxruntime profile, one batch of ${c.profile.batch} × ${c.profile.length} tokens, ms per run by op type)`,
      ``,
      table(["op type", ...v.map((x) => `${x.variant} (run ${f1(x.runMs)} ms)`)], ops.map((op) => [op, ...v.map((x) => cell(x, op))])),
      ``,
      `onnxruntime fuses the int8 pattern into DynamicQuantizeMatMul / MatMulIntegerToFloat; the attention products (MatMul, FusedMatMul), the residual Adds and LayerNormalization (fused into SkipLayerNormalization in fp32; the int8 sessions turn that fusion off, which measured faster there), Gelu, Transpose and Softmax stay fp32 in both graphs: a fixed cost int8 cannot shrink.${at(c.profile)}`,
      ``,
    );
  }
  return out.join("\n").trim();
}

const MODELS = ["from-docs", "independent"];
const ms2 = (x) => (x ? `${f1(x.p50)} / ${f1(x.p99)}` : "–");
const isNew = (m) => m && !m.error && m.recall !== undefined;

/** Least-squares fit y = a + b·x over the points; returns (x) => y. */
function fit(xs, ys) {
  const n = xs.length;
  if (n === 1) return () => ys[0];
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0, sxx = 0;
  for (let i = 0; i < n; i++) { sxy += (xs[i] - mx) * (ys[i] - my); sxx += (xs[i] - mx) ** 2; }
  const b = sxx === 0 ? 0 : sxy / sxx;
  return (x) => my + b * (x - mx);
}

export function retrievalSection(rs) {
  if (rs.length === 0) return "";
  const out = [`### Retrieval (synthetic corpora, query encoding excluded)`, ``];
  const news = rs.filter((r) => isNew(r.m3));
  const first = news[0]?.m3 ?? rs.find((r) => r.m3 && !r.m3.error)?.m3;
  if (first) {
    out.push(
      `Corpus: unit dense vectors (dim ${first.corpus.dim}) in clusters of ~50 documents; ${f1(first.corpus.sparseTermsPerDoc)} sparse terms per document on average (20–200, Zipf-like over ${int(first.corpus.vocab)} ids); ${f1(first.corpus.colbertTokensPerDoc)} ColBERT vectors per document (64–256). ` +
        `Two query sets (bench/lib/synthetic.ts): *from-docs*, each query cut from a target document (the three modes agree), and *independent*, dense, text and ColBERT context drawn from three different clusters (the modes disagree). ` +
        `Ground truth: exhaustive fused scoring (0.4·dense + 0.2·sparse + 0.4·float32 MaxSim over every document). k = 10, default options: dense top-100 ∪ sparse top-100 ∪ the ColBERT sketch's top-100 (means of sketched rows), approximate ColBERT scores for that pool, exact int8 ColBERT for the best 32 (and 32 more at a time while the approximation error allows, up to 128). ` +
        `Warm = second pass over the queries after loading, cold = first pass (the ColBERT record cache empty; the OS page cache not dropped).`,
      ``,
    );
  }
  const rows = [];
  for (const r of rs) {
    const m = r.m3;
    const l = r.langchain;
    if (isNew(m)) {
      const t = m.latencyMs;
      rows.push([
        `${int(r.docs)}`,
        `langchain-m3 (${m.codec}, sketch ${m.sketchDim})`,
        `${f1(m.buildSeconds)} s (${int(m.docsPerSecond)}/s)`,
        `${f1(m.loadSeconds)} s`,
        ms2(t.dense),
        ms2(t.sparse),
        ms2(t.multiVector),
        `${ms2(t.prescore)} (pool ${int(m.poolSize.p50)})`,
        `${ms2(t.colbert)} (${int(m.reranked.p50)}–${int(m.reranked.p99)})`,
        ms2(t.endToEnd),
        ms2(m.latencyColdMs.endToEnd),
        size(m.diskBytes.total),
        `${int(m.peakRssMiB)} MiB`,
      ]);
    } else if (m && !m.error) {
      rows.push([`${int(r.docs)}`, `langchain-m3 (${m.codec}), previous code`, `${f1(m.buildSeconds)} s (${int(m.docsPerSecond)}/s)`, `${f1(m.loadSeconds)} s`, ms2(m.latencyMs.dense), ms2(m.latencyMs.sparse), "–", "–", `${ms2(m.latencyMs.rerankColbert)} (${int(m.poolSize.p50)})`, ms2(m.latencyMs.endToEnd), "–", size(m.diskBytes.total), `${int(m.peakRssMiB)} MiB`]);
    } else if (m) rows.push([`${int(r.docs)}`, "langchain-m3", "failed", "", "", "", "", "", "", "", "", "", ""]);
    if (l && !l.error && !l.skipped) {
      rows.push([
        `${int(r.docs)}`,
        `LangChain HNSWLib + BM25 + Ensemble${l.kept ? " (kept, see notes)" : ""}`,
        `${f1(l.buildSeconds)} s (${int(l.docsPerSecond)}/s)`,
        "–",
        ms2(l.latencyMs.dense),
        `${ms2(l.latencyMs.sparse)} (BM25)`,
        "no such stage", "no such stage", "no such stage",
        ms2(l.latencyMs.endToEnd),
        "–",
        size(l.diskBytes.total),
        `${int(l.peakRssMiB)} MiB`,
      ]);
    } else if (l && l.skipped) rows.push([`${int(r.docs)}`, "LangChain HNSWLib + BM25 + Ensemble", `not run: ${l.skipped}`, "", "", "", "", "", "", "", "", "", ""]);
    else if (l) rows.push([`${int(r.docs)}`, "LangChain", "failed", "", "", "", "", "", "", "", "", "", ""]);
  }
  out.push(table(["docs", "system", "build", "load", "dense ms p50/p99", "sparse ms p50/p99", "ColBERT first stage ms", "approx. ColBERT ms", "exact ColBERT ms (docs)", "end-to-end warm ms p50/p99", "cold ms p50/p99", "on disk", "peak RSS"], rows), ``);

  // recall
  const rrows = [];
  for (const r of news) {
    const m = r.m3;
    for (const model of MODELS) {
      const get = (x) => (x && x[model] ? `${f3(x[model].mean)} (min ${f1(x[model].min)})` : "–");
      const sw = m.recallSweep ?? {};
      rrows.push([int(r.docs), model, `${m.recall.fresh[model]?.queries ?? "–"}`, get(sw.previous), get(m.recall.fresh), get(m.recall.afterDeleteReplace), get(m.recall.afterSaveLoad), get(sw["rerank 64"]), get(sw["candidates 200"]), get(sw["colbertCandidates 200"]), get(sw["both 200"])]);
    }
    const l = r.langchain;
    if (l && !l.error && !l.skipped) rrows.push([int(r.docs), "from-docs", `${l.recallAt10.queries}`, `LangChain: ${f3(l.recallAt10.mean)}`, "", "", "", "", "", "", ""]);
  }
  if (rrows.length) {
    out.push(`recall@10 against the ground truth (mean over the ground-truth queries, and the worst query). *previous*: the plan before the ColBERT sketch (dense ∪ sparse top-100, every candidate reranked exactly). After deleting a third of the documents and replacing a tenth (same ids, new content) the ground truth is updated the same way; then the index is saved and loaded again.`, ``);
    out.push(table(["docs", "queries", "n", "previous plan", "default", "after delete + replace", "after save + load", "rerank 64", "candidates 200", "colbertCandidates 200", "both 200"], rrows), ``);
  }

  // bytes per document by part
  const mem = news.map((r) => {
    const b = r.m3.memoryBytesPerDoc;
    const d = r.m3.diskBytes;
    const n = r.docs;
    return [
      int(n),
      `${kib(b.dense)} (vectors ${kib(b.denseVectors)}, graph ${kib(b.denseGraph)})`,
      kib(b.sparse),
      kib(b.docs),
      `${kib((d.sketch ?? 0) / n)}`,
      `${kib(b.colbertOnDisk)} on disk; cache ${kib(b.colbertResidentAfterQueries)} after the queries`,
      `${kib(d.total / n)} (ColBERT ${kib((d.colbert + (d.colbertOffsets ?? 0)) / n)}, sketch ${kib((d.sketch ?? 0) / n)}, rest ${kib((d.total - d.colbert - (d.colbertOffsets ?? 0) - (d.sketch ?? 0)) / n)})`,
    ];
  });
  if (mem.length) {
    out.push(`Bytes per document, by part (in memory unless said; the ColBERT rows live on disk and are read per query into one buffer the store keeps, with no record cache by default (\`cacheBytes\` 0: the page cache keeps recent records); the sketch as a loaded index holds it: its rows, means and their graph, the size of its files):`, ``);
    out.push(table(["docs", "dense (HNSW)", "sparse", "doc table", "ColBERT sketch (resident)", "ColBERT rows (int8)", "on disk, all files"], mem), ``);
  }

  // targets of issue 13, at the largest measured corpus
  const big = news[news.length - 1];
  if (big) {
    const m = big.m3;
    const b = m.memoryBytesPerDoc;
    const minRecall = Math.min(...["fresh", "afterDeleteReplace", "afterSaveLoad"].flatMap((k) => MODELS.map((mo) => m.recall[k]?.[mo]?.mean ?? NaN)).filter((x) => !Number.isNaN(x)));
    const resident = (m.diskBytes.sketch ?? 0) / big.docs;
    const ok = (c) => (c ? "met" : "not met");
    out.push(`Targets at ${int(big.docs)} documents (the largest corpus measured; load at start \`${big.machine.uptime}\`):`, ``);
    const t = m.latencyMs;
    const stages = ["dense", "sparse", "multiVector", "score", "prescore", "colbert"].map((k) => `${k} ${f1(t[k].p50)}`).join(", ");
    const diskPerDoc = m.diskBytes.total / big.docs;
    const residentAll = ["dense", "sparse", "docs"].reduce((a, k) => a + (b[k] ?? 0), 0) * big.docs + (m.diskBytes.sketch ?? 0);
    const times = (x, goal) => `${f1(x / goal)}× the target`;
    out.push(table(["target", "measured", "", "distance and reason"], [
      ["recall@10 ≥ 0.99, both query sets, fresh / after delete + replace / after save + load", `${f3(minRecall)} (lowest of the six; ${m.recall.fresh.independent?.queries ?? "?"} ground-truth queries per set)`, ok(minRecall >= 0.99),
        minRecall >= 0.99 ? `On few queries only: see the notes for the larger samples (an 8k diagnostic of 20 queries, 0.985; the previous 30k run of 20 queries, 0.970).` : `${f3(0.99 - minRecall)} short, on the independent queries. The missed documents are in the candidate pool, but the approximate ColBERT tier ranks them below the exact tier's cut: the 128-column count sketch's MaxSim error (std ≈ 0.04 within a query) is two-thirds of the spread of the exact ColBERT scores in a pool (≈ 0.06). The other columns of the recall table show what deeper settings buy.`],
      ["query p50 ≤ 20 ms, p99 ≤ 80 ms (warm)", `${f1(t.endToEnd.p50)} / ${f1(t.endToEnd.p99)} ms (cold ${f1(m.latencyColdMs.endToEnd.p50)} / ${f1(m.latencyColdMs.endToEnd.p99)})`, ok(t.endToEnd.p50 <= 20 && t.endToEnd.p99 <= 80),
        t.endToEnd.p50 <= 20 && t.endToEnd.p99 <= 80 ? "" : `p50 ${times(t.endToEnd.p50, 20)}, p99 ${times(t.endToEnd.p99, 80)}. Stage p50s (ms): ${stages}. The two ColBERT tiers (the pool's approximate scores in one onnxruntime thread, then exact int8 scores of ${int(m.reranked.p50)} (p50) to ${int(m.reranked.p99)} (p99) records of ~160 KiB each) are most of it.`],
      ["ColBERT resident ≤ 24 KiB per document", `${kib((m.diskBytes.sketch ?? 0) / big.docs)} (sketch rows, means and their graph)`, ok((m.diskBytes.sketch ?? 0) / big.docs <= 24 * 1024), ""],
      ["everything on disk ≤ 96 KiB per document", kib(diskPerDoc), ok(diskPerDoc <= 96 * 1024),
        diskPerDoc <= 96 * 1024 ? "" : `${times(diskPerDoc, 96 * 1024)}. The int8 ColBERT rows alone are ${kib(b.colbertOnDisk)} (1,028 bytes a token); meeting it needs a ≤ 3-bit code or token pooling, and pooling failed the fidelity bar on this corpus (ColBERT storage table below).`],
      ["build ≥ 500 documents/s (encoding excluded)", `${int(m.docsPerSecond)}/s`, ok(m.docsPerSecond >= 500),
        m.docsPerSecond >= 500 ? "" : `${f1(500 / m.docsPerSecond)}× too slow. Profile of a 3,000-document build (node --cpu-prof): the two HNSW inserts (1024-d dense, 128-d sketch means; efConstruction 200) ~1.2 ms a document, int8 encoding of ~160 rows ~1.0 ms, count-sketching them ~0.7 ms, the input checks and CRC ~0.3 ms, all on one JavaScript thread.`],
      ["load ≤ 5 s", `${f1(m.loadSeconds)} s`, ok(m.loadSeconds <= 5),
        m.loadSeconds <= 5 ? "" : `${times(m.loadSeconds, 5)}. Loading reads into memory everything that stays resident (${size(residentAll)} here: dense vectors and graph, sketch, sparse, doc table) and checks each file's CRC-32; on this VM the first touch of fresh memory runs at ~0.4–0.5 GB/s, which bounds it.`],
    ]), ``);
  }

  // projection to 1,000,000 documents
  if (news.length >= 2) {
    const xs = news.map((r) => r.docs);
    const N = 1e6;
    const lin = (f) => fit(xs, news.map((r) => f(r.m3)));
    const logf = (f) => { const g = fit(xs.map(Math.log), news.map((r) => f(r.m3))); return (x) => g(Math.log(x)); };
    const t = (k) => (m) => m.latencyMs[k].p50;
    const last = news[news.length - 1].m3;
    const flat = (k) => () => last.latencyMs[k].p50;
    const stages = [
      ["dense HNSW", logf(t("dense")), "log N (graph search)", "dense"],
      ["sparse top-100", lin(t("sparse")), "N (posting lists grow with the corpus)", "sparse"],
      ["ColBERT first stage", logf(t("multiVector")), "log N (graph search)", "multiVector"],
      ["exact dense + sparse of the pool", flat("score"), "not with N: the pool is capped (≤ 300); the largest run's value", "score"],
      ["approximate ColBERT of the pool", flat("prescore"), "not with N: the pool is capped; the largest run's value", "prescore"],
      ["exact ColBERT of the best 32–128", flat("colbert"), `not with N (32–128 records); the largest run's warm value. At 1M the ${size(last.memoryBytesPerDoc.colbertOnDisk * N)} of ColBERT rows cannot stay in the page cache: expect the cold figure, ${f1(last.latencyColdMs.colbert.p50)} ms p50 at ${int(news[news.length - 1].docs)}, or more on a slower disk`, "colbert"],
    ];
    const prow = stages.map(([name, f, why, key]) => [name, ...xs.map((x, i) => f1(news[i].m3.latencyMs[key].p50)), f1(Math.max(0, f(N))), why]);
    prow.push(["sum of the stages", ...xs.map((x, i) => f1(stages.reduce((a, st) => a + news[i].m3.latencyMs[st[3]].p50, 0))), f1(stages.reduce((a, st) => a + Math.max(0, st[1](N)), 0)), "(end-to-end p50 is not the sum of the stage p50s, but close)"]);
    out.push(`Projection to 1,000,000 documents from the runs above (warm p50 per stage, ms; each stage's cost model in the last column, fitted where it grows with N; few, noisy, shared-machine points: read it as an order of magnitude):`, ``);
    out.push(table(["stage", ...xs.map((x) => `${int(x)} measured`), "1,000,000 projected", "grows with"], prow), ``);
    // Bytes per document hardly change with N (measured 10k vs 30k above); a straight-line fit of
    // two noisy per-document values extrapolated 30x can go negative, so the largest run's value is used.
    const bytes = (f) => f(news[news.length - 1].m3);
    const b = (k) => (m) => m.memoryBytesPerDoc[k];
    const brow = [
      ["dense (vectors + HNSW)", bytes(b("dense"))],
      ["sparse", bytes(b("sparse"))],
      ["doc table", bytes(b("docs"))],
      ["ColBERT sketch (resident)", bytes((m) => (m.diskBytes.sketch ?? 0) / m.docs)],
      ["ColBERT rows (disk)", bytes(b("colbertOnDisk"))],
      ["everything on disk", bytes((m) => m.diskBytes.total / m.docs)],
    ].map(([name, v]) => [name, kib(v), size(v * N)]);
    out.push(table(["part", `per document (at ${int(xs[xs.length - 1])})`, "at 1,000,000 documents"], brow), ``);
    const residentAt1M = ["dense", "sparse", "docs"].reduce((a, k) => a + last.memoryBytesPerDoc[k], 0) * N + ((last.diskBytes.sketch ?? 0) / news[news.length - 1].docs) * N;
    out.push(`Resident at 1,000,000 documents (dense, sparse, doc table and sketch): ${size(residentAt1M)}${residentAt1M > 23.5 * 2 ** 30 ? ", more than this machine's 23.5 GiB: a million documents need a larger machine" : ""}.`, ``);
    out.push(`Build at 1,000,000 documents at the measured rate of the largest run: ${f1(N / news[news.length - 1].m3.docsPerSecond / 3600)} h; load grows linearly (${f1(news[news.length - 1].m3.loadSeconds * N / news[news.length - 1].docs)} s projected).`, ``);
  }
  for (const r of news) {
    const m = r.m3;
    out.push(
      `- ${int(r.docs)} docs: build ${f1(m.buildSeconds)} s (excluding ${f1(m.generateSeconds)} s generating the corpus and ${f1(m.groundTruthSeconds)} s of ground truth), save ${f1(m.saveSeconds)} s, load ${f1(m.loadSeconds)} s; deleting ${int(m.mutation?.deleted)} documents ${f1(m.mutation?.deleteSeconds)} s, replacing ${int(m.mutation?.replaced)} ${f1(m.mutation?.replaceSeconds)} s, save ${f1(m.mutation?.resaveSeconds)} s, load ${f1(m.mutation?.reloadSeconds)} s; candidate pool p50 ${int(m.poolSize.p50)}; RSS after load ${int(m.rssMiB.afterLoad)} MiB; machine at start \`${r.machine.uptime}\`, at end \`${r.machineAtEnd?.uptime ?? "?"}\`.`,
    );
  }
  for (const r of rs) {
    if (r.langchain && r.langchain.kept) out.push(`- ${int(r.docs)} docs, LangChain row: ${r.langchain.kept}.`);
  }
  return out.join("\n");
}

export function colbertSection(c) {
  if (!c) return "";
  const ms = (wall, cpu) => (cpu !== undefined ? `${f1(wall)} / ${f1(cpu)}` : f1(wall));
  const rows = c.results.map((x) => [
    x.config ?? `${x.codec}/pf${x.poolFactor}`,
    f3(x.overlapAt10),
    f3(x.kendallTau),
    x.sourceAt1 !== undefined ? f3(x.sourceAt1) : "–",
    f1(x.bytesPerToken),
    ms(x.coldMsP50, x.coldCpuMsP50),
    ms(x.warmMsP50, x.warmCpuMsP50),
    x.e2eRecallAt10 !== undefined ? f3(x.e2eRecallAt10) : x.recallAt10 !== undefined ? f3(x.recallAt10) : "–",
  ]);
  return [
    `### ColBERT storage: fidelity and cost (\`${c.command}\`)`,
    ``,
    `${c.corpus.docs} documents of ${c.corpus.minTokens}–${c.corpus.maxTokens} tokens, dim ${c.corpus.dim}, ${c.corpus.queries} queries reranking ${c.corpus.candidates} candidates each; reference float32 without pooling. Peak RSS ${int(c.peakRssMiB)} MiB.`,
    ``,
    table(["codec / pool factor", "overlap@10", "Kendall tau", "source@1", "bytes/token", "rerank 100: cold ms p50 (wall / CPU)", "warm ms p50 (wall / CPU)", "recall@10"], rows),
  ].join("\n");
}

export function render(dir) {
  const r = loadResults(dir);
  // Hand-written remarks on a run (e.g. what could not be measured and why), kept next to the JSON.
  const notes = existsSync(join(dir, "NOTES.md")) ? readFileSync(join(dir, "NOTES.md"), "utf8").trim() : "";
  return [machineSection(r), encoderSection(r.encoder), comparisonsSection(r.encoder), retrievalSection(r.retrieval), colbertSection(r.colbert), notes].filter(Boolean).join("\n\n");
}

function check(dir, parts) {
  const r = loadResults(dir);
  const errors = [];
  if (!parts.includes("encoder")) delete r.encoder;
  if (!parts.includes("retrieval")) r.retrieval = [{ docs: 0, m3: "skip" }];
  if (!parts.includes("colbert")) r.colbert = "skip";
  const finite = (x, what) => {
    if (typeof x !== "number" || !Number.isFinite(x)) errors.push(`${what} is ${x}`);
  };
  if (!r.encoder) {
    if (parts.includes("encoder")) errors.push("encoder.json missing");
  }
  else {
    finite(r.encoder.matmulPeak.bestGflops, "matmul peak");
    for (const v of r.encoder.variants) {
      if (v.error) errors.push(`encoder variant ${v.variant} failed`);
      else for (const c of v.corpora) ["textsPerSecond", "tokensPerSecond", "gflops"].forEach((k) => finite(c[k], `${v.variant}.${c.corpus}.${k}`));
    }
    for (const [name, part] of Object.entries(r.encoder.comparisons ?? {})) {
      if (part?.error) errors.push(`encoder part ${name} failed`);
    }
    for (const x of r.encoder.comparisons?.int8?.corpora ?? []) ["fp32TokensPerSecond", "int8TokensPerSecond", "ratio"].forEach((k) => finite(x[k], `int8.${x.corpus}.${k}`));
    for (const x of r.encoder.comparisons?.single?.rows ?? []) finite(x.p50Ms, `single.${x.variant}.${x.path}`);
  }
  if (r.retrieval.length === 0) errors.push("no retrieval-*.json");
  for (const x of r.retrieval) {
    if (x.m3 === "skip") continue;
    for (const s of ["m3", "langchain"]) {
      const y = x[s];
      if (y && y.skipped) continue;
      if (!y || y.error) {
        errors.push(`retrieval ${x.docs} ${s} missing or failed`);
        continue;
      }
      finite(y.buildSeconds, `${s}.buildSeconds`);
      finite(y.latencyMs.endToEnd.p50, `${s}.p50`);
      finite(y.peakRssMiB, `${s}.peakRssMiB`);
      if (!(y.recallAt10.mean >= 0 && y.recallAt10.mean <= 1)) errors.push(`${s} recall ${y.recallAt10.mean}`);
    }
  }
  if (!r.colbert) errors.push("colbert-fidelity json missing");
  return errors;
}

const isMain = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const args = process.argv.slice(2);
  const get = (k, d) => {
    const i = args.indexOf(k);
    return i >= 0 ? args[i + 1] : d;
  };
  const dir = get("--dir", "bench/results");
  if (args.includes("--check")) {
    const errors = check(dir, get("--parts", "encoder,retrieval,colbert").split(","));
    if (errors.length) {
      console.error(`bench results in ${dir} are not well formed:\n- ${errors.join("\n- ")}`);
      process.exit(1);
    }
    console.error(`bench results in ${dir}: well formed`);
  }
  const md = `# Benchmark report\n\nGenerated by \`npm run bench\` (scripts/bench.sh) from the JSON files in this folder.\n\n${render(dir)}\n`;
  const out = get("--out", join(dir, "REPORT.md"));
  writeFileSync(out, md);
  if (!args.includes("--quiet")) process.stdout.write(md);
}
