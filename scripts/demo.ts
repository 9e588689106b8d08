/**
 * The demo behind `npm run demo` (see scripts/demo.sh): picks a model, indexes the sample
 * corpus with `m3 index` (incremental: a second run only checks hashes), runs every sample query
 * (in one process, through the functions `m3 query --compare` uses) and prints the four rankings side by side, marking the hits
 * that are about the query's concept (in any language) with ✓.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { renderTable } from "../src/cli/table.js";
import { truncateStart } from "../src/cli/format.js";
import { resolvePretrained } from "../src/hub/index.js";
import { openIndexForRead, openModel, type CliHit } from "../src/cli/engine.js";
import { DEFAULT_WEIGHTS } from "../src/types.js";

const ROOT = path.resolve(import.meta.dirname, "..");
const CLI = path.join(ROOT, "dist/cli/main.js");
const TINY = path.join(ROOT, "test/fixtures/models/encoder-only");
const CORPUS = path.join(ROOT, "data/sample-corpus");
const K = 5;

interface Query {
  id: string;
  text: string;
  lang: string;
  relevant: string;
}
type Hit = CliHit;

/** "de berlin-wall" for the corpus' documents, else the id (end kept). */
function label(h: Hit): string {
  const { lang, concept } = h.metadata;
  return typeof lang === "string" && typeof concept === "string" ? `${lang} ${concept}` : truncateStart(h.id, 20);
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function pickModel(): Promise<{ dir: string; real: boolean; how: string }> {
  const given = arg("--model") ?? process.env["M3_MODEL_DIR"];
  if (given) return { dir: given, real: true, how: arg("--model") ? "--model" : "M3_MODEL_DIR" };
  try {
    const r = await resolvePretrained("BAAI/bge-m3", { localFilesOnly: true });
    return { dir: r.dir, real: true, how: "the Hugging Face cache (BAAI/bge-m3)" };
  } catch {
    return { dir: TINY, real: false, how: "the tiny test model" };
  }
}

function m3(args: string[]): void {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: "inherit" });
  if (r.status !== 0) {
    process.stderr.write(`demo: m3 ${args.slice(0, 2).join(" ")} … failed (exit ${r.status})\n`);
    process.exit(r.status ?? 1);
  }
}

const WARNING = [
  "┌──────────────────────────────────────────────────────────────────────────────┐",
  "│ NO BGE-M3 MODEL FOUND: this run uses the tiny test model (random weights).   │",
  "│ Its rankings are MEANINGLESS; the demo only shows that the pipeline works.   │",
  "│ For real results, once (~2.3 GB):  node dist/cli/main.js download BAAI/bge-m3│",
  "│ then npm run demo again; or:  npm run demo -- --model /path/to/bge-m3        │",
  "└──────────────────────────────────────────────────────────────────────────────┘",
].join("\n");

async function main(): Promise<void> {
  const model = await pickModel();
  const indexDir = path.join(ROOT, ".tmp", model.real ? "demo-index" : "demo-index-tiny");
  console.log(`model: ${model.dir}  (from ${model.how})`);
  if (!model.real) console.log(WARNING);
  if (!existsSync(model.dir)) {
    console.error(`demo: model folder ${model.dir} does not exist`);
    process.exit(1);
  }
  console.log(`\n$ m3 index data/sample-corpus/docs --model … --out ${path.relative(ROOT, indexDir)}`);
  m3(["index", path.join(CORPUS, "docs"), "--model", model.dir, "--out", indexDir]);

  const queries = readFileSync(path.join(CORPUS, "queries.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Query);
  const modes = ["dense", "sparse", "colbert", "hybrid"] as const;
  const found = Object.fromEntries(modes.map((m) => [m, { top1: 0, inTopK: 0 }])) as Record<(typeof modes)[number], { top1: number; inTopK: number }>;

  // The queries run in this process (one model load) through the same functions `m3 query --compare` uses.
  const encoder = await openModel(model.dir, {});
  const index = await openIndexForRead(indexDir, encoder);
  // Only the corpus' documents are indexed (the corpus description lives outside docs/).
  const stray = [...index.documents()].filter((d) => typeof d.metadata["concept"] !== "string").map((d) => d.id);
  if (stray.length > 0) {
    console.error(`demo: the index holds ${stray.length} entries that are not corpus documents (${stray.slice(0, 3).join(", ")}); delete ${path.relative(ROOT, indexDir)} and run again`);
    process.exit(1);
  }
  const runs = { dense: ["dense"], sparse: ["sparse"], colbert: ["colbert"], hybrid: ["dense", "sparse", "colbert"] } as const;
  for (const q of queries) {
    const [enc] = await encoder.encode([q.text]);
    const out = { rankings: {} as Record<string, Hit[]> };
    for (const m of modes) {
      out.rankings[m] = await index.search(enc!, { k: K, candidates: 100, weights: { ...DEFAULT_WEIGHTS }, modes: [...runs[m]], fusion: "weighted" });
    }
    console.log(`\nquery [${q.lang}]: ${q.text}    (relevant: "${q.relevant}", in 9 languages)`);
    const rows: string[][] = [];
    for (let r = 0; r < K; r++) {
      rows.push([
        String(r + 1),
        ...modes.map((m) => {
          const h = out.rankings[m]?.[r];
          if (!h) return r === 0 ? "(no hits)" : "";
          const ok = h.metadata["concept"] === q.relevant;
          return `${ok ? "✓" : " "} ${h.score.toFixed(3)} ${label(h)}`;
        }),
      ]);
    }
    for (const m of modes) {
      const hits = out.rankings[m] ?? [];
      if (hits[0]?.metadata["concept"] === q.relevant) found[m].top1++;
      found[m].inTopK += hits.filter((h) => h.metadata["concept"] === q.relevant).length;
    }
    console.log(renderTable([{ header: "#", right: true }, ...modes.map((m) => ({ header: m }))], rows));
  }

  await index.close();
  await encoder.dispose();
  console.log(`\nsummary over ${queries.length} queries (✓ = about the query's concept, in any of the 9 languages):`);
  console.log(
    renderTable(
      [{ header: "mode" }, { header: "relevant at rank 1", right: true }, { header: `relevant in top ${K}`, right: true }],
      modes.map((m) => [m, `${found[m].top1}/${queries.length}`, `${found[m].inTopK}/${queries.length * K}`]),
    ),
  );
  console.log(`\nTry your own: node dist/cli/main.js query ${path.relative(ROOT, indexDir)} "your question" --compare`);
  if (!model.real) console.log(`\n${WARNING}`);
}

await main();
