/**
 * Incremental indexing. The index itself is the record of what was indexed: every document
 * carries `metadata.source` (the file's path relative to the index's base folder) and
 * `metadata.sourceHash` (sha256 of the file's bytes). So the record is saved atomically with
 * the index and can never disagree with it. A small `m3-cli.json` next to the index keeps the
 * settings that decide whether old chunks are still valid (base folder, model, chunking).
 */
import { readFile, rename, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";

export const STATE_FILE = "m3-cli.json";

export interface CliState {
  version: 1;
  /** Folder that `metadata.source` paths are relative to (the cwd of the first `m3 index`). */
  baseDir: string;
  /** Model folder the index was built with, used by `m3 query` when `--model` is not given. */
  modelPath: string;
  chunkSize: number;
  chunkOverlap: number;
  updatedAt: string;
}

export async function readState(indexDir: string): Promise<CliState | undefined> {
  const file = path.join(indexDir, STATE_FILE);
  let raw: string;
  try {
    raw = await readFile(file, "utf8");
  } catch {
    return undefined;
  }
  try {
    const s = JSON.parse(raw) as Partial<CliState>;
    if (s.version !== 1 || typeof s.baseDir !== "string" || typeof s.modelPath !== "string") return undefined;
    if (typeof s.chunkSize !== "number" || typeof s.chunkOverlap !== "number") return undefined;
    return s as CliState;
  } catch {
    return undefined;
  }
}

/** Writes the state to a temporary file and renames it into place. */
export async function writeState(indexDir: string, state: CliState): Promise<void> {
  const file = path.join(indexDir, STATE_FILE);
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify(state, null, 2) + "\n");
  await rename(tmp, file);
}

/** What the index holds for one source file. */
export interface SourceRecord {
  source: string;
  sha256: string;
  ids: string[];
}

/** Groups the index's documents by `metadata.source`. Documents without it (added by other tools) are not listed. */
export function sourcesOf(docs: Iterable<{ id: string; metadata: Record<string, unknown> }>): Map<string, SourceRecord> {
  const out = new Map<string, SourceRecord>();
  for (const d of docs) {
    const source = d.metadata["source"];
    if (typeof source !== "string") continue;
    const sha = typeof d.metadata["sourceHash"] === "string" ? (d.metadata["sourceHash"] as string) : "";
    let rec = out.get(source);
    if (!rec) {
      rec = { source, sha256: sha, ids: [] };
      out.set(source, rec);
    } else if (rec.sha256 !== sha) rec.sha256 = ""; // mixed hashes: treat as changed
    rec.ids.push(d.id);
  }
  return out;
}

/** A file of this run, hashed. */
export interface HashedFile {
  source: string;
  absPath: string;
  sha256: string;
}

export interface Plan {
  /** Files to (re-)index: new or changed. */
  toIndex: HashedFile[];
  /** Unchanged files, skipped. */
  unchanged: HashedFile[];
  /** Sources whose chunks go away: deleted files, changed files (old chunks), and files now unreadable. */
  removeIds: string[];
  /** Sources of files that no longer exist (or left the walked folders). */
  deletedSources: string[];
}

/**
 * Decides what to do. A recorded source is dropped when its file is gone from disk, or when it
 * lies under one of this run's roots but was not found (it became hidden, or unsupported).
 * Recorded sources outside this run's roots that still exist are kept untouched.
 */
export function planIncremental(opts: {
  files: HashedFile[];
  /** Files found but refused (binary); their old chunks are removed. */
  refused: string[];
  recorded: Map<string, SourceRecord>;
  roots: string[];
  baseDir: string;
  /** Settings changed (chunking, model): everything found is re-indexed. */
  reindexAll: boolean;
  exists?: (abs: string) => boolean;
}): Plan {
  const exists = opts.exists ?? existsSync;
  const found = new Set(opts.files.map((f) => f.source));
  const toIndex: HashedFile[] = [];
  const unchanged: HashedFile[] = [];
  const removeIds: string[] = [];
  const deletedSources: string[] = [];
  for (const f of opts.files) {
    const rec = opts.recorded.get(f.source);
    if (rec && !opts.reindexAll && rec.sha256 === f.sha256) unchanged.push(f);
    else {
      toIndex.push(f);
      if (rec) removeIds.push(...rec.ids);
    }
  }
  for (const s of opts.refused) {
    const rec = opts.recorded.get(s);
    if (rec) removeIds.push(...rec.ids);
  }
  const refused = new Set(opts.refused);
  for (const rec of opts.recorded.values()) {
    if (found.has(rec.source) || refused.has(rec.source)) continue;
    const abs = path.resolve(opts.baseDir, rec.source);
    const underRoot = opts.roots.some((r) => abs === r || abs.startsWith(r.endsWith(path.sep) ? r : r + path.sep));
    if (underRoot || !exists(abs)) {
      removeIds.push(...rec.ids);
      deletedSources.push(rec.source);
    }
  }
  return { toIndex, unchanged, removeIds, deletedSources };
}

/** The stable name of a file: relative to the base folder (with "/"), or absolute when outside it. */
export function sourceName(absPath: string, baseDir: string): string {
  const rel = path.relative(baseDir, absPath);
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel.split(path.sep).join("/") : absPath;
}
