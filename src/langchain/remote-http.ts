/**
 * The HTTP side of the remote clients: JSON POST/GET to an `m3 serve` server with a timeout, an
 * AbortSignal, retries with exponential back-off (honouring Retry-After) on 429 and 503 and on
 * connection failures, and the server's `{ error: { code, message } }` turned back into an M3Error.
 */
import { ErrorCodes, M3Error, type ErrorCode } from "../errors.js";
import { checkInt, describe } from "../util/validate.js";

export interface RemoteOptions {
  /** Base URL of the server, e.g. "http://127.0.0.1:8080". */
  url: string;
  /** The server's API key, sent as `Authorization: Bearer <key>`. @default none */
  apiKey?: string;
  /** Time limit of one HTTP attempt, in ms (TIMEOUT past it). @default 60000 */
  timeoutMs?: number;
  /** Retries after a 429, a 503 or a failed connection (0: none). @default 3 */
  maxRetries?: number;
  /** First back-off in ms (doubled each retry, with jitter; a Retry-After header wins when longer). @default 200 */
  retryBaseMs?: number;
}

export interface ResolvedRemote {
  url: string;
  apiKey: string | undefined;
  timeoutMs: number;
  maxRetries: number;
  retryBaseMs: number;
}

export function resolveRemote(o: RemoteOptions, who: string): ResolvedRemote {
  if (o === null || typeof o !== "object" || typeof o.url !== "string") {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `${who} needs { url: "http://host:port" } of an m3 serve server; got ${describe(o?.url)}.`);
  }
  let url: URL;
  try {
    url = new URL(o.url);
  } catch {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `${who}: url must be an http(s) URL such as "http://127.0.0.1:8080"; got ${describe(o.url)}.`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `${who}: url must start with http:// or https://; got ${describe(o.url)}.`);
  }
  if (o.apiKey !== undefined && typeof o.apiKey !== "string") throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `${who}: apiKey must be a string; got ${describe(o.apiKey)}.`);
  return {
    url: o.url.replace(/\/+$/, ""),
    apiKey: o.apiKey,
    timeoutMs: checkInt("timeoutMs", o.timeoutMs ?? 60_000, 1, 3_600_000),
    maxRetries: checkInt("maxRetries", o.maxRetries ?? 3, 0, 100),
    retryBaseMs: checkInt("retryBaseMs", o.retryBaseMs ?? 200, 0, 600_000),
  };
}

const CODES = new Set<string>(Object.values(ErrorCodes));

/** Sends one request (with retries); resolves with the parsed JSON answer. */
export async function remoteCall(r: ResolvedRemote, method: "GET" | "POST", path: string, body: unknown, signal: AbortSignal | undefined): Promise<unknown> {
  for (let attempt = 0; ; attempt++) {
    if (signal?.aborted) throw new M3Error(ErrorCodes.ABORTED, `${path}: the call was aborted.`);
    let res: Response;
    const timeout = AbortSignal.timeout(r.timeoutMs);
    try {
      res = await fetch(r.url + path, {
        method,
        headers: { "content-type": "application/json", ...(r.apiKey !== undefined ? { authorization: `Bearer ${r.apiKey}` } : {}) },
        body: method === "POST" ? JSON.stringify(body) : undefined,
        signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
      });
    } catch (err) {
      if (signal?.aborted) throw new M3Error(ErrorCodes.ABORTED, `${path}: the call was aborted.`, { cause: err });
      if (timeout.aborted) throw new M3Error(ErrorCodes.TIMEOUT, `${path}: no answer from ${r.url} within timeoutMs (${r.timeoutMs} ms).`, { cause: err });
      if (attempt < r.maxRetries) {
        await backoff(r, attempt, undefined, signal);
        continue;
      }
      throw new M3Error(ErrorCodes.BACKEND_UNAVAILABLE, `${path}: cannot reach the m3 server at ${r.url} (${String((err as Error)?.message ?? err)}); is \`m3 serve\` running?`, { cause: err });
    }
    const text = await res.text().catch(() => "");
    if (res.ok) {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new M3Error(ErrorCodes.BACKEND_ERROR, `${path}: the server at ${r.url} answered ${res.status} with something other than JSON.`);
      }
    }
    if ((res.status === 429 || res.status === 503) && attempt < r.maxRetries) {
      await backoff(r, attempt, res.headers.get("retry-after"), signal);
      continue;
    }
    throw errorFrom(res.status, text, path);
  }
}

function errorFrom(status: number, text: string, path: string): M3Error {
  try {
    const e = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }).error;
    if (e && typeof e.code === "string" && CODES.has(e.code) && typeof e.message === "string") {
      return new M3Error(e.code as ErrorCode, e.message, { details: { status } });
    }
  } catch {
    // not the server's error shape
  }
  return new M3Error(ErrorCodes.BACKEND_ERROR, `${path}: the server answered HTTP ${status}.`, { details: { status } });
}

function backoff(r: ResolvedRemote, attempt: number, retryAfter: string | null | undefined, signal: AbortSignal | undefined): Promise<void> {
  const base = r.retryBaseMs * 2 ** attempt * (0.5 + Math.random() / 2);
  const after = retryAfter != null && /^\d+$/.test(retryAfter) ? Number(retryAfter) * 1000 : 0;
  const ms = Math.min(Math.max(base, after), 60_000);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new M3Error(ErrorCodes.ABORTED, "The call was aborted while waiting to retry."));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
