/**
 * The demo behind `npm run demo` (see scripts/demo.sh): picks a model, indexes the sample
 * corpus with `m3 index` (incremental: a second run only checks hashes), runs every sample query
 * (in one process, through the functions `m3 query --compare` uses) and prints the four rankings side by side, marking the hits
 * that are about the query's concept (in any language) with ✓.
 *
 * Without a BGE-M3 (no --model, no M3_MODEL_DIR, none in the Hugging Face cache) it uses the small
 * model this repository trained (data/manpages/model, scripts/train: hidden 64, 2 layers, trained
 * on Debian man pages) on what that model can read: the held-out man pages of
 * data/manpages/eval.json.gz (pages it never saw in training, 12 languages) with 24 of their NAME
 * descriptions as queries. The sample corpus is not used then: its Arabic and Hindi texts are
 * outside the small model's vocabulary and its topics (bread, the Berlin wall…) outside its data.
 */
import { spawnSync } from "node:child_process";
import { gunzipSync } from "node:zlib";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { renderTable } from "../src/cli/table.js";
import { truncateStart } from "../src/cli/format.js";
import { resolvePretrained } from "../src/hub/index.js";
import { openIndexForRead, openModel, type CliHit } from "../src/cli/engine.js";
import { DEFAULT_WEIGHTS } from "../src/types.js";

const ROOT = path.resolve(import.meta.dirname, "..");
const CLI = path.join(ROOT, "dist/cli/main.js");
const TRAINED = path.join(ROOT, "data/manpages/model");
const MANPAGES_EVAL = path.join(ROOT, "data/manpages/eval.json.gz");
const SAMPLE = path.join(ROOT, "data/sample-corpus");
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

type ModelKind = "bge-m3" | "trained";

async function pickModel(): Promise<{ dir: string; real: boolean; kind: ModelKind; how: string }> {
  const given = arg("--model") ?? process.env["M3_MODEL_DIR"];
  if (given) return { dir: given, real: true, kind: "bge-m3", how: arg("--model") ? "--model" : "M3_MODEL_DIR" };
  try {
    const r = await resolvePretrained("BAAI/bge-m3", { localFilesOnly: true });
    return { dir: r.dir, real: true, kind: "bge-m3", how: "the Hugging Face cache (BAAI/bge-m3)" };
  } catch {
    return { dir: TRAINED, real: false, kind: "trained", how: "the small model trained by this repository" };
  }
}

/** The held-out man pages as a demo corpus (one .jsonl file) and 24 of their queries, 2 per language. */
function manpageCorpus(dir: string): { docs: string; queries: Query[]; note: string } {
  const set = JSON.parse(gunzipSync(readFileSync(MANPAGES_EVAL)).toString("utf8")) as {
    corpus: { id: string; page: string; lang: string; text: string }[];
    queries: { id: string; page: string; lang: string; text: string }[];
  };
  const docs = path.join(dir, "docs");
  mkdirSync(docs, { recursive: true });
  const lines = set.corpus.map((d) => JSON.stringify({ id: d.id, text: d.text, metadata: { lang: d.lang, concept: d.page } }));
  const file = path.join(docs, "manpages.jsonl");
  const body = lines.join("\n") + "\n";
  if (!existsSync(file) || readFileSync(file, "utf8") !== body) writeFileSync(file, body);
  const perLang = new Map<string, number>();
  const queries: Query[] = [];
  for (const q of set.queries) {
    const n = perLang.get(q.lang) ?? 0;
    if (n >= 2) continue;
    perLang.set(q.lang, n + 1);
    queries.push({ id: q.id, text: q.text, lang: q.lang, relevant: q.page });
  }
  return { docs, queries, note: `${set.corpus.length} passages of ${new Set(set.corpus.map((d) => d.page)).size} held-out man pages` };
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
  "│ NO BGE-M3 MODEL FOUND: this run uses a SMALL MODEL TRAINED BY THIS REPOSITORY │",
  "│ (data/manpages/model: 2 layers, hidden 64, 17 min of CPU training on Debian   │",
  "│ man pages, scripts/train). It is NOT BGE-M3: it only knows man-page language, │",
  "│ so the demo searches held-out man pages (never seen in training) instead of   │",
  "│ the sample corpus. For BGE-M3 (~2.3 GB): node dist/cli/main.js download       │",
  "│ BAAI/bge-m3, then npm run demo again; or npm run demo -- --model /path/to/it  │",
  "└──────────────────────────────────────────────────────────────────────────────┘",
].join("\n");

async function main(): Promise<void> {
  const model = await pickModel();
  const indexDir = path.join(ROOT, ".tmp", model.real ? "demo-index" : "demo-index-trained");
  console.log(`model: ${model.dir}  (from ${model.how})`);
  if (!model.real) console.log(WARNING);
  if (!existsSync(model.dir)) {
    console.error(`demo: model folder ${model.dir} does not exist`);
    process.exit(1);
  }
  let docsDir = path.join(SAMPLE, "docs");
  let queries: Query[];
  let about = "in 9 languages";
  if (model.kind === "trained") {
    const c = manpageCorpus(path.join(ROOT, ".tmp", "demo-manpages"));
    docsDir = c.docs;
    queries = c.queries;
    about = "the same man page, in any of its languages";
    console.log(`corpus: ${c.note}; ${queries.length} queries (their NAME lines)`);
  } else {
    queries = readFileSync(path.join(SAMPLE, "queries.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Query);
  }
  console.log(`\n$ m3 index ${path.relative(ROOT, docsDir)} --model … --out ${path.relative(ROOT, indexDir)}`);
  m3(["index", docsDir, "--model", model.dir, "--out", indexDir]);
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
    console.log(`\nquery [${q.lang}]: ${q.text}    (relevant: "${q.relevant}", ${about})`);
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
  console.log(`\nsummary over ${queries.length} queries (✓ = ${model.kind === "trained" ? "a passage of the query's man page, any language" : "about the query's concept, in any of the 9 languages"}):`);
  console.log(
    renderTable(
      [{ header: "mode" }, { header: "relevant at rank 1", right: true }, { header: `relevant in top ${K}`, right: true }],
      modes.map((m) => [m, `${found[m].top1}/${queries.length}`, `${found[m].inTopK}/${queries.length * K}`]),
    ),
  );
  console.log(verdict(found));
  console.log(`\nTry your own: node dist/cli/main.js query ${path.relative(ROOT, indexDir)} "your question" --compare`);
  if (!model.real) console.log(`\n${WARNING}`);
}

/** Says plainly whether the hybrid ranking found the concept more often than every single mode. */
function verdict(found: Record<string, { top1: number; inTopK: number }>): string {
  const single = ["dense", "sparse", "colbert"];
  const h = found["hybrid"]!;
  const best1 = Math.max(...single.map((m) => found[m]!.top1));
  const bestK = Math.max(...single.map((m) => found[m]!.inTopK));
  const say = (a: number, b: number, what: string) =>
    a > b ? `the hybrid ranking finds it ${what} more often than any single mode (${a} vs ${b})` : a === b ? `the hybrid ranking ties the best single mode ${what} (${a})` : `the hybrid ranking finds it ${what} LESS often than the best single mode (${a} vs ${b})`;
  return `\nverdict: ${say(h.top1, best1, "at rank 1")}; ${say(h.inTopK, bestK, `in the top ${K}`)}.`;
}

await main();
