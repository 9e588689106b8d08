/**
 * Reading the parts of an embedded index directory (`IndexParts`; the class that holds them,
 * `HybridIndex`, is assembled by `persist.ts`), and the save / load options; the writes are
 * parts-write.ts.
 *
 * A write puts generation-numbered files (docs, dense vectors + graph, sparse, and the ColBERT
 * sketch: rows, means + graph) and lets the ColBERT store persist (its data file is append-only and shared across generations), fsyncs
 * them, writes `manifest.json.tmp` and renames it over `manifest.json` — the commit point —
 * then deletes files of older generations. A failure before the rename leaves the previous
 * manifest and all of its files untouched.
 *
 * A read verifies the size and checksum (format 2: CRC-32; format 1: sha256) of every file the
 * manifest names (the ColBERT data file by its committed length), checks the model fingerprint, builds every part, and only then
 * returns them: nothing is half-loaded.
 */
import * as fsp from "node:fs/promises";
import { join, resolve } from "node:path";
import { checkFingerprint } from "../backend/validate.js";
import { ErrorCodes, M3Error, isM3Error } from "../errors.js";
import { describe } from "../util/validate.js";
import type { ModelFingerprint } from "../types.js";
import type { ColbertStore, ColbertStoreFactory, ColbertStoreOptions } from "./colbert/types.js";
import { defaultColbertFactory } from "./default-colbert.js";
import { decodeDense, decodeDocs, decodeSparse } from "./parts-codec.js";
import { DenseIndex } from "./dense.js";
import { DocTable } from "./docs.js";
import { crc32File, crc32Hex, sha256, sha256File, type IndexFs } from "../util/fs.js";
import type { IndexParts } from "./parts.js";
import { MANIFEST_NAME, parseManifest, type FileRole, type IndexManifest } from "./manifest.js";
import { SparseIndex } from "./sparse.js";
import { SketchArena } from "./sketch/arena.js";
import { ColbertSketch } from "./sketch/sketch.js";
import type { MaxSim } from "../multivector/maxsim/maxsim.js";
import { indexScoring } from "./scoring.js";

export interface SaveOptions {
  /** File operations; tests pass a wrapper that fails in the middle of a save. @default node:fs with fsync */
  fs?: IndexFs;
}

export interface LoadOptions {
  /** The query encoder's fingerprint; a different one gives INDEX_MODEL_MISMATCH. @default not checked */
  fingerprint?: ModelFingerprint;
  /** Reopens the ColBERT store. @default the package's store (src/index/colbert) */
  colbertFactory?: ColbertStoreFactory;
  /** ColBERT store options at open time (e.g. cacheBytes). */
  colbert?: ColbertStoreOptions;
  /** Overrides the saved efSearch. @default the saved value */
  efSearch?: number;
}

/** A directory argument: a non-empty path string ("" would silently mean the current directory). */
export function checkDir(dir: unknown, verb: "save" | "load"): void {
  if (typeof dir !== "string" || dir === "" || dir.includes("\0")) {
    throw new M3Error(
      ErrorCodes.INVALID_ARGUMENT,
      `The directory to ${verb} must be a non-empty path without NUL characters; got ${describe(dir)}. Pass e.g. "./my-index".`,
      { details: { dir: typeof dir === "string" ? dir.slice(0, 200) : typeof dir } },
    );
  }
}

/** Reads the parts of the index saved in `dir`. Throws INDEX_CORRUPT or INDEX_MODEL_MISMATCH; never returns partial parts. */
export async function readParts(dir: string, options: LoadOptions = {}): Promise<IndexParts> {
  checkDir(dir, "load");
  let text: string;
  try {
    text = await fsp.readFile(join(dir, MANIFEST_NAME), "utf8");
  } catch (err) {
    const st = await fsp.stat(dir).catch(() => undefined);
    if (st === undefined || !st.isDirectory()) {
      throw new M3Error(
        ErrorCodes.NOT_FOUND,
        `No index directory at ${dir} (${st === undefined ? "it does not exist" : "it is not a directory"}). Pass the directory an index was saved to, or create and save one first.`,
        { cause: err, details: { dir } },
      );
    }
    throw new M3Error(ErrorCodes.INDEX_CORRUPT, `No readable ${MANIFEST_NAME} in ${dir} (${(err as Error).message}). Pass the directory an index was saved to.`, { cause: err, details: { dir } });
  }
  const m = parseManifest(text, dir);
  if (options.fingerprint !== undefined) checkFingerprint(m.fingerprint, options.fingerprint, dir);
  // Every file is read and verified at once (the sketch's rows too): on two cores the reads' page
  // faults and the checksums overlap. All are settled before any error is thrown.
  const arena = m.options.sketch === undefined ? undefined : readSketchRows(dir, m);
  const checked = m.files.filter((f) => f.role !== "sketch-rows").map(async (f): Promise<[FileRole, Uint8Array | undefined]> => {
    const path = join(dir, f.name);
    const data = f.role === "dense-graph" || f.role === "colbert-offsets" || f.role === "sketch-graph" ? undefined : await readOrCorrupt(path);
    const size = data?.byteLength ?? (await statSize(path));
    if (size !== f.size) throw corrupt(dir, f.name, `expected ${f.size} bytes, found ${size} (truncated or overwritten)`);
    if (f.sha256 !== undefined) {
      const sum = data !== undefined ? sha256(data) : await sha256File(path);
      if (sum !== f.sha256) throw corrupt(dir, f.name, "sha256 does not match the manifest");
    } else {
      const sum = data !== undefined ? crc32Hex(data) : await crc32File(path);
      if (sum !== f.crc32) throw corrupt(dir, f.name, "CRC-32 does not match the manifest");
    }
    return [f.role, data];
  });
  const settled = await Promise.allSettled([...checked, ...(arena === undefined ? [] : [arena])]);
  const failed = settled.find((r) => r.status === "rejected");
  if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
  const blobs = new Map<FileRole, Uint8Array>();
  for (const r of settled.slice(0, checked.length)) {
    const [role, data] = (r as PromiseFulfilledResult<[FileRole, Uint8Array | undefined]>).value;
    if (data !== undefined) blobs.set(role, data);
  }
  const dataSize = await statSize(join(dir, m.colbert.dataFile));
  if (dataSize < m.colbert.committedBytes) {
    throw corrupt(dir, m.colbert.dataFile, `expected at least ${m.colbert.committedBytes} committed bytes, found ${dataSize}`);
  }
  const name = (role: FileRole) => m.files.find((f) => f.role === role)!.name;
  const bySlot = decodeDocs(blobs.get("docs")!, name("docs"));
  const dense = decodeDense(blobs.get("dense-vectors")!, name("dense-vectors"));
  const sparse = decodeSparse(blobs.get("sparse")!, name("sparse"));
  const slots = m.counts.slots;
  const live = Uint8Array.from(bySlot, (d) => (d === undefined ? 0 : 1));
  const documents = live.reduce((a, b) => a + b, 0);
  if (bySlot.length !== slots || dense.slots !== slots || sparse.slots !== slots || dense.dim !== m.options.denseDim || documents !== m.counts.documents) {
    throw corrupt(dir, name("docs"), "document, vector and slot counts disagree with the manifest");
  }
  const denseOptions = { ...m.options.dense, efSearch: options.efSearch ?? m.options.dense.efSearch };
  const scoring = indexScoring(options.colbert);
  let colbert: ColbertStore | undefined;
  try {
    const denseIndex = await DenseIndex.restore(m.options.denseDim, denseOptions, dense.vectors, live, join(dir, name("dense-graph"))).catch((err: unknown) => {
      throw corrupt(dir, name("dense-graph"), `hnswlib could not read it (${(err as Error).message})`);
    });
    const sparseIndex = SparseIndex.fromForward(sparse.vectors.map((v, s) => (live[s] === 1 ? v : undefined)));
    const sketch = arena === undefined ? undefined : await loadSketch(dir, m, await arena, blobs.get("sketch-means")!, live, options, scoring.sketch);
    colbert = await (options.colbertFactory ?? defaultColbertFactory).open(dir, m.colbert, scoring.colbert);
    if (colbert.size !== m.counts.colbertSlots || colbert.dim !== m.options.colbertDim) {
      throw corrupt(dir, m.colbert.offsetsFile, `ColBERT store holds ${colbert.size} matrices of dim ${colbert.dim}, manifest says ${m.counts.colbertSlots} of dim ${m.options.colbertDim}`);
    }
    return {
      fingerprint: m.fingerprint,
      denseDim: m.options.denseDim,
      colbertDim: m.options.colbertDim,
      denseOptions,
      docs: DocTable.fromSlots(bySlot),
      dense: denseIndex,
      sparse: sparseIndex,
      colbert,
      sketch,
      rowScorer: scoring.owned,
      generation: m.generation,
      location: resolve(dir),
    };
  } catch (err) {
    await colbert?.close().catch(() => undefined);
    await scoring.owned?.release().catch(() => undefined);
    if (isM3Error(err)) throw err;
    throw corrupt(dir, m.colbert.offsetsFile, (err as Error).message);
  }
}

/** The sketch's rows file of a format-2 manifest, read in pages and checked against the manifest. */
async function readSketchRows(dir: string, m: IndexManifest): Promise<SketchArena> {
  const part = m.options.sketch!;
  const rowsFile = m.files.find((f) => f.role === "sketch-rows")!;
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(join(dir, rowsFile.name), "r");
  } catch (err) {
    throw corrupt(dir, rowsFile.name, `it cannot be opened (${(err as Error).message})`);
  }
  try {
    const size = (await fh.stat()).size;
    if (size !== rowsFile.size) throw corrupt(dir, rowsFile.name, `expected ${rowsFile.size} bytes, found ${size} (truncated or overwritten)`);
    return await SketchArena.read(fh, join(dir, rowsFile.name), { size: rowsFile.size, crc32: rowsFile.crc32!, sketchDim: part.dim, slots: m.counts.slots });
  } finally {
    await fh.close();
  }
}

/** The ColBERT sketch of a format-2 manifest: its rows (from `readSketchRows`), the means and their graph. */
async function loadSketch(dir: string, m: IndexManifest, arena: SketchArena, meansBlob: Uint8Array, live: Uint8Array, options: LoadOptions, maxSim: MaxSim): Promise<ColbertSketch> {
  const part = m.options.sketch!;
  const file = (role: FileRole) => m.files.find((f) => f.role === role)!;
  const means = decodeDense(meansBlob, file("sketch-means").name);
  if (means.slots !== m.counts.slots || means.dim !== part.dim || part.dim > m.options.colbertDim) {
    throw corrupt(dir, file("sketch-means").name, `it holds ${means.slots} means of dimension ${means.dim}, the manifest says ${m.counts.slots} of ${part.dim} (ColBERT dimension ${m.options.colbertDim})`);
  }
  const rowsFile = file("sketch-rows");
  for (let s = 0; s < live.length; s++) {
    if ((live[s] === 1) !== arena.has(s)) throw corrupt(dir, rowsFile.name, `slot ${s} ${live[s] === 1 ? "has no sketched rows" : "has sketched rows but no document"}`);
  }
  const hnsw = { ...m.options.dense, efSearch: options.efSearch ?? m.options.dense.efSearch };
  const graph = file("sketch-graph").name;
  const meanIndex = await DenseIndex.restore(part.dim, hnsw, means.vectors, live, join(dir, graph), false).catch((err: unknown) => {
    throw corrupt(dir, graph, `hnswlib could not read it (${(err as Error).message})`);
  });
  return new ColbertSketch({ colbertDim: m.options.colbertDim, dim: part.dim, seed: part.seed, arena, means: meanIndex, maxSim });
}

function corrupt(dir: string, file: string, what: string): M3Error {
  return new M3Error(ErrorCodes.INDEX_CORRUPT, `Index file ${file} in ${dir} is corrupt: ${what}. Restore the directory from a backup or rebuild the index.`, { details: { dir, file } });
}

async function readOrCorrupt(path: string): Promise<Uint8Array> {
  try {
    const b = await fsp.readFile(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength); // a plain view: the decoders' slice() must copy
  } catch (err) {
    throw new M3Error(ErrorCodes.INDEX_CORRUPT, `Index file ${path} is missing or unreadable (${(err as Error).message}). Restore the directory from a backup or rebuild the index.`, { cause: err });
  }
}

async function statSize(path: string): Promise<number> {
  try {
    return (await fsp.stat(path)).size;
  } catch (err) {
    throw new M3Error(ErrorCodes.INDEX_CORRUPT, `Index file ${path} is missing (${(err as Error).message}). Restore the directory from a backup or rebuild the index.`, { cause: err });
  }
}

