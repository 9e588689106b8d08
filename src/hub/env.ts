/** Settings from options and the huggingface_hub environment variables. */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { checkInt } from "../util/validate.js";
import type { PretrainedOptions } from "./types.js";

export const DEFAULT_ENDPOINT = "https://huggingface.co";
export const DEFAULT_REPO = "BAAI/bge-m3";
/** Where int8 / fp16 encoder graphs come from when the requested repository has none. */
export const QUANTIZED_REPO = "Xenova/bge-m3";
/** Where sparse_linear.pt / colbert_linear.pt come from when the requested repository has none. */
export const HEADS_REPO = "BAAI/bge-m3";

export interface HubSettings {
  cacheDir: string;
  endpoint: string;
  token: string | undefined;
  offline: boolean;
  fetch: typeof fetch;
  maxRetries: number;
  retryBaseDelayMs: number;
}

/** huggingface_hub's truthy spellings of an environment flag. */
export function envTrue(value: string | undefined): boolean {
  return value !== undefined && ["1", "on", "yes", "true"].includes(value.trim().toLowerCase());
}

const nonEmpty = (v: string | undefined): string | undefined => (v === undefined || v === "" ? undefined : v);

/** The hub cache folder: option, HF_HUB_CACHE, HF_HOME/hub, XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub. */
export function hubCacheDir(cacheDir?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (cacheDir !== undefined && cacheDir !== "") return cacheDir;
  const explicit = nonEmpty(env["HF_HUB_CACHE"]) ?? nonEmpty(env["HUGGINGFACE_HUB_CACHE"]);
  if (explicit !== undefined) return explicit;
  return join(hfHome(env), "hub");
}

/** `$HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`. */
function hfHome(env: NodeJS.ProcessEnv): string {
  return nonEmpty(env["HF_HOME"]) ?? join(nonEmpty(env["XDG_CACHE_HOME"]) ?? join(homedir(), ".cache"), "huggingface");
}

/** The token saved by `hf auth login` / `huggingface-cli login` (`$HF_TOKEN_PATH`, else `$HF_HOME/token`). */
function savedToken(env: NodeJS.ProcessEnv): string | undefined {
  try {
    return nonEmpty(readFileSync(nonEmpty(env["HF_TOKEN_PATH"]) ?? join(hfHome(env), "token"), "utf8").trim());
  } catch {
    return undefined;
  }
}

export function settingsFrom(options: PretrainedOptions, env: NodeJS.ProcessEnv = process.env): HubSettings {
  const endpoint = (options.endpoint ?? nonEmpty(env["HF_ENDPOINT"]) ?? DEFAULT_ENDPOINT).replace(/\/+$/, "");
  return {
    cacheDir: hubCacheDir(options.cacheDir, env),
    endpoint,
    token: nonEmpty(options.token) ?? nonEmpty(env["HF_TOKEN"]) ?? nonEmpty(env["HUGGING_FACE_HUB_TOKEN"]) ?? savedToken(env),
    offline: options.localFilesOnly === true || envTrue(env["HF_HUB_OFFLINE"]),
    fetch: options.fetch ?? globalThis.fetch,
    maxRetries: checkInt("downloadRetries", options.downloadRetries ?? 5, 0, 100),
    retryBaseDelayMs: checkInt("downloadRetryDelayMs", options.downloadRetryDelayMs ?? 500, 0, 60_000),
  };
}

export const COMMIT_RE = /^[0-9a-f]{40}$/;
