/**
 * What `M3Reranker` adds to a store that has only dense vectors: LangChain's MemoryVectorStore
 * over M3Embeddings (dense), alone and behind a ContextualCompressionRetriever whose compressor
 * is M3Reranker (fused dense + lexical + ColBERT score), on the held-out man pages.
 *
 *   npx tsx bench/rerank.ts [--model data/manpages/model] [--eval data/manpages/eval.json.gz]
 *                           [--pools 20,50] [--queries 0 (= all)] [--out bench/results/rerank.json]
 *
 * Model: by default the small model trained by this repository (data/manpages/model), not
 * BGE-M3. A query's target is its page (any passage of it, any language); rankings are of pages
 * (a page's later passages dropped), as in bench/quality.ts. "store top k" = the store's own
 * order; "+ M3Reranker over N" = the store's top N passages reordered by the fused score.
 */
import { ContextualCompressionRetriever } from "@langchain/classic/retrievers/contextual_compression";
import { MemoryVectorStore } from "@langchain/classic/vectorstores/memory";
import { Document } from "@langchain/core/documents";
import { writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { M3Embeddings } from "../src/langchain/embeddings.js";
import { M3Reranker } from "../src/langchain/reranker.js";
import { loadEvalSet, pageMetrics, pagesOf } from "./lib/quality-eval.js";
import { parseArgs } from "./lib/machine.js";

const here = dirname(fileURLToPath(import.meta.url));
const args = parseArgs(process.argv.slice(2));
const modelDir = resolve(typeof args.model === "string" ? args.model : join(here, "../data/manpages/model"));
const evalPath = resolve(typeof args.eval === "string" ? args.eval : join(here, "../data/manpages/eval.json.gz"));
const pools = (typeof args.pools === "string" ? args.pools : "20,50").split(",").map(Number);
const limit = Number(typeof args.queries === "string" ? args.queries : "0");
const out = typeof args.out === "string" ? resolve(args.out) : join(here, "results", "rerank.json");

const set = loadEvalSet(evalPath);
const queries = limit > 0 ? set.queries.slice(0, limit) : set.queries;
const embeddings = new M3Embeddings({ modelPath: modelDir });
const t0 = performance.now();
const store = await MemoryVectorStore.fromDocuments(
  set.corpus.map((d) => new Document({ id: d.id, pageContent: d.text, metadata: { id: d.id, page: d.page, lang: d.lang } })),
  embeddings,
);
const indexSeconds = (performance.now() - t0) / 1000;
const deepest = Math.max(...pools);

interface Row {
  config: string;
  "recall@1": number;
  "recall@5": number;
  "recall@10": number;
  "MRR@10": number;
  seconds: number;
}

function metrics(config: string, rankings: string[][], seconds: number): Row {
  const targets = queries.map((q) => q.page);
  const m = pageMetrics(rankings, targets, targets.map(() => 1));
  const at5 = rankings.filter((r, i) => r.slice(0, 5).includes(targets[i]!)).length / rankings.length;
  return { config, "recall@1": m["recall@1"], "recall@5": at5, "recall@10": m["recall@10"], "MRR@10": m["MRR@10"], seconds };
}

const idsOf = (docs: Array<{ metadata: Record<string, unknown> }>): string[] => docs.map((d) => d.metadata["id"] as string);
const rows: Row[] = [];
let t = performance.now();
const base: string[][] = [];
for (const q of queries) base.push(idsOf(await store.asRetriever(deepest).invoke(q.text)));
rows.push(metrics(`MemoryVectorStore (dense) alone, top ${deepest}`, base.map((ids) => pagesOf(set, ids)), (performance.now() - t) / 1000));
for (const n of pools) {
  const reranker = new M3Reranker({ encoder: embeddings, topN: n });
  const retriever = new ContextualCompressionRetriever({ baseCompressor: reranker, baseRetriever: store.asRetriever(n) });
  t = performance.now();
  const got: string[][] = [];
  for (const q of queries) got.push(idsOf(await retriever.invoke(q.text)));
  rows.push(metrics(`+ M3Reranker over the store's top ${n}`, got.map((ids) => pagesOf(set, ids)), (performance.now() - t) / 1000));
  // What the reranker can reach at most: the target page among the store's top n passages.
  const reach = base.filter((ids, i) => pagesOf(set, ids.slice(0, n)).includes(queries[i]!.page)).length / base.length;
  rows[rows.length - 1]!["config"] += ` (target page in the pool: ${reach.toFixed(3)})`;
}
await embeddings.dispose();

const lines = [
  `model ${modelDir}; ${queries.length} queries, ${set.corpus.length} passages; store built in ${indexSeconds.toFixed(1)} s; load ${loadavg().map((x) => x.toFixed(2)).join(" ")}`,
  "| configuration | R@1 | R@5 | R@10 | MRR@10 | seconds (all queries) |",
  "|---|---|---|---|---|---|",
  ...rows.map((r) => `| ${r.config} | ${r["recall@1"].toFixed(3)} | ${r["recall@5"].toFixed(3)} | ${r["recall@10"].toFixed(3)} | ${r["MRR@10"].toFixed(3)} | ${r.seconds.toFixed(1)} |`),
];
process.stdout.write(lines.join("\n") + "\n");
writeFileSync(out, JSON.stringify({ model: modelDir, eval: evalPath, queries: queries.length, passages: set.corpus.length, load: loadavg(), date: new Date().toISOString(), rows }, null, 1));
