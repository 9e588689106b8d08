/**
 * ColBERT storage: fidelity and cost of each codec × pool factor against float32 MaxSim.
 *
 *   npx tsx bench/colbert-fidelity.ts            # default: dim 1024, 300 docs of 64–256 tokens, 16 queries
 *   npx tsx bench/colbert-fidelity.ts --small    # CI smoke: dim 128, seconds
 *   options: --docs N --queries N --candidates N --dim N --seed N --out FILE
 *            --e2e-docs N --e2e-queries N (0 docs skips the end-to-end part)
 *
 * Corpus: bench/lib/colbert-synth.ts (unit rows with a shared direction, Zipf + topic words,
 * contextual noise; queries of 8–32 rows re-drawn from a source document). Each query reranks
 * `candidates` documents: its source, up to 30 documents of the same topic, random others.
 * Reference: float32 store, no pooling (= colbertScore of src/math/scores.ts to 1e-5).
 * Measured per configuration: overlap@10 and Kendall tau-b (the configuration's scores of the
 * reference top-10, against the reference order), stored bytes per token (records incl.
 * headers ÷ tokens the encoder produced, i.e. before pooling) and rerank latency of one
 * `score(query, candidates)` on the disk-backed store: cold = freshly opened store (empty LRU;
 * the OS page cache is warm, it cannot be dropped without root), warm = records in the LRU;
 * wall and CPU time (CPU time is the steadier figure on a shared machine). source@1: share of
 * queries whose source document ranks first (a relevance check beside the agreement ones).
 * Pooled stores receive matrices pooled once by `poolTokens` (what `poolFactor: 2` does inside
 * `put`), so the pooling cost is measured once and reported separately.
 * recall@10 (e2e): bench/lib/colbert-e2e.ts — per configuration, a HybridIndex (dense + sparse +
 * that ColBERT store) over a second synthetic corpus (bench/lib/synthetic.ts: dense, sparse
 * and ColBERT; same dim and token range; default 1000 documents, 16 queries) searched with the default options, against the
 * exhaustive float32 fused ranking (0.4·dense + 0.2·sparse + 0.4·float32 MaxSim, every document).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createColbertStore, openColbertStore, poolTokens } from "../src/index/colbert/index.js";
import type { ColbertCodecName, ColbertManifestPart, ColbertStore } from "../src/index/colbert/index.js";
import type { MultiVector } from "../src/types.js";
import { e2eRecall } from "./lib/colbert-e2e.js";
import { kendallTauB, overlap, topK } from "./lib/colbert-rank.js";
import type { SynthDoc } from "./lib/colbert-synth.js";
import { mulberry32, SynthCorpus } from "./lib/colbert-synth.js";
import { log, machineInfo, now, parseArgs, peakRssMiB, percentile, round } from "./lib/machine.js";

const args = parseArgs(process.argv.slice(2));
const small = args.small === true;
const num = (k: string, d: number) => (typeof args[k] === "string" ? Number(args[k]) : d);
const dim = num("dim", small ? 128 : 1024);
const nDocs = num("docs", small ? 120 : 300);
const nQueries = num("queries", small ? 6 : 16);
const nCand = num("candidates", 100);
const seed = num("seed", 7);
const e2eDocs = num("e2e-docs", small ? 300 : 1000);
const e2eQueries = num("e2e-queries", 16);
const minTokens = small ? 32 : 64, maxTokens = small ? 96 : 256;
const here = dirname(fileURLToPath(import.meta.url));
const out = typeof args.out === "string" ? resolve(args.out) : join(here, "results", small ? "colbert-fidelity.small.json" : "colbert-fidelity.json");

const CODECS: ColbertCodecName[] = ["float32", "float16", "int8", "binary"];
const POOLS = [1, 2];
/** Warm latency is timed on the second pass over the first few queries (their records in the LRU). */
const WARM_QUERIES = 8;
interface Config { codec: ColbertCodecName; pool: number; key: string; dir: string; store: ColbertStore; part?: ColbertManifestPart }

/** CPU milliseconds (user + system, all threads) since `since`: less sensitive than wall time to other load on a shared machine. */
function cpuMs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

async function main(): Promise<void> {
  const tStart = now();
  const root = mkdtempSync(join(os.tmpdir(), "colbert-fidelity-"));
  const machine = machineInfo();
  log(`dim ${dim}, ${nDocs} docs (${minTokens}–${maxTokens} tokens), ${nQueries} queries × ${nCand} candidates; files in ${root}`);
  try {
    const configs: Config[] = [];
    for (const pool of POOLS) {
      for (const codec of CODECS) {
        const key = `${codec}/pf${pool}`;
        const dir = join(root, key.replace("/", "-"));
        mkdirSync(dir);
        const store = createColbertStore({ dim, codec });
        await store.persist(dir, 0); // disk-backed from the start: puts append to the file
        configs.push({ codec, pool, key, dir, store });
      }
    }
    // ---- build ----
    const corpus = new SynthCorpus({ dim, seed, minTokens, maxTokens, topics: Math.max(4, Math.round(nDocs / 10)) });
    const docs: Pick<SynthDoc, "ids" | "topic">[] = [];
    let tokens = 0, pooledTokens = 0, poolMs = 0;
    const t0 = now();
    for (let i = 0; i < nDocs; i++) {
      const d = corpus.doc();
      docs.push({ ids: d.ids, topic: d.topic });
      tokens += d.matrix.tokens;
      const tp = now();
      const pooled = poolTokens(d.matrix, 2);
      poolMs += now() - tp;
      pooledTokens += pooled.tokens;
      for (const c of configs) await c.store.put(i, c.pool === 1 ? d.matrix : pooled);
    }
    for (const c of configs) {
      c.part = await c.store.persist(c.dir, 1);
      await c.store.close();
    }
    log(`built in ${round((now() - t0) / 1000, 1)} s; ${tokens} tokens, pooled to ${pooledTokens} (pooling ${round(poolMs / nDocs, 1)} ms/doc)`);

    // ---- queries and candidates ----
    const rnd = mulberry32(seed + 1);
    const queries: { q: MultiVector; cands: Uint32Array; src: number }[] = [];
    for (let i = 0; i < nQueries; i++) {
      const src = Math.floor(rnd() * nDocs);
      const set = new Set<number>([src]);
      for (let j = 0; j < nDocs && set.size < 31; j++) if (docs[j]!.topic === docs[src]!.topic) set.add(j);
      while (set.size < Math.min(nCand, nDocs)) set.add(Math.floor(rnd() * nDocs));
      queries.push({ q: corpus.query(docs[src]! as SynthDoc, corpus.int(8, 32)), cands: Uint32Array.from(set), src });
    }

    // ---- score: cold (fresh store per query), then warm (one store, second pass) ----
    const rows: Record<string, unknown>[] = [];
    const ref: Float32Array[] = [];
    for (const c of configs) {
      const cold: number[] = [], coldCpu: number[] = [], warm: number[] = [], warmCpu: number[] = [], scores: Float32Array[] = [];
      for (const { q, cands } of queries) {
        const s = await openColbertStore(c.dir, c.part!);
        const t = now(), u = process.cpuUsage();
        scores.push(await s.score(q, cands));
        cold.push(now() - t);
        coldCpu.push(cpuMs(u));
        await s.close();
      }
      const s = await openColbertStore(c.dir, c.part!);
      const warmSet = queries.slice(0, WARM_QUERIES);
      for (const { q, cands } of warmSet) await s.score(q, cands);
      for (const { q, cands } of warmSet) {
        const t = now(), u = process.cpuUsage();
        await s.score(q, cands);
        warm.push(now() - t);
        warmCpu.push(cpuMs(u));
      }
      const st = s.stats();
      await s.close();
      if (c.key === "float32/pf1") ref.push(...scores);
      let ov = 0, tau = 0, src1 = 0;
      scores.forEach((sc, i) => {
        if (queries[i]!.cands[topK(sc, 1)[0]!] === queries[i]!.src) src1++;
        const rTop = topK(ref[i]!, 10);
        ov += overlap(rTop, topK(sc, 10));
        tau += kendallTauB(rTop.map((j) => ref[i]![j]!), rTop.map((j) => sc[j]!));
      });
      const row = {
        config: c.key, codec: c.codec, poolFactor: c.pool,
        overlapAt10: round(ov / queries.length, 3), kendallTau: round(tau / queries.length, 3),
        sourceAt1: round(src1 / queries.length, 3),
        bytesPerToken: round(st.liveBytes / tokens, 1),
        storedMiB: round(st.liveBytes / 2 ** 20, 1),
        coldMsP50: round(percentile(cold, 50), 1), warmMsP50: round(percentile(warm, 50), 1),
        coldCpuMsP50: round(percentile(coldCpu, 50), 1), warmCpuMsP50: round(percentile(warmCpu, 50), 1),
        warmResidentMiB: round(st.residentBytes / 2 ** 20, 1),
      };
      rows.push(row);
      log(JSON.stringify(row));
    }

    // ---- end-to-end recall@10 against exhaustive float32 fused scoring ----
    let e2eCorpus: Record<string, unknown> | undefined;
    if (e2eDocs > 0) {
      const te = now();
      const e2e = await e2eRecall({ docs: e2eDocs, queries: e2eQueries, dim, tokens: [minTokens, maxTokens], seed, codecs: CODECS, pools: POOLS });
      for (const r of rows) Object.assign(r, e2e.rows.find((x) => x.config === r.config));
      e2eCorpus = { ...e2e.corpus, seconds: round((now() - te) / 1000, 1) };
      log(`e2e done in ${String(e2eCorpus.seconds)} s`);
    }

    const head = "| codec | pool | overlap@10 | Kendall τ (top-10) | source@1 | bytes/token | rerank cold ms wall / CPU (p50) | warm ms wall / CPU (p50) | recall@10 (e2e) |";
    const lines = [head, "|---|---|---|---|---|---|---|---|---|", ...rows.map((r) =>
      `| ${String(r.codec)} | ${String(r.poolFactor)} | ${String(r.overlapAt10)} | ${String(r.kendallTau)} | ${String(r.sourceAt1)} | ${String(r.bytesPerToken)} | ${String(r.coldMsP50)} / ${String(r.coldCpuMsP50)} | ${String(r.warmMsP50)} / ${String(r.warmCpuMsP50)} | ${r.e2eRecallAt10 === undefined ? "–" : String(r.e2eRecallAt10)} |`)];
    process.stdout.write(`${lines.join("\n")}\n`);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify({
      command: `npx tsx bench/colbert-fidelity.ts ${process.argv.slice(2).join(" ")}`.trim(),
      corpus: { dim, docs: nDocs, tokens, pooledTokens, minTokens, maxTokens, queries: nQueries, candidates: nCand, seed, poolMsPerDoc: round(poolMs / nDocs, 2) },
      e2e: e2eCorpus, seconds: round((now() - tStart) / 1000, 1), machine, peakRssMiB: peakRssMiB(), results: rows,
    }, null, 2)}\n`);
    log(`wrote ${out}; peak RSS ${peakRssMiB()} MiB`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${String((err as Error).stack ?? err)}\n`);
  process.exit(1);
});
