/** Public option and result types of model acquisition from the Hugging Face Hub. */

/** Which ONNX weights to fetch: fp32 (BAAI/bge-m3 or a three-head export), int8 / fp16 (Xenova/bge-m3). */
export type HubVariant = "fp32" | "int8" | "fp16";

/** Progress of a download, reported at most a few times per second and once at the end of each file. */
export interface DownloadProgress {
  /** Repository the current file comes from. */
  repo: string;
  /** Path of the current file inside the repository. */
  file: string;
  /** Bytes of the current file on disk so far (including resumed bytes). */
  fileBytes: number;
  /** Size of the current file, when known. */
  fileTotal: number | undefined;
  /** Bytes of all files to fetch in this call that are on disk so far. */
  bytes: number;
  /** Total bytes of all files to fetch in this call. */
  total: number;
  /** Bytes per second over the last few seconds of this call (0 until measured). */
  rate: number;
  /** Seconds left at the current rate; undefined until a rate is measured. */
  etaSeconds: number | undefined;
  /** True on the last report of a file. */
  fileDone: boolean;
}

/** Options of {@link resolvePretrained}. */
export interface PretrainedOptions {
  /**
   * Branch, tag or commit hash.
   * @default "main"
   */
  revision?: string;
  /**
   * ONNX weights to fetch. int8 and fp16 on BAAI/bge-m3 are taken from Xenova/bge-m3.
   * @default "fp32"
   */
  variant?: HubVariant;
  /**
   * The huggingface_hub cache folder (the one holding `models--ORG--NAME`).
   * @default `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`
   */
  cacheDir?: string;
  /**
   * Use only the cache, never the network (also turned on by `HF_HUB_OFFLINE=1`).
   * @default false
   */
  localFilesOnly?: boolean;
  /**
   * Access token for gated or private repositories.
   * @default `$HF_TOKEN`, else the token saved by `hf auth login` (`$HF_TOKEN_PATH`, else `$HF_HOME/token`)
   */
  token?: string;
  /**
   * Hub base URL.
   * @default `$HF_ENDPOINT`, else "https://huggingface.co"
   */
  endpoint?: string;
  /** Called with download progress. */
  onProgress?: (p: DownloadProgress) => void;
  /**
   * The fetch implementation used for every request.
   * @default globalThis.fetch
   */
  fetch?: typeof fetch;
  /**
   * Attempts after the first for a request that fails with HTTP 5xx or a dropped connection
   * (each retry resumes a partial file with a Range request).
   * @default 5
   */
  downloadRetries?: number;
  /**
   * First retry delay; it doubles on each retry (capped at 30 s).
   * @default 500
   */
  downloadRetryDelayMs?: number;
  /** Aborts the downloads (the error then has code ABORTED; partial files are kept for resume). */
  signal?: AbortSignal;
}

/** What {@link resolvePretrained} returns: one folder the model loader understands. */
export interface ResolvedPretrained {
  /** Folder to load from: a snapshot folder of the cache, or a composed folder of links (int8/fp16). */
  dir: string;
  /** The variant resolved, when the layout has variants. */
  variant?: HubVariant;
  /** Paths (relative to `dir`) of the files resolved. */
  files: string[];
  /** Commit hash of the snapshot of `repo`. */
  commit: string;
}
