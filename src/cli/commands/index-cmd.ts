/** `m3 index <files or folders...> --model <dir> (--out <index-dir> | --pg <url> [--table t])`. */
import type { Command } from "commander";
import { existsSync } from "node:fs";
import path from "node:path";
import { openIndexForWrite, openModel, type CliModel, type WritableIndex } from "../engine.js";
import { openPgForWrite, pgLabel, pgTarget, readPgCollection } from "../engine-pg.js";
import { CliError, UsageError } from "../exit.js";
import { walkInputs } from "../files.js";
import { formatDuration, formatInt } from "../format.js";
import { installInterrupt } from "../interrupt.js";
import { parseIntOption, parseNumberOption, parseProviders } from "../options.js";
import { Progress } from "../progress.js";
import { planIncremental, readState, sourcesOf, type CliState } from "../state.js";
import { log, warn } from "../output.js";
import { filesToIndex, hashFiles, indexFile, type FileRun } from "./index-files.js";

interface IndexOpts {
  model?: string;
  out?: string;
  pg?: string;
  table?: string;
  chunkSize?: string;
  chunkOverlap?: string;
  batchDocs?: string;
  checkpoint?: string;
  variant?: string;
  provider?: string;
  quiet?: boolean;
}

export function registerIndex(program: Command): void {
  program
    .command("index")
    .description("index .txt, .md and .jsonl files (folders are walked); re-running only re-indexes what changed")
    .argument("<paths...>", "files or folders to index")
    .option("-o, --out <dir>", "index folder (created, or updated in place)")
    .option("--pg <url>", "index into Postgres + pgvector instead of a folder: postgres://user:password@host:5432/db")
    .option("--table <name>", "with --pg: the collection (table) name (default: m3_documents)")
    .option("-m, --model <dir>", "BGE-M3 model folder, or a Hub repo id in the local cache (default: $M3_MODEL_DIR, or the model the index was built with)")
    .option("--chunk-size <tokens>", "chunk size in tokens of the model's tokenizer", "512")
    .option("--chunk-overlap <tokens>", "overlap between chunks, in tokens", "64")
    .option("--batch-docs <n>", "chunks per encode call (progress and Ctrl-C are checked between calls)", "32")
    .option("--checkpoint <seconds>", "save the index between files once this many seconds (decimals allowed) have passed since the last save (0 = only at the end)", "300")
    .option("--variant <name>", "weights of an encoder-only model folder: fp32, int8 or fp16", "fp32")
    .option("--provider <list>", "onnxruntime execution providers in order of preference, e.g. cuda,cpu or cuda:1 (default: cpu)")
    .option("-q, --quiet", "no progress bar")
    .addHelpText(
      "after",
      `
Each .jsonl line is one document: {"id": "...", "text": "...", "metadata": {...}} (id and metadata optional).
Documents carry metadata.source (the file) and metadata.sourceHash; a re-run skips files whose
content is unchanged, re-indexes changed ones and removes the chunks of deleted ones.
Ctrl-C stops at the next batch and leaves the last saved index on disk (exit code 130).
With --pg, each file's chunks are written in one transaction when the file is done (rows are visible
to queries at once) and the chunking settings are stored in the collection; Ctrl-C keeps the files
finished before it.

Example:
  m3 index data/sample-corpus/docs --model ~/models/bge-m3 --out ./my-index
  m3 index data/sample-corpus/docs --model ~/models/bge-m3 --pg postgres://localhost/rag --table docs`,
    )
    .action(async (paths: string[], opts: IndexOpts) => runIndex(paths, opts));
}

/** Where the index goes: a folder (--out) or a Postgres collection (--pg). */
interface Target {
  label: string;
  exists: boolean;
  state: CliState | undefined;
  open(model: CliModel): Promise<WritableIndex>;
}

async function targetOf(opts: IndexOpts): Promise<Target> {
  const pg = pgTarget(opts.pg, opts.table);
  if ((pg === undefined) === (opts.out === undefined)) throw new UsageError("give the index's place: --out <dir> (a folder) or --pg <url> (Postgres), not both");
  if (pg !== undefined) {
    const found = await readPgCollection(pg);
    return { label: pgLabel(pg), exists: found !== undefined, state: found?.state, open: (model) => openPgForWrite(pg, model) };
  }
  const out = path.resolve(opts.out!);
  return { label: out, exists: existsSync(path.join(out, "manifest.json")), state: await readState(out), open: (model) => openIndexForWrite(out, model) };
}

async function runIndex(paths: string[], opts: IndexOpts): Promise<void> {
  const settings = settingsOf(opts);
  let { chunkSize, chunkOverlap } = settings;
  const { batchDocs, checkpointSecs, variant, executionProviders } = settings;

  const target = await targetOf(opts);
  const out = target.label;
  const state = target.state;
  const modelPath = opts.model ?? process.env["M3_MODEL_DIR"] ?? state?.modelPath;
  if (!modelPath) throw new UsageError("no model: pass --model <dir> (a BGE-M3 model folder) or set M3_MODEL_DIR");
  const baseDir = state?.baseDir ?? process.cwd();

  const walk = await walkInputs(paths);
  for (const u of walk.unsupported.slice(0, 5)) warn(`skipping ${u}: not .txt, .md or .jsonl`);
  if (walk.unsupported.length > 5) warn(`skipping ${walk.unsupported.length - 5} more files that are not .txt, .md or .jsonl`);
  const indexExists = target.exists;
  if (walk.files.length === 0 && !indexExists) {
    throw new CliError(`nothing to index: no .txt, .md or .jsonl files in ${paths.join(", ")}`);
  }

  let progress: Progress | undefined;
  const interrupt = installInterrupt(() => {
    progress?.clear();
    warn("interrupt: stopping after the current batch (Ctrl-C again to quit now); the saved index stays as it was");
  });
  let model: CliModel | undefined;
  let index: WritableIndex | undefined;
  try {
    model = await openModel(modelPath, { variant: variant as "fp32" | "int8" | "fp16", ...(executionProviders ? { executionProviders } : {}) });
    if (chunkSize > model.maxLength - 2) {
      const fit = model.maxLength - 2;
      log(`note: this model reads at most ${model.maxLength} tokens; using --chunk-size ${fit} instead of ${chunkSize}`);
      chunkOverlap = Math.min(chunkOverlap, Math.floor(fit / 4));
      chunkSize = fit;
    }
    index = await target.open(model);
    interrupt.check();

    // Hash every file; refuse binary ones.
    const { hashed, refused } = await hashFiles(walk.files, baseDir);
    const reindexAll = state !== undefined && (state.chunkSize !== chunkSize || state.chunkOverlap !== chunkOverlap);
    if (reindexAll) log(`chunking changed (was ${state!.chunkSize}/${state!.chunkOverlap} tokens): re-indexing every file`);
    const recorded = sourcesOf(index.documents());
    const plan = planIncremental({ files: hashed, refused, recorded, roots: walk.roots, baseDir, reindexAll });
    const { todo, dropNow, owner } = filesToIndex(hashed, plan, recorded);
    log(
      `${hashed.length} file(s): ${todo.length} new or changed, ${plan.unchanged.length} unchanged` +
        (plan.deletedSources.length ? `, ${plan.deletedSources.length} deleted` : ""),
    );
    if (hashed.length === 0 && refused.length === walk.files.length && walk.files.length > 0 && !indexExists) {
      throw new CliError(`nothing to index: every file given was skipped (binary)`);
    }

    // Deleted (and now-binary) files go first; a changed file's old chunks go just before it is re-indexed.
    if (dropNow.length) await index.delete(dropNow);
    let dirty = dropNow.length > 0;

    const totalBytes = todo.reduce((s, t) => s + t.file.size, 0);
    progress = new Progress({ total: totalBytes, stream: process.stderr, quiet: opts.quiet === true || todo.length === 0 });
    const started = Date.now();
    let lastSave = Date.now();
    let chunks = 0;
    let filesDone = 0;
    const warnLine = (m: string): void => {
      progress?.clear();
      warn(m);
      progress?.redraw();
    };

    const run: FileRun = { index, model, chunkSize, chunkOverlap, batchDocs, progress, interrupt, owner, warnLine };
    for (const t of todo) {
      interrupt.check();
      progress.setLabel(t.file.displayPath);
      const done = await indexFile(t, recorded.get(t.source)?.ids ?? [], run);
      if (done === undefined) continue;
      chunks += done.chunks;
      dirty ||= done.dirty;
      filesDone++;
      if (checkpointSecs > 0 && Date.now() - lastSave >= checkpointSecs * 1000 && filesDone < todo.length) {
        interrupt.check();
        progress.setLabel("checkpoint: saving the index");
        await commit(index, { baseDir, modelPath: model.modelPath, chunkSize, chunkOverlap });
        lastSave = Date.now();
        dirty = false;
      }
    }
    progress.finish();
    interrupt.check();
    if (dirty || !indexExists || state === undefined || reindexAll) {
      await commit(index, { baseDir, modelPath: model.modelPath, chunkSize, chunkOverlap });
    }
    const secs = (Date.now() - started) / 1000;
    log(summaryLine({ chunks, files: todo.length, removedIds: plan.removeIds.length, deletedFiles: plan.deletedSources.length, tokens: progress.tokenCount, secs, out, size: index.size }));
  } finally {
    interrupt.dispose();
    await index?.close();
    await model?.dispose();
  }
}

/** The run's settings from the command line (UsageError for a bad one). */
function settingsOf(opts: IndexOpts) {
  const chunkSize = parseIntOption("--chunk-size", opts.chunkSize, 16, 8190, 512);
  const chunkOverlap = parseIntOption("--chunk-overlap", opts.chunkOverlap, 0, chunkSize - 1, 64);
  const batchDocs = parseIntOption("--batch-docs", opts.batchDocs, 1, 100_000, 32);
  const checkpointSecs = parseNumberOption("--checkpoint", opts.checkpoint, 0, 10_000_000, 300);
  const variant = opts.variant ?? "fp32";
  if (!["fp32", "int8", "fp16"].includes(variant)) throw new UsageError(`--variant must be fp32, int8 or fp16; got "${variant}"`);
  return { chunkSize, chunkOverlap, batchDocs, checkpointSecs, variant, executionProviders: parseProviders(opts.provider) };
}

/** The last line of a run. */
function summaryLine(r: { chunks: number; files: number; removedIds: number; deletedFiles: number; tokens: number; secs: number; out: string; size: number }): string {
  if (r.files === 0 && r.removedIds === 0) return `index is up to date: ${r.out} holds ${formatInt(r.size)} document(s)`;
  return (
    `indexed ${formatInt(r.chunks)} chunk(s) from ${r.files} file(s), ${formatInt(r.tokens)} tokens in ${formatDuration(r.secs)}` +
    (r.secs > 0 && r.tokens > 0 ? ` (${formatInt(r.tokens / r.secs)} tok/s)` : "") +
    (r.deletedFiles ? `; removed ${r.deletedFiles} deleted file(s)` : "") +
    `; ${r.out} holds ${formatInt(r.size)} document(s)`
  );
}

async function commit(index: WritableIndex, s: { baseDir: string; modelPath: string; chunkSize: number; chunkOverlap: number }): Promise<void> {
  await index.commit({
    version: 1,
    baseDir: s.baseDir,
    modelPath: path.resolve(s.modelPath),
    chunkSize: s.chunkSize,
    chunkOverlap: s.chunkOverlap,
    updatedAt: new Date().toISOString(),
  });
}
