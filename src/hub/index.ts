/** Model acquisition from the Hugging Face Hub into the huggingface_hub cache layout. */
import { ErrorCodes, M3Error } from "../errors.js";
import type { PretrainedOptions, ResolvedPretrained } from "./types.js";

export type { DownloadProgress, HubVariant, PretrainedOptions, ResolvedPretrained } from "./types.js";

/** Resolves the files a BGE-M3 layout needs into the cache and returns the folder to load from. */
export async function resolvePretrained(repo: string, options: PretrainedOptions = {}): Promise<ResolvedPretrained> {
  void options;
  throw new M3Error(ErrorCodes.HUB_ERROR, `resolvePretrained(${repo}) is not implemented yet.`);
}
