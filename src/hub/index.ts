/** Model acquisition from the Hugging Face Hub into the huggingface_hub cache layout. */
export { resolvePretrained } from "./resolve.js";
export { hubCacheDir } from "./env.js";
export type { DownloadProgress, HubVariant, PretrainedOptions, ResolvedPretrained } from "./types.js";
