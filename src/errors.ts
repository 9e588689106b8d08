/**
 * One catalog of error codes. Every error the library throws on purpose is an `M3Error`
 * with one of these codes, and a message saying what was expected, what arrived and
 * what to do.
 */
export const ErrorCodes = {
  /** An argument has the wrong type or shape (non-string text, vector of the wrong dimension, ...). */
  INVALID_ARGUMENT: "INVALID_ARGUMENT",
  /** A numeric option is NaN or out of its documented range. */
  OUT_OF_RANGE: "OUT_OF_RANGE",
  /** A model folder matches none of the supported layouts, or a required file is missing. */
  MODEL_NOT_FOUND: "MODEL_NOT_FOUND",
  /** A model file exists but cannot be parsed or does not fit the others (corrupt .pt, wrong shapes). */
  MODEL_INVALID: "MODEL_INVALID",
  /** tokenizer.json is missing or unreadable. */
  TOKENIZER_ERROR: "TOKENIZER_ERROR",
  /**
   * An execution provider (e.g. "cuda") is not in the installed onnxruntime-node build, its
   * libraries are not installed, or it failed to start (no device, driver or CUDA libraries).
   */
  PROVIDER_UNAVAILABLE: "PROVIDER_UNAVAILABLE",
  /** onnxruntime failed to create a session or to run. */
  INFERENCE_ERROR: "INFERENCE_ERROR",
  /** The object was disposed and cannot be used any more. */
  DISPOSED: "DISPOSED",
  /** An index on disk is missing, truncated, corrupt, or of an unsupported format version. */
  INDEX_CORRUPT: "INDEX_CORRUPT",
  /** An index was built with a different model (dimension, tokenizer or layout differ). */
  INDEX_MODEL_MISMATCH: "INDEX_MODEL_MISMATCH",
  /** Writing an index (or a download) to disk failed; what was there before is intact. */
  IO_ERROR: "IO_ERROR",
  /** A document id is unknown, or an index directory to load does not exist. */
  NOT_FOUND: "NOT_FOUND",
  /** A download from the Hugging Face Hub failed (network, HTTP status, checksum). */
  HUB_ERROR: "HUB_ERROR",
  /** The Hub answered 401/403: the repository is gated or private. */
  HUB_UNAUTHORIZED: "HUB_UNAUTHORIZED",
  /** Offline mode (HF_HUB_OFFLINE / localFilesOnly) and the files are not in the cache. */
  HUB_OFFLINE: "HUB_OFFLINE",
  /** The operation was aborted by the caller (AbortSignal). */
  ABORTED: "ABORTED",
  /** A database server cannot be reached, refused the login, or dropped the connection; a write in flight was rolled back. */
  BACKEND_UNAVAILABLE: "BACKEND_UNAVAILABLE",
  /** The database server refused an operation (an extension or privilege is missing, an unexpected server error). */
  BACKEND_ERROR: "BACKEND_ERROR",
  /** An HTTP request to `m3 serve` had no valid API key (missing or wrong `Authorization: Bearer`). */
  UNAUTHORIZED: "UNAUTHORIZED",
  /** The operation is turned off on this server (e.g. document writes without `--writable`). */
  FORBIDDEN: "FORBIDDEN",
  /** A request is over a size limit (body bytes, texts per request, tokens per text); the message names the limit. */
  TOO_LARGE: "TOO_LARGE",
  /** The server's queue is full or it is shutting down; retry after the `Retry-After` seconds. */
  OVERLOADED: "OVERLOADED",
  /** A request or a remote call took longer than its timeout. */
  TIMEOUT: "TIMEOUT",
  /** A fine-tuning pairs file is malformed (a line that is not JSON, a missing or empty text, a duplicate, invalid UTF-8, too few pairs); the message names the line. */
  PAIRS_INVALID: "PAIRS_INVALID",
  /** Fine-tuned heads failed a quality guard (e.g. they leave too many passages without lexical weights); nothing was written. */
  HEADS_DEGENERATE: "HEADS_DEGENERATE",
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** The one error class of the library. Switch on `code`, show `message` to the user. */
export class M3Error extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "M3Error";
    this.code = code;
    this.details = options?.details;
  }
}

/** True when `err` is an `M3Error` (optionally with the given code). Works across ESM/CJS copies. */
export function isM3Error(err: unknown, code?: ErrorCode): err is M3Error {
  if (typeof err !== "object" || err === null) return false;
  const e = err as { name?: unknown; code?: unknown };
  return e.name === "M3Error" && typeof e.code === "string" && (code === undefined || e.code === code);
}
