/** The index manifest: what `save` commits atomically and `load` verifies. */
import { ErrorCodes, M3Error } from "../errors.js";
import type { ModelFingerprint } from "../types.js";
import type { ColbertManifestPart } from "./colbert/types.js";
import type { ResolvedDenseOptions } from "./options.js";

export const MANIFEST_NAME = "manifest.json";
export const MANIFEST_FORMAT = "langchain-m3/hybrid-index";
/**
 * 2 adds the ColBERT sketch (`options.sketch` and the sketch-* files). Version 1 manifests still
 * load: the index then has no sketch (searches rerank the dense ∪ sparse pool exactly, as when
 * it was saved), and the next save writes version 2 without one.
 */
export const FORMAT_VERSION = 2;
/** Manifest versions this library reads. */
export const READABLE_VERSIONS: readonly number[] = [1, 2];

export type FileRole = "docs" | "dense-vectors" | "dense-graph" | "sparse" | "colbert-offsets" | "sketch-rows" | "sketch-means" | "sketch-graph";

/** The ColBERT sketch's parameters (format 2). */
export interface SketchManifestPart {
  /** Sketch columns. */
  dim: number;
  /** Seed of the count sketch. */
  seed: number;
}

/**
 * A file the manifest commits. Format 1 checks each file by sha256; format 2 by CRC-32 (8 hex
 * digits, zlib's polynomial), which detects truncation and damage at ~2.5× the speed (loading
 * a 100k-document index reads ~3 GB). For the sketch rows file (`sketch-rows`) the checksum
 * covers the whole file too; its reader computes it while reading the pages.
 */
export interface ManifestFile {
  role: FileRole;
  /** File name relative to the index directory. */
  name: string;
  size: number;
  /** Format 1. */
  sha256?: string;
  /** Format 2. */
  crc32?: string;
}

export interface IndexManifest {
  format: typeof MANIFEST_FORMAT;
  formatVersion: number;
  /** Increases with every save; file names carry it. */
  generation: number;
  fingerprint: ModelFingerprint;
  counts: { documents: number; slots: number; sparsePostings: number; colbertSlots: number };
  options: { denseDim: number; colbertDim: number; dense: ResolvedDenseOptions; sketch?: SketchManifestPart };
  files: ManifestFile[];
  colbert: ColbertManifestPart;
}

function corrupt(dir: string, what: string): M3Error {
  return new M3Error(ErrorCodes.INDEX_CORRUPT, `The index manifest in ${dir} is invalid: ${what}. Restore the directory from a backup or rebuild the index.`, { details: { dir } });
}

const isNum = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);
const isStr = (x: unknown): x is string => typeof x === "string";

/** Parses and shape-checks a manifest. */
export function parseManifest(text: string, dir: string): IndexManifest {
  let m: Partial<IndexManifest>;
  try {
    m = JSON.parse(text) as Partial<IndexManifest>;
  } catch {
    throw corrupt(dir, "not valid JSON");
  }
  if (m === null || typeof m !== "object" || m.format !== MANIFEST_FORMAT) throw corrupt(dir, `format is not "${MANIFEST_FORMAT}"`);
  if (!READABLE_VERSIONS.includes(m.formatVersion as number)) {
    throw new M3Error(
      ErrorCodes.INDEX_CORRUPT,
      `The index in ${dir} has manifest format version ${String(m.formatVersion)}; this library reads versions ${READABLE_VERSIONS.join(" and ")}. Open it with the library version that wrote it, or rebuild the index from your documents (m3 index / M3HybridStore.addDocuments) with this one.`,
      { details: { dir, formatVersion: m.formatVersion } },
    );
  }
  const fp = m.fingerprint;
  if (!fp || !isStr(fp.layout) || !isNum(fp.hiddenSize) || !isNum(fp.vocabSize) || !isStr(fp.tokenizerSha256)) throw corrupt(dir, "fingerprint missing");
  if (!isNum(m.generation) || !m.counts || !isNum(m.counts.documents) || !isNum(m.counts.slots)) throw corrupt(dir, "counts missing");
  if (!m.options || !isNum(m.options.denseDim) || !isNum(m.options.colbertDim) || !m.options.dense) throw corrupt(dir, "options missing");
  const checksum = (f: ManifestFile) => (m.formatVersion === 1 ? isStr(f.sha256) : isStr(f.crc32) && /^[0-9a-f]{8}$/.test(f.crc32));
  if (!Array.isArray(m.files) || m.files.some((f) => !f || !isStr(f.name) || !isNum(f.size) || !checksum(f) || !isStr(f.role) || f.name.includes("/") || f.name.includes("\\"))) {
    throw corrupt(dir, "file list malformed");
  }
  const c = m.colbert;
  if (!c || !isStr(c.dataFile) || !isNum(c.committedBytes) || !isStr(c.offsetsFile) || !isStr(c.codec)) throw corrupt(dir, "colbert part missing");
  for (const role of ["docs", "dense-vectors", "dense-graph", "sparse"] as const) {
    if (!m.files.some((f) => f.role === role)) throw corrupt(dir, `no ${role} file`);
  }
  const sk = m.options.sketch;
  if (sk !== undefined) {
    if (m.formatVersion! < 2 || sk === null || !isNum(sk.dim) || !(sk.dim >= 1) || !isNum(sk.seed)) throw corrupt(dir, "options.sketch malformed");
    for (const role of ["sketch-rows", "sketch-means", "sketch-graph"] as const) {
      if (!m.files.some((f) => f.role === role)) throw corrupt(dir, `no ${role} file`);
    }
  }
  return m as IndexManifest;
}

