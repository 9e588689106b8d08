/**
 * `m3 query <index-dir> "<text>"` or `m3 query --pg <url> [--table t] "<text>"`: a table of the top hits with the
 * fused and per-mode scores, or JSON.
 */
import type { Command } from "commander";
import { existsSync } from "node:fs";
import path from "node:path";
import { DEFAULT_WEIGHTS } from "../../types.js";
import { openIndexForRead, openModel, type CliHit, type CliSearch } from "../engine.js";
import { openPgForSearch, pgLabel, pgTarget, readPgCollection } from "../engine-pg.js";
import type { M3Encoding } from "../../types.js";
import { CliError, UsageError } from "../exit.js";
import { formatScore, truncate, truncateStart } from "../format.js";
import { parseIntOption, parseModes, parseProviders, parseWeights, type Mode } from "../options.js";
import { print } from "../output.js";
import { readState } from "../state.js";
import { renderTable } from "../table.js";

interface QueryOpts {
  k?: string;
  weights?: string;
  mode?: string;
  candidates?: string;
  fusion?: string;
  model?: string;
  json?: boolean;
  compare?: boolean;
  width?: string;
  pg?: string;
  table?: string;
  provider?: string;
}

export function registerQuery(program: Command): void {
  program
    .command("query")
    .description("search an index; prints rank, fused and per-mode scores and a snippet")
    .argument("<index-dir>", "folder written by `m3 index` (or by the library's saveIndex); with --pg, leave it out")
    .argument("[text]", "the query")
    .option("-k, --k <n>", "number of results", "10")
    .option("--weights <d,s,c>", "weights of dense, sparse and colbert in the fused score", "0.4,0.2,0.4")
    .option("--mode <modes>", "hybrid (all three), dense, sparse, colbert, or a subset like dense+sparse", "hybrid")
    .option("--candidates <n>", "candidates taken from each of dense and sparse before re-ranking", "100")
    .option("--fusion <method>", "weighted (the reference's weighted sum) or rrf (reciprocal-rank fusion)", "weighted")
    .option("-m, --model <dir>", "model folder (default: the one recorded in the index, or $M3_MODEL_DIR)")
    .option("--provider <list>", "onnxruntime execution providers in order of preference, e.g. cuda,cpu (default: cpu)")
    .option("--compare", "show the dense, sparse and colbert rankings beside the hybrid one")
    .option("--json", "print JSON instead of a table")
    .option("--width <cols>", "snippet width in columns", "60")
    .option("--pg <url>", "search a Postgres collection (m3 index --pg) instead of a folder: postgres://user:password@host:5432/db")
    .option("--table <name>", "with --pg: the collection (table) name (default: m3_documents)")
    .addHelpText(
      "after",
      `
Scores: higher is better. dense = inner product of normalised vectors; sparse = sum of the
products of shared tokens' lexical weights; colbert = mean over query tokens of the best match;
fused = (wd·dense + ws·sparse + wc·colbert) / (wd + ws + wc) over the modes searched.

Examples:
  m3 query ./my-index "Why does bread dough rise?" -k 5
  m3 query ./my-index "Wann fiel die Berliner Mauer?" --mode dense+sparse --json
  m3 query ./my-index "月亮怎样影响潮汐？" --compare
  m3 query --pg postgres://localhost/rag --table docs "Why does bread dough rise?"`,
    )
    .action(async (first: string, second: string | undefined, opts: QueryOpts) => {
      if (opts.pg !== undefined) {
        if (second !== undefined) throw new UsageError("with --pg, give only the query text (no index folder)");
        return runQuery(undefined, first, opts);
      }
      if (second === undefined) throw new UsageError("missing the query text: m3 query <index-dir> <text> (or m3 query --pg <url> <text>)");
      return runQuery(first, second, opts);
    });
}

interface Searchable {
  search(query: M3Encoding, o: CliSearch): Promise<CliHit[]>;
  close(): Promise<void>;
}

async function runQuery(dir: string | undefined, text: string, opts: QueryOpts): Promise<void> {
  const k = parseIntOption("-k", opts.k, 1, 10_000, 10);
  const candidates = parseIntOption("--candidates", opts.candidates, 1, 1_000_000_000, 100);
  const width = parseIntOption("--width", opts.width, 10, 1000, 60);
  const weights = parseWeights(opts.weights, DEFAULT_WEIGHTS);
  const modes = parseModes(opts.mode);
  const fusion = opts.fusion ?? "weighted";
  if (fusion !== "weighted" && fusion !== "rrf") throw new UsageError(`--fusion must be weighted or rrf; got "${fusion}"`);
  if (text.trim() === "") throw new UsageError("the query text is empty");
  const executionProviders = parseProviders(opts.provider);
  if (modes.reduce((s, m) => s + weights[m], 0) <= 0) {
    throw new UsageError(`the weights of the modes searched (${modes.join("+")}) are all 0`);
  }
  const pg = pgTarget(opts.pg, opts.table);
  let state;
  let where: string;
  if (pg !== undefined) {
    where = pgLabel(pg);
    const found = await readPgCollection(pg);
    if (found === undefined) throw new CliError(`${where} is not an M3 collection; create one with: m3 index <files> --model <dir> --pg <url> --table ${pg.table}`);
    state = found.state;
  } else {
    const indexDir = path.resolve(dir!);
    where = dir!;
    if (!existsSync(path.join(indexDir, "manifest.json"))) {
      throw new CliError(`${dir} is not an index (no manifest.json); create one with: m3 index <files> --model <dir> --out ${dir}`);
    }
    state = await readState(indexDir);
  }
  const modelPath = opts.model ?? state?.modelPath ?? process.env["M3_MODEL_DIR"];
  if (!modelPath) throw new UsageError(`no model: ${where} does not record one; pass --model <dir> or set M3_MODEL_DIR`);

  const model = await openModel(modelPath, executionProviders ? { executionProviders } : {});
  const opening: Promise<Searchable> = pg !== undefined ? openPgForSearch(pg, model) : openIndexForRead(path.resolve(dir!), model);
  const index = await opening.catch(async (err: unknown) => {
    await model.dispose();
    throw err;
  });
  try {
    const [enc] = await model.encode([text]);
    const base = { k, candidates, weights, fusion } as const;
    if (opts.compare) {
      const runs: [string, Mode[], typeof weights][] = [
        ["dense", ["dense"], weights],
        ["sparse", ["sparse"], weights],
        ["colbert", ["colbert"], weights],
        [modes.length === 3 ? "hybrid" : modes.join("+"), modes, weights],
      ];
      const results = await Promise.all(runs.map(([, m, w]) => index.search(enc!, { ...base, modes: m, weights: w })));
      if (opts.json) {
        print(JSON.stringify({ query: text, weights, rankings: Object.fromEntries(runs.map(([name], i) => [name, results[i]!.map(toJson)])) }, null, 2));
        return;
      }
      const colWidth = Math.max(18, Math.floor(width / 2));
      const rows: string[][] = [];
      for (let r = 0; r < k; r++) {
        rows.push([
          String(r + 1),
          ...results.map((hits) => (hits[r] ? `${formatScore(hits[r]!.score)} ${truncateStart(hits[r]!.id, colWidth)}` : r === 0 ? "(no hits)" : "")),
        ]);
      }
      print(`query: ${text}`);
      print(renderTable([{ header: "#", right: true }, ...runs.map(([name]) => ({ header: name }))], rows));
      return;
    }
    const hits = await index.search(enc!, { ...base, modes });
    if (opts.json) {
      print(JSON.stringify({ query: text, modes, weights, fusion, hits: hits.map(toJson) }, null, 2));
      return;
    }
    if (hits.length === 0) {
      print("no results");
      return;
    }
    const rows = hits.map((h, i) => [
      String(i + 1),
      formatScore(h.score),
      formatScore(h.scores.dense),
      formatScore(h.scores.sparse),
      formatScore(h.scores.colbert),
      truncateStart(h.id, 28),
      truncate(h.text, width),
    ]);
    print(
      renderTable(
        [
          { header: "#", right: true },
          { header: fusion === "rrf" ? "rrf" : "fused", right: true },
          { header: "dense", right: true },
          { header: "sparse", right: true },
          { header: "colbert", right: true },
          { header: "id" },
          { header: "text" },
        ],
        rows,
      ),
    );
  } finally {
    await index.close();
    await model.dispose();
  }
}

function toJson(h: CliHit): Record<string, unknown> {
  return { id: h.id, score: h.score, scores: h.scores, text: h.text, metadata: h.metadata };
}
