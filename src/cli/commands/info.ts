/**
 * `m3 info [index-dir]` or `m3 info --pg <url> [--table t]`: the onnxruntime-node build and its
 * execution providers; with an index or a collection, also its model fingerprint, counts,
 * chunking, and sizes.
 */
import type { Command } from "commander";
import { onnxruntimeVersion, providerSupport, type ProviderSupport } from "../../encode/provider-support.js";
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { openIndexForRead } from "../engine.js";
import { pgInfo, pgLabel, pgTarget, type PgTarget } from "../engine-pg.js";
import { CliError, UsageError } from "../exit.js";
import { formatBytes, formatInt } from "../format.js";
import { print } from "../output.js";
import { readState, sourcesOf, STATE_FILE } from "../state.js";
import { renderTable } from "../table.js";

export function registerInfo(program: Command): void {
  program
    .command("info")
    .description("show the onnxruntime build and its execution providers, and what an index holds: model fingerprint, counts, sizes")
    .argument("[index-dir]", "folder written by `m3 index` (or by the library's saveIndex); without it (and without --pg), only the runtime")
    .option("--json", "print JSON")
    .option("--pg <url>", "describe a Postgres collection (m3 index --pg) instead of a folder")
    .option("--table <name>", "with --pg: the collection (table) name (default: m3_documents)")
    .action(async (dir: string | undefined, opts: { json?: boolean; pg?: string; table?: string }) => {
      const pg = pgTarget(opts.pg, opts.table);
      if (pg !== undefined) {
        if (dir !== undefined) throw new UsageError("with --pg, give no index folder");
        return runPgInfo(pg, opts);
      }
      return dir === undefined ? runRuntimeInfo(opts) : runInfo(dir, opts);
    });
}

interface RuntimeInfo {
  onnxruntimeNode: string;
  platform: string;
  providers: ProviderSupport[];
}

function runtimeInfo(): RuntimeInfo {
  return { onnxruntimeNode: onnxruntimeVersion(), platform: `${process.platform}/${process.arch}`, providers: providerSupport() };
}

/** "cpu, webgpu, cuda (not installed), tensorrt (not installed)". */
function providersLine(r: RuntimeInfo): string {
  const state = (p: ProviderSupport) => (p.installed === false ? " (not installed)" : p.installed === undefined ? " (unknown)" : "");
  return r.providers.map((p) => `${p.name}${state(p)}`).join(", ");
}

function runRuntimeInfo(opts: { json?: boolean }): void {
  const r = runtimeInfo();
  if (opts.json) {
    print(JSON.stringify({ runtime: r }, null, 2));
    return;
  }
  print(`onnxruntime-node  ${r.onnxruntimeNode} (${r.platform})`);
  print(`providers         ${providersLine(r)}`);
  if (r.providers.some((p) => p.installed === false)) {
    print("                  (not installed: rerun onnxruntime-node's install script, e.g. ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node)");
  }
}

interface ManifestLike {
  formatVersion?: number;
  generation?: number;
  fingerprint?: Record<string, unknown>;
  counts?: Record<string, number>;
  options?: Record<string, unknown>;
  colbert?: { codec?: string; poolFactor?: number; dataFile?: string; committedBytes?: number; liveBytes?: number };
}

async function runInfo(dir: string, opts: { json?: boolean }): Promise<void> {
  const indexDir = path.resolve(dir);
  let manifest: ManifestLike;
  try {
    manifest = JSON.parse(await readFile(path.join(indexDir, "manifest.json"), "utf8")) as ManifestLike;
  } catch {
    throw new CliError(`${dir} is not an index (no readable manifest.json); create one with: m3 index <files> --model <dir> --out ${dir}`);
  }
  const state = await readState(indexDir);
  const index = await openIndexForRead(indexDir, undefined);
  let documents: number;
  let sources: number;
  let stats: ReturnType<typeof index.stats>;
  try {
    documents = index.size;
    sources = sourcesOf(index.documents()).size;
    stats = index.stats();
  } finally {
    await index.close();
  }
  const files: { name: string; bytes: number }[] = [];
  for (const name of (await readdir(indexDir)).sort()) {
    const st = await stat(path.join(indexDir, name));
    if (st.isFile()) files.push({ name, bytes: st.size });
  }
  const total = files.reduce((s, f) => s + f.bytes, 0);
  const info = {
    index: indexDir,
    formatVersion: manifest.formatVersion,
    generation: manifest.generation,
    model: { path: state?.modelPath, fingerprint: manifest.fingerprint },
    documents,
    sourceFiles: sources,
    counts: manifest.counts,
    chunking: state ? { chunkSize: state.chunkSize, chunkOverlap: state.chunkOverlap, baseDir: state.baseDir } : undefined,
    options: manifest.options,
    colbert: manifest.colbert,
    memory: stats,
    disk: { totalBytes: total, files },
    runtime: runtimeInfo(),
  };
  if (opts.json) {
    print(JSON.stringify(info, null, 2));
    return;
  }
  const fp = manifest.fingerprint ?? {};
  const lines: [string, string][] = [
    ["index", indexDir],
    ["format", `v${manifest.formatVersion ?? "?"}, generation ${manifest.generation ?? "?"}`],
    ["model", state?.modelPath ?? "(not recorded; pass --model to m3 query)"],
    ["  layout", String(fp["layout"] ?? "?")],
    ["  hidden size", String(fp["hiddenSize"] ?? "?")],
    ["  vocabulary", fp["vocabSize"] !== undefined ? formatInt(Number(fp["vocabSize"])) : "?"],
    ["  tokenizer sha256", String(fp["tokenizerSha256"] ?? "?")],
    ["documents", formatInt(documents)],
    ["source files", formatInt(sources)],
    ["chunking", state ? `${state.chunkSize} tokens, overlap ${state.chunkOverlap}` : "(not recorded)"],
    ["dense", `${stats.dense.dim} dims, vectors ${formatBytes(stats.dense.vectorBytes)}, graph ${formatBytes(stats.dense.graphBytes)}`],
    ["sparse", `${formatInt(stats.sparse.terms)} terms, ${formatInt(stats.sparse.postings)} postings`],
    ["colbert", `${stats.colbert.codec}, ${stats.colbert.dim} dims, ${formatBytes(stats.colbert.liveBytes)} live of ${formatBytes(stats.colbert.totalBytes)}`],
    ["on disk", `${formatBytes(total)} in ${files.length} files`],
    ["onnxruntime-node", `${info.runtime.onnxruntimeNode} (${info.runtime.platform}); providers: ${providersLine(info.runtime)}`],
  ];
  const w = Math.max(...lines.map(([k]) => k.length));
  for (const [k, v] of lines) print(`${k.padEnd(w)}  ${v}`);
  print("");
  print(renderTable([{ header: "file" }, { header: "size", right: true }], files.map((f) => [f.name === STATE_FILE ? `${f.name} (m3 CLI state)` : f.name, formatBytes(f.bytes)])));
}

async function runPgInfo(t: PgTarget, opts: { json?: boolean }): Promise<void> {
  const { description: d, state, info, documents } = await pgInfo(t);
  const sources = sourcesOf(documents).size;
  const total = Object.values(info.bytes).reduce((s, b) => s + b, 0);
  if (opts.json) {
    print(JSON.stringify({
      collection: t.table,
      location: info.location,
      schemaVersion: d.schemaVersion,
      createdAt: d.createdAt,
      model: { path: state?.modelPath, fingerprint: d.fingerprint },
      documents: info.documents,
      sourceFiles: sources,
      chunking: state ? { chunkSize: state.chunkSize, chunkOverlap: state.chunkOverlap, baseDir: state.baseDir } : undefined,
      storage: { denseDim: d.denseDim, colbertDim: d.colbertDim, denseIndex: d.denseType, colbert: d.colbertType, hnsw: d.hnsw },
      bytes: { ...info.bytes, total },
    }, null, 2));
    return;
  }
  const fp = d.fingerprint;
  const lines: [string, string][] = [
    ["collection", pgLabel(t)],
    ["schema", `v${d.schemaVersion}, created ${d.createdAt}`],
    ["model", state?.modelPath ?? "(not recorded; pass --model to m3 query)"],
    ["  layout", fp.layout],
    ["  hidden size", String(fp.hiddenSize)],
    ["  vocabulary", formatInt(fp.vocabSize)],
    ["  tokenizer sha256", fp.tokenizerSha256],
    ["documents", formatInt(info.documents)],
    ["source files", formatInt(sources)],
    ["chunking", state ? `${state.chunkSize} tokens, overlap ${state.chunkOverlap}` : "(not recorded)"],
    ["dense", `${d.denseDim} dims (float32), HNSW over ${d.denseType} (m ${d.hnsw.m}, ef_construction ${d.hnsw.efConstruction}): ${formatBytes(info.bytes["dense"] ?? 0)}`],
    ["sparse", `postings ${formatBytes(info.bytes["sparse"] ?? 0)}`],
    ["colbert", `${d.colbertType}, ${d.colbertDim} dims, ${formatBytes(info.bytes["colbert"] ?? 0)}`],
    ["documents table", formatBytes(info.bytes["docs"] ?? 0)],
    ["in the database", formatBytes(total)],
  ];
  const w = Math.max(...lines.map(([k]) => k.length));
  for (const [k, v] of lines) print(`${k.padEnd(w)}  ${v}`);
}
