/** Options of `createM3Server`, their documented defaults, and their validation. */
import type { RetrievalBackend } from "../backend/types.js";
import type { M3Encoder } from "../encode/encoder.js";
import { ErrorCodes, M3Error } from "../errors.js";
import type { M3PostgresOptions } from "../open.js";
import type { StoreOptions } from "../retrieve/hybrid-store.js";
import type { Logger } from "../types.js";
import { checkInt, describe } from "../util/validate.js";

/** Request and queue limits. Every limit that refuses a request names itself in the error message. */
export interface M3ServerLimits {
  /** Largest request body in bytes (413 TOO_LARGE past it). @default 4_194_304 (4 MiB) */
  maxBodyBytes?: number;
  /** Most texts (inputs, documents) in one request (413 TOO_LARGE past it). @default 256 */
  maxTexts?: number;
  /** Most tokens per text, `<s>` and `</s>` included (400 TOO_LARGE past it). @default 8192 */
  maxTokensPerText?: number;
  /** Most tokens of one request, all texts together (413 TOO_LARGE past it). @default 131_072 */
  maxRequestTokens?: number;
  /** Tokens queued or being encoded, all requests together; past it, 429 OVERLOADED with Retry-After. @default 262_144 */
  queueTokens?: number;
  /** Deepest nesting of a JSON body (arrays and objects); deeper is 400 INVALID_ARGUMENT. @default 32 */
  maxJsonDepth?: number;
  /** Time to receive the request headers, in ms (slow clients are cut off). @default 10_000 */
  headersTimeoutMs?: number;
  /** Time to receive the whole body once the headers are in, in ms (408 TIMEOUT past it). @default 30_000 */
  bodyTimeoutMs?: number;
  /** Time from the end of the body to the answer, in ms (504 TIMEOUT past it; work still queued is dropped). @default 60_000 */
  requestTimeoutMs?: number;
  /** Seconds sent in `Retry-After` with a 429 or 503. @default 1 */
  retryAfterSeconds?: number;
}

/** Cross-request batching: concurrent requests are merged into the encoder's token-budget batches. */
export interface M3ServerBatching {
  /** Merge concurrent requests (false: each request is encoded on its own). @default true */
  enabled?: boolean;
  /** Longest wait for more texts before a batch is sent to the encoder, in ms (0..5). @default 2 */
  windowMs?: number;
  /** A batch is sent at once when it holds this many tokens. @default 16384 (the encoder's batchTokens default) */
  batchTokens?: number;
  /** A batch is sent at once when it holds this many texts. @default 64 (the encoder's maxBatchSize default) */
  maxBatchSize?: number;
}

export interface M3ServerOptions {
  /** The loaded (or lazily loading) encoder the server encodes with; the server does not dispose it. */
  encoder: M3Encoder;
  /** A saved embedded index directory to search (`/v1/search`) and, with `writable`, write. @default none */
  index?: string;
  /** A Postgres + pgvector collection to search instead (`{ connectionString, table }`; the fingerprint comes from the encoder). @default none */
  postgres?: Omit<M3PostgresOptions, "fingerprint">;
  /** Any other retrieval backend to search instead (the server closes it on shutdown). @default none */
  backend?: RetrievalBackend;
  /** Store options for the index/collection (search defaults). @default {} */
  store?: StoreOptions;
  /** Allow `/v1/documents` writes (also needs `apiKey`). @default false */
  writable?: boolean;
  /** The API key clients send as `Authorization: Bearer <key>`; required for a non-loopback host. @default none (no auth) */
  apiKey?: string;
  /** Address to bind. Anything but a loopback address needs `apiKey`. @default "127.0.0.1" */
  host?: string;
  /** Port to bind (0: any free port; see `server.port`). @default 8080 */
  port?: number;
  /** `Access-Control-Allow-Origin` value to send (e.g. "https://app.example"); CORS is off when unset. @default none */
  corsOrigin?: string;
  /** Model name reported by `/v1/embeddings` and `/v1/models`. @default "bge-m3" */
  modelName?: string;
  /** @default see M3ServerLimits */
  limits?: M3ServerLimits;
  /** @default see M3ServerBatching */
  batching?: M3ServerBatching;
  /** Receives request errors and lifecycle messages. @default no logging */
  logger?: Logger;
}

export type ResolvedLimits = Required<M3ServerLimits>;
export type ResolvedBatching = Required<M3ServerBatching>;

export interface ResolvedServerOptions extends Omit<M3ServerOptions, "limits" | "batching" | "logger" | "host" | "port" | "writable" | "modelName"> {
  host: string;
  port: number;
  writable: boolean;
  modelName: string;
  limits: ResolvedLimits;
  batching: ResolvedBatching;
  logger: Logger;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost", "::ffff:127.0.0.1"]);

/** True for an address that only this machine can reach. */
export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function obj<T>(v: T | undefined, what: string): Partial<T> {
  if (v === undefined) return {};
  if (v === null || typeof v !== "object") throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `${what} must be an object; got ${describe(v)}.`);
  return v;
}

/** Validates the options and fills in the defaults (never mutates the argument). */
export function resolveServerOptions(options: M3ServerOptions): ResolvedServerOptions {
  const o = obj(options, "createM3Server options");
  const enc = o.encoder as Partial<M3Encoder> | undefined;
  if (enc === undefined || enc === null || typeof enc.encode !== "function" || typeof enc.tokenize !== "function") {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `createM3Server needs { encoder: an M3Encoder } (M3Embeddings users pass embeddings.encoder); got ${describe(enc)}.`);
  }
  if ([o.index, o.postgres, o.backend].filter((x) => x !== undefined).length > 1) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, "Give createM3Server at most one of { index }, { postgres } or { backend }.");
  }
  const host = o.host ?? "127.0.0.1";
  if (typeof host !== "string" || host.length === 0) throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `host must be an address such as "127.0.0.1"; got ${describe(host)}.`);
  if (o.apiKey !== undefined && (typeof o.apiKey !== "string" || o.apiKey.length < 8 || /\s/.test(o.apiKey))) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, "apiKey must be a string of at least 8 characters without whitespace (e.g. from `openssl rand -hex 32`).");
  }
  if (!isLoopback(host) && o.apiKey === undefined) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `Binding ${host} exposes the server beyond this machine; give an API key (--api-key-file) or bind 127.0.0.1.`);
  }
  const writable = o.writable ?? false;
  if (typeof writable !== "boolean") throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `writable must be true or false; got ${describe(writable)}.`);
  if (writable && o.apiKey === undefined) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, "writable needs an API key: document writes are allowed only to clients that send it (--api-key-file).");
  }
  const l = obj(o.limits, "limits");
  const limits: ResolvedLimits = {
    maxBodyBytes: checkInt("limits.maxBodyBytes", l.maxBodyBytes ?? 4 << 20, 1, 1 << 30),
    maxTexts: checkInt("limits.maxTexts", l.maxTexts ?? 256, 1, 1_000_000),
    maxTokensPerText: checkInt("limits.maxTokensPerText", l.maxTokensPerText ?? 8192, 2, 8192),
    maxRequestTokens: checkInt("limits.maxRequestTokens", l.maxRequestTokens ?? 131_072, 2, 1 << 30),
    queueTokens: checkInt("limits.queueTokens", l.queueTokens ?? 262_144, 2, 1 << 30),
    maxJsonDepth: checkInt("limits.maxJsonDepth", l.maxJsonDepth ?? 32, 2, 1000),
    headersTimeoutMs: checkInt("limits.headersTimeoutMs", l.headersTimeoutMs ?? 10_000, 1, 3_600_000),
    bodyTimeoutMs: checkInt("limits.bodyTimeoutMs", l.bodyTimeoutMs ?? 30_000, 1, 3_600_000),
    requestTimeoutMs: checkInt("limits.requestTimeoutMs", l.requestTimeoutMs ?? 60_000, 1, 3_600_000),
    retryAfterSeconds: checkInt("limits.retryAfterSeconds", l.retryAfterSeconds ?? 1, 0, 3600),
  };
  if (limits.maxRequestTokens > limits.queueTokens) {
    throw new M3Error(ErrorCodes.OUT_OF_RANGE, `limits.maxRequestTokens (${limits.maxRequestTokens}) must not exceed limits.queueTokens (${limits.queueTokens}), or such a request could never be queued.`);
  }
  const b = obj(o.batching, "batching");
  const enabled = b.enabled ?? true;
  if (typeof enabled !== "boolean") throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `batching.enabled must be true or false; got ${describe(enabled)}.`);
  const batching: ResolvedBatching = {
    enabled,
    windowMs: checkInt("batching.windowMs", b.windowMs ?? 2, 0, 5),
    batchTokens: checkInt("batching.batchTokens", b.batchTokens ?? 16384, 2, 1 << 30),
    maxBatchSize: checkInt("batching.maxBatchSize", b.maxBatchSize ?? 64, 1, 1 << 20),
  };
  const corsOrigin = o.corsOrigin;
  if (corsOrigin !== undefined && (typeof corsOrigin !== "string" || corsOrigin.length === 0 || /[\r\n]/.test(corsOrigin))) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `corsOrigin must be an origin such as "https://app.example"; got ${describe(corsOrigin)}.`);
  }
  return {
    ...o,
    encoder: o.encoder as M3Encoder,
    host,
    port: checkInt("port", o.port ?? 8080, 0, 65535),
    writable,
    modelName: o.modelName ?? "bge-m3",
    limits,
    batching,
    logger: o.logger ?? {},
  };
}
