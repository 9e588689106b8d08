/**
 * The ColBERT part of the hybrid index: codecs, token pooling, an append-only disk-backed
 * store with MaxSim over candidate sets. Factories:
 * - `createColbertStore({ dim, ...options })`: in memory until the first `persist`.
 * - `openColbertStore(dir, part, options)`: disk-backed, from a committed manifest part.
 */
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { ErrorCodes, M3Error } from "../../errors.js";
import { MemoryBacking, FileBacking } from "./backing.js";
import { checkCodecName } from "../../multivector/codec/codec.js";
import { checkFileName } from "./files.js";
import { OffsetTable } from "./offset-table.js";
import { checkFileHeader, FILE_HEADER_BYTES, writeFileHeader } from "./record.js";
import { ColbertStoreImpl } from "./store.js";
import type { ColbertManifestPart, ColbertOpenOptions, ColbertStore, ColbertStoreOptions } from "./types.js";
import { checkDim, resolveOpenOptions, resolveOptions } from "./validate.js";

export type {
  ColbertCodecName, ColbertCompaction, ColbertKernel, ColbertManifestPart, ColbertOpenOptions, ColbertStore, ColbertStoreOptions,
} from "./types.js";
export { bytesPerToken } from "../../multivector/codec/codec.js";
export { poolTokens } from "../../multivector/pool.js";
export { DEFAULT_CODEC, DEFAULT_CACHE_BYTES, DEFAULT_KERNEL } from "./validate.js";

/** Options of `createColbertStore`. */
export interface CreateColbertStoreOptions extends ColbertStoreOptions {
  /** Row dimension (1024 for BGE-M3). */
  dim: number;
}

/** A new, empty ColBERT store kept in memory until its first `persist(dir, generation)`. */
export function createColbertStore(options: CreateColbertStoreOptions): ColbertStore {
  if (typeof options !== "object" || options === null) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, "createColbertStore needs an options object such as { dim: 1024 }.");
  }
  const dim = checkDim(options.dim);
  const o = resolveOptions(options);
  return new ColbertStoreImpl({
    ...o,
    dim,
    table: new OffsetTable(),
    backing: new MemoryBacking(writeFileHeader({ codec: o.codec, dim, poolFactor: o.poolFactor })),
  });
}

function corrupt(message: string, cause?: unknown): M3Error {
  return new M3Error(ErrorCodes.INDEX_CORRUPT, `${message} Restore the index from a backup or rebuild it.`, cause === undefined ? undefined : { cause });
}

/**
 * Opens the ColBERT part of a committed index: checks the offsets file (crc32, committed size)
 * and the data file header, and ignores bytes past `part.committedBytes` (a crashed append;
 * they are truncated before the next append). Records are read, and their crc32 verified, only
 * when scored. Throws INDEX_CORRUPT when a file is missing, truncated or inconsistent.
 */
export async function openColbertStore(dir: string, part: ColbertManifestPart, options?: ColbertOpenOptions): Promise<ColbertStore> {
  if (typeof part !== "object" || part === null) throw corrupt("The manifest has no valid colbert part.");
  const codec = checkCodecName(part.codec);
  const dim = checkDim(part.dim);
  const poolFactor = part.poolFactor;
  if (typeof poolFactor !== "number" || !(poolFactor >= 1)) throw corrupt(`The manifest's colbert.poolFactor is ${String(poolFactor)}.`);
  const committed = part.committedBytes;
  if (!Number.isSafeInteger(committed) || committed < FILE_HEADER_BYTES) throw corrupt(`The manifest's colbert.committedBytes is ${String(committed)}.`);
  const open = resolveOpenOptions(options);
  const root = path.resolve(dir);
  const dataName = checkFileName(part.dataFile, "dataFile");
  const offsetsName = checkFileName(part.offsetsFile, "offsetsFile");
  const dataPath = path.join(root, dataName);
  const offsetsPath = path.join(root, offsetsName);

  let offsetBytes: Uint8Array;
  try {
    offsetBytes = await fs.readFile(offsetsPath);
  } catch (err) {
    throw corrupt(`Cannot read the ColBERT offsets file ${offsetsPath} (${(err as Error).message}).`, err);
  }
  const table = OffsetTable.parse(offsetBytes, committed, FILE_HEADER_BYTES, offsetsPath);
  if (table.liveSlots !== part.liveSlots || table.liveBytes !== part.liveBytes) {
    throw corrupt(`The ColBERT offsets file ${offsetsPath} holds ${table.liveSlots} records (${table.liveBytes} bytes) but the manifest says ${part.liveSlots} (${part.liveBytes} bytes).`);
  }
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(dataPath, "r+");
  } catch (err) {
    throw corrupt(`Cannot open the ColBERT data file ${dataPath} (${(err as Error).message}).`, err);
  }
  try {
    const { size } = await fh.stat();
    if (size < committed) throw corrupt(`The ColBERT data file ${dataPath} has ${size} bytes but the manifest committed ${committed}: it was truncated.`);
    const header = new Uint8Array(FILE_HEADER_BYTES);
    await fh.read(header, 0, FILE_HEADER_BYTES, 0);
    checkFileHeader(header, { codec, dim, poolFactor }, dataPath);
    return new ColbertStoreImpl({
      codec, dim, poolFactor, ...open, table,
      backing: new FileBacking(root, dataName, dataPath, fh, committed, size),
      offsetsFile: offsetsName,
    });
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw err;
  }
}
