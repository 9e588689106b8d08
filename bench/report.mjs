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
  const loads = [
    r.encoder && `encoder: \`${r.encoder.machine.uptime}\``,
    ...r.retrieval.map((x) => `retrieval ${int(x.docs)}: \`${x.machine.uptime}\``),
    r.colbert && `colbert fidelity: \`${r.colbert.machine.uptime}\``,
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

export function retrievalSection(rs) {
  if (rs.length === 0) return "";
  const out = [`### Retrieval (synthetic corpora, query encoding excluded)`, ``];
  const first = rs.find((r) => r.m3 && !r.m3.error)?.m3;
  if (first) {
    out.push(
      `Corpus: unit dense vectors (dim ${first.corpus.dim}) in clusters of ~50 documents; ${f1(first.corpus.sparseTermsPerDoc)} sparse terms per document on average (20–200, Zipf-like over ${int(first.corpus.vocab)} ids); ${f1(first.corpus.colbertTokensPerDoc)} ColBERT vectors per document (64–256). Ground truth: exhaustive fused scoring (0.4·dense + 0.2·sparse + 0.4·float32 MaxSim over every document). k = 10; ours with the default 100 candidates from each of dense and sparse.`,
      ``,
    );
  }
  const rows = [];
  for (const r of rs) {
    const m = r.m3;
    const l = r.langchain;
    if (m && !m.error) {
      rows.push([
        `${int(r.docs)}`,
        `langchain-m3 (${m.codec})`,
        `${f1(m.buildSeconds)} s (${int(m.docsPerSecond)}/s)`,
        `${f1(m.latencyMs.dense.p50)} / ${f1(m.latencyMs.dense.p99)}`,
        `${f1(m.latencyMs.sparse.p50)} / ${f1(m.latencyMs.sparse.p99)}`,
        `${f1(m.latencyMs.rerankColbert.p50)} / ${f1(m.latencyMs.rerankColbert.p99)}`,
        `${f1(m.latencyMs.endToEnd.p50)} / ${f1(m.latencyMs.endToEnd.p99)}`,
        `${f3(m.recallAt10.mean)} (${m.recallAt10.queries} q)`,
        size(m.diskBytes.total),
        `${int(m.peakRssMiB)} MiB`,
      ]);
    } else rows.push([`${int(r.docs)}`, "langchain-m3", "failed", "", "", "", "", "", "", ""]);
    if (l && !l.error) {
      rows.push([
        `${int(r.docs)}`,
        `LangChain HNSWLib + BM25 + Ensemble`,
        `${f1(l.buildSeconds)} s (${int(l.docsPerSecond)}/s)`,
        `${f1(l.latencyMs.dense.p50)} / ${f1(l.latencyMs.dense.p99)}`,
        `${f1(l.latencyMs.sparse.p50)} / ${f1(l.latencyMs.sparse.p99)} (BM25)`,
        "no such stage",
        `${f1(l.latencyMs.endToEnd.p50)} / ${f1(l.latencyMs.endToEnd.p99)}`,
        `${f3(l.recallAt10.mean)} (${l.recallAt10.queries} q)`,
        size(l.diskBytes.total),
        `${int(l.peakRssMiB)} MiB`,
      ]);
    } else if (l && l.skipped) rows.push([`${int(r.docs)}`, "LangChain HNSWLib + BM25 + Ensemble", `not run: ${l.skipped}`, "", "", "", "", "", "", ""]);
    else if (l) rows.push([`${int(r.docs)}`, "LangChain", "failed", "", "", "", "", "", "", ""]);
  }
  out.push(table(["docs", "system", "build", "dense ms p50/p99", "sparse ms p50/p99", "ColBERT rerank ms p50/p99", "end-to-end ms p50/p99", "recall@10", "on disk", "peak RSS"], rows), ``);
  const mem = rs.filter((r) => r.m3 && !r.m3.error).map((r) => {
    const b = r.m3.memoryBytesPerDoc;
    return [
      int(r.docs),
      `${kib(b.dense)} (vectors ${kib(b.denseVectors)}, graph ${kib(b.denseGraph)})`,
      kib(b.sparse),
      `${kib(b.colbertOnDisk)} on disk; resident ${kib(b.colbertResidentAfterQueries ?? b.colbertResident)} after the queries (cache)`,
      kib(b.docs),
      kib(r.m3.diskBytesPerDoc),
      r.langchain && !r.langchain.error ? `${kib(r.langchain.memoryBytesPerDocRss)} RSS, ${kib(r.langchain.diskBytesPerDoc)} disk` : "–",
    ];
  });
  if (mem.length) {
    out.push(`Memory per document, by part (langchain-m3; the ColBERT part lives on disk, resident memory is bounded by the store's cache, 256 MiB by default):`, ``);
    out.push(table(["docs", "dense (HNSW)", "sparse", "ColBERT", "doc table", "total on disk", "LangChain (whole process)"], mem), ``);
  }
  // What 100k documents would take, from the largest measured corpus (every part is linear in documents).
  const big = [...rs].reverse().find((r) => r.m3 && !r.m3.error);
  if (big && !rs.some((r) => r.docs >= 100000)) {
    const b = big.m3.memoryBytesPerDoc;
    const n = 100000;
    out.push(
      `Not measured at 100,000 documents (see Notes); linear in documents from the ${int(big.docs)}-document run: ` +
        `dense ${size(b.dense * n)} RAM, sparse ${size(b.sparse * n)} RAM, doc table ${size(b.docs * n)} RAM, ColBERT ${size(b.colbertOnDisk * n)} on disk ` +
        `(resident bounded by the cache), total on disk ${size(big.m3.diskBytesPerDoc * n)}; build at the measured rate ${f1(n / big.m3.docsPerSecond / 60)} min.`,
      ``,
    );
  }
  for (const r of rs) {
    if (r.m3 && !r.m3.error) {
      const m = r.m3;
      const qRows = 24; // queries have 16–32 ColBERT rows
      const flop = m.poolSize.p50 * qRows * m.corpus.colbertTokensPerDoc * m.corpus.dim * 2;
      out.push(
        `- ${int(r.docs)} docs: the ColBERT rerank of ~${int(m.poolSize.p50)} candidates is ~${f2(flop / 1e9)} GFLOP of MaxSim, done at ${f2(flop / 1e9 / (m.latencyMs.rerankColbert.p50 / 1000))} GFLOP/s (p50).`,
      );
    }
  }
  for (const r of rs) {
    if (r.m3 && !r.m3.error) {
      out.push(
        `- ${int(r.docs)} docs: build ${f1(r.m3.buildSeconds)} s (excluding ${f1(r.m3.generateSeconds)} s generating the corpus and ${f1(r.m3.groundTruthSeconds)} s of ground truth), save ${f1(r.m3.saveSeconds)} s, load ${f1(r.m3.loadSeconds)} s, candidate pool p50 ${int(r.m3.poolSize.p50)}, RSS after load ${int(r.m3.rssMiB.afterLoad)} MiB; machine at start \`${r.machine.uptime}\`${r.parallel ? "; ours and LangChain's ran at the same time (each its own process)" : ""}.`,
      );
    }
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
