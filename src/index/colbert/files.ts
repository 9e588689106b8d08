/** File names of the ColBERT part and the small file-system steps of persistence. */
import * as path from "node:path";
import { ErrorCodes, M3Error } from "../../errors.js";

export const dataFileName = (generation: number): string => `colbert-data.${generation}.bin`;
export const offsetsFileName = (generation: number): string => `colbert-offsets.${generation}.bin`;

/** Runs `fn`, turning file-system errors into IO_ERROR (M3Errors pass through). */
export async function io<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof M3Error) throw err;
    throw new M3Error(
      ErrorCodes.IO_ERROR,
      `Could not ${what}: ${(err as Error).message}. Check the directory exists, is writable and the disk is not full; the previously committed index is intact.`,
      { cause: err },
    );
  }
}

/** Rejects manifest file names that are not plain names inside the index directory. */
export function checkFileName(name: unknown, field: string): string {
  if (typeof name !== "string" || name === "" || name !== path.basename(name) || name === "." || name === "..") {
    throw new M3Error(
      ErrorCodes.INDEX_CORRUPT,
      `The manifest's colbert.${field} must be a file name inside the index directory; got ${JSON.stringify(name)}. The manifest is damaged: restore the index or rebuild it.`,
    );
  }
  return name;
}
