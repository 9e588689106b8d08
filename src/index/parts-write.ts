/**
 * Writing the parts of an embedded index directory (the format and its guarantees: parts-io.ts):
 * generation-numbered files, the ColBERT store persisted (or compacted), every file synced, then
 * `manifest.json.tmp` renamed over `manifest.json` (the commit point), then older generations' files removed.
 */
import * as fsp from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { ErrorCodes, M3Error, isM3Error } from "../errors.js";
import { crc32File, crc32Hex, makeDirs, nodeFs, type IndexFs } from "../util/fs.js";
import type { IndexedDocument } from "./docs.js";
import { MANIFEST_FORMAT, MANIFEST_NAME, FORMAT_VERSION, parseManifest, type FileRole, type IndexManifest, type ManifestFile } from "./manifest.js";
import { encodeDense, encodeDocs, encodeSparse } from "./parts-codec.js";
import type { SaveOptions } from "./parts-io.js";
import type { IndexParts } from "./parts.js";

const COMPACT_MIN_BYTES = 64 * 1024;
const COMPACT_LIVE_FRACTION = 0.5;
/** Generation files of this index and of the ColBERT store: deleted after a commit unless the manifest names them. */
const OWN_FILE = /^(?:(?:docs|dense|sparse|sketch|sketch-means)-g\d+\.(?:bin|f32|hnsw)|colbert-(?:data|offsets)\.\d+\.bin)$/;

/** Writes `index`'s parts into `dir` (created if needed) and commits them; sets `generation` and `location`. */
export async function writeParts(index: IndexParts, dir: string, options: SaveOptions = {}): Promise<void> {
  const fs = options.fs ?? nodeFs;
  let step = "creating the directory";
  try {
    await makeDirs(dir);
    step = "reading the previous manifest";
    const previous = await readManifestQuietly(dir);
    const gen = Math.max(index.generation, previous?.generation ?? 0) + 1;
    index.generation = gen; // never re-use a generation's names, even after a failed save
    const slots = index.docs.slotCount;
    const files: ManifestFile[] = [];
    const bySlot: (IndexedDocument | undefined)[] = Array.from({ length: slots }, (_, s) => index.docs.at(s));
    const write = async (role: FileRole, name: string, encode: () => Uint8Array) => {
      step = `encoding ${name}`;
      const data = encode();
      step = `writing ${name}`;
      await fs.writeFile(join(dir, name), data);
      files.push({ role, name, size: data.byteLength, crc32: crc32Hex(data) });
    };
    await write("docs", `docs-g${gen}.bin`, () => encodeDocs(bySlot));
    await write("dense-vectors", `dense-g${gen}.f32`, () => encodeDense(index.dense.flat(slots), slots, index.denseDim));
    await write("sparse", `sparse-g${gen}.bin`, () => encodeSparse(bySlot.map((_, s) => index.sparse.vector(s)), slots));
    const graph = `dense-g${gen}.hnsw`;
    step = `writing ${graph}`;
    await index.dense.writeGraph(join(dir, graph));
    await fs.syncFile(join(dir, graph));
    files.push(await describeFile(dir, "dense-graph", graph));
    const sketch = index.sketch;
    if (sketch !== undefined) {
      await write("sketch-means", `sketch-means-g${gen}.f32`, () => encodeDense(sketch.means.flat(slots), slots, sketch.dim));
      const meansGraph = `sketch-means-g${gen}.hnsw`;
      step = `writing ${meansGraph}`;
      await sketch.means.writeGraph(join(dir, meansGraph));
      await fs.syncFile(join(dir, meansGraph));
      files.push(await describeFile(dir, "sketch-graph", meansGraph));
      const rows = `sketch-g${gen}.bin`;
      step = `writing ${rows}`;
      const fh = await fsp.open(join(dir, rows), "w");
      try {
        files.push({ role: "sketch-rows", name: rows, ...(await sketch.arena.write(fh, slots)) });
      } finally {
        await fh.close();
      }
      await fs.syncFile(join(dir, rows));
    }
    step = "persisting the ColBERT store";
    const cs = index.colbert.stats();
    // Rewrite the ColBERT data file when more than half of it is dead (removed or replaced records).
    const compact = cs.totalBytes > COMPACT_MIN_BYTES && cs.liveBytes < COMPACT_LIVE_FRACTION * cs.totalBytes;
    const compaction = compact ? await index.colbert.compact(dir, gen) : undefined;
    const colbert = compaction?.part ?? (await index.colbert.persist(dir, gen));
    step = `syncing ${colbert.offsetsFile}`;
    await fs.syncFile(join(dir, colbert.offsetsFile));
    await fs.syncFile(join(dir, colbert.dataFile));
    files.push(await describeFile(dir, "colbert-offsets", colbert.offsetsFile));
    const manifest: IndexManifest = {
      format: MANIFEST_FORMAT,
      formatVersion: FORMAT_VERSION,
      generation: gen,
      fingerprint: index.fingerprint,
      counts: { documents: index.docs.size, slots, sparsePostings: index.sparse.postingCount, colbertSlots: index.colbert.size },
      options: {
        denseDim: index.denseDim,
        colbertDim: index.colbertDim,
        dense: index.denseOptions,
        ...(sketch === undefined ? {} : { sketch: { dim: sketch.dim, seed: sketch.seed } }),
      },
      files,
      colbert,
    };
    step = "writing manifest.json.tmp";
    const tmp = join(dir, `${MANIFEST_NAME}.tmp`);
    await fs.writeFile(tmp, new TextEncoder().encode(JSON.stringify(manifest, null, 2)));
    step = "renaming manifest.json.tmp over manifest.json";
    await fs.rename(tmp, join(dir, MANIFEST_NAME));
    await fs.syncDir(dir);
    step = "removing files of older generations";
    await removeStale(dir, manifest, previous, fs, compaction?.obsoleteFiles ?? []);
    index.location = resolve(dir);
  } catch (err) {
    if (isM3Error(err)) throw err;
    throw new M3Error(
      ErrorCodes.IO_ERROR,
      `Saving the index to ${dir} failed while ${step}: ${(err as Error).message}. The index previously saved there (if any) is intact; fix the cause and save again.`,
      { cause: err, details: { dir, step } },
    );
  }
}

async function describeFile(dir: string, role: FileRole, name: string): Promise<ManifestFile> {
  const path = join(dir, name);
  return { role, name, size: (await fsp.stat(path)).size, crc32: await crc32File(path) };
}

async function readManifestQuietly(dir: string): Promise<IndexManifest | undefined> {
  try {
    return parseManifest(await fsp.readFile(join(dir, MANIFEST_NAME), "utf8"), dir);
  } catch {
    return undefined;
  }
}

/**
 * Deletes files of the previous manifest, own generation files and the files a compaction said
 * it made obsolete (plain names in `dir` only), unless the new manifest names them.
 */
async function removeStale(dir: string, now: IndexManifest, previous: IndexManifest | undefined, fs: IndexFs, obsolete: readonly string[]): Promise<void> {
  const keep = new Set([...now.files.map((f) => f.name), now.colbert.dataFile, MANIFEST_NAME]);
  const stale = new Set<string>(obsolete.filter((name) => typeof name === "string" && name !== "" && name === basename(name) && name !== "." && name !== ".."));
  if (previous !== undefined) {
    for (const f of previous.files) stale.add(f.name);
    stale.add(previous.colbert.dataFile);
  }
  for (const name of await fsp.readdir(dir)) if (OWN_FILE.test(name)) stale.add(name);
  for (const name of stale) {
    if (keep.has(name)) continue;
    await fs.unlink(join(dir, name)).catch(() => undefined);
  }
}
