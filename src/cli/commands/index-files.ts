/**
 * The per-file steps of `m3 index` (index-cmd.ts runs them): reading and hashing the inputs (binary files
 * refused), and indexing one file — its old chunks removed, its text chunked, its chunks added in batches with
 * progress, a `.jsonl` id owned by another file skipped.
 */
import { documentsOf, type SourceDoc } from "../chunk.js";
import type { CliModel, WritableIndex } from "../engine.js";
import { readTextFile, type FoundFile } from "../files.js";
import type { Interrupt } from "../interrupt.js";
import { warn } from "../output.js";
import type { Progress } from "../progress.js";
import { sourceName, type HashedFile, type SourceRecord } from "../state.js";

export type TodoFile = HashedFile & { file: FoundFile };

/** Every file read and hashed; files that are not text are warned about and listed in `refused` (by source name). */
export async function hashFiles(files: FoundFile[], baseDir: string): Promise<{ hashed: TodoFile[]; refused: string[] }> {
  const hashed: TodoFile[] = [];
  const refused: string[] = [];
  for (const f of files) {
    const r = await readTextFile(f.absPath);
    const source = sourceName(f.absPath, baseDir);
    if (!r.ok) {
      warn(`skipping ${f.displayPath}: ${r.reason}`);
      refused.push(source);
      continue;
    }
    hashed.push({ source, absPath: f.absPath, sha256: r.sha256, file: f });
  }
  return { hashed, refused };
}

/**
 * From the incremental plan: the files to index (in plan order), the chunk ids to drop before any file is indexed
 * (those of deleted or now-binary files; a changed file's old chunks go just before it is re-indexed), and the
 * owner (source) of each id of the files that stay.
 */
export function filesToIndex(
  hashed: TodoFile[], plan: { toIndex: HashedFile[]; removeIds: string[] }, recorded: Map<string, SourceRecord>,
): { todo: TodoFile[]; dropNow: string[]; owner: Map<string, string> } {
  const bySource = new Map(hashed.map((h) => [h.source, h]));
  const todo = plan.toIndex.map((h) => bySource.get(h.source)!);
  const todoSources = new Set(todo.map((t) => t.source));
  const changedIds = new Set(todo.flatMap((t) => recorded.get(t.source)?.ids ?? []));
  const dropNow = plan.removeIds.filter((id) => !changedIds.has(id));
  const owner = new Map<string, string>();
  for (const rec of recorded.values()) if (!todoSources.has(rec.source)) for (const id of rec.ids) owner.set(id, rec.source);
  return { todo, dropNow, owner };
}

/** What indexing one file needs from the run. */
export interface FileRun {
  index: WritableIndex;
  model: CliModel;
  chunkSize: number;
  chunkOverlap: number;
  batchDocs: number;
  progress: Progress;
  interrupt: Interrupt;
  /** Ids owned by files that stay (and, as files are indexed, by them): a repeated id is skipped. */
  owner: Map<string, string>;
  /** A warning that keeps the progress bar intact. */
  warnLine(message: string): void;
}

/**
 * Indexes `t` (its `old` chunk ids removed first); returns the chunks added and whether the index changed, or
 * undefined when the file changed since it was hashed (skipped, with a warning).
 */
export async function indexFile(t: TodoFile, old: readonly string[], run: FileRun): Promise<{ chunks: number; dirty: boolean } | undefined> {
  const { index, model, progress, interrupt, owner } = run;
  const r = await readTextFile(t.absPath);
  if (!r.ok || r.sha256 !== t.sha256) {
    run.warnLine(`skipping ${t.file.displayPath}: it changed while indexing; run again`);
    progress.advance(t.file.size, 0);
    return undefined;
  }
  let dirty = false;
  if (old.length) {
    await index.delete([...old]);
    dirty = true;
  }
  const opts = {
    chunkSize: run.chunkSize,
    chunkOverlap: run.chunkOverlap,
    countTokens: (s: string) => model.countTokens(s),
    countTokensBatch: (xs: string[]) => model.countTokensBatch(xs),
  };
  let chunks = 0;
  let advanced = 0;
  for await (const part of documentsOf(t.file, t.source, r.text, opts, (m) => run.warnLine(m))) {
    interrupt.check();
    const kept: SourceDoc[] = [];
    for (const d of part.docs) {
      const prev = owner.get(d.id);
      if (prev !== undefined && prev !== t.source) {
        run.warnLine(`${t.source}: id "${d.id}" is already used by ${prev}; skipped`);
        continue;
      }
      owner.set(d.id, t.source);
      kept.push(d);
    }
    const bytesPerDoc = kept.length ? part.bytes / kept.length : 0;
    for (let i = 0; i < kept.length; i += run.batchDocs) {
      interrupt.check();
      const batch = kept.slice(i, i + run.batchDocs);
      const tokens = await index.add(batch.map((d) => ({ ...d, metadata: { ...d.metadata, source: t.source, sourceHash: t.sha256 } })));
      dirty = true;
      chunks += batch.length;
      progress.advance(bytesPerDoc * batch.length, tokens);
      advanced += bytesPerDoc * batch.length;
    }
    if (kept.length === 0) {
      progress.advance(part.bytes, 0);
      advanced += part.bytes;
    }
  }
  interrupt.check();
  await index.endFile();
  if (advanced < t.file.size) progress.advance(t.file.size - advanced, 0);
  return { chunks, dirty };
}
