/** HTTP with the Hub: file metadata (HEAD), status -> typed errors, bounded retries. */
import { ErrorCodes, M3Error } from "../errors.js";
import { ioError } from "./cache.js";
import type { HubSettings } from "./env.js";

/** What a HEAD on `/{repo}/resolve/{revision}/{path}` tells (huggingface_hub's get_hf_file_metadata). */
export interface FileMetadata {
  commit: string;
  /** X-Linked-Etag (LFS: the sha256) or ETag (git blob sha1), without quotes and W/. */
  etag: string;
  /** True when the etag came from X-Linked-Etag (an LFS / Xet file whose etag is the content's sha256). */
  lfs: boolean;
  size: number | undefined;
  /** Where to GET the bytes (the CDN URL for LFS files). */
  location: string;
}

export interface Target {
  repo: string;
  revision: string;
  path: string;
}

export const resolveUrl = (endpoint: string, t: Target): string =>
  `${endpoint}/${t.repo}/resolve/${encodeURIComponent(t.revision)}/${t.path.split("/").map(encodeURIComponent).join("/")}`;

export const normalizeEtag = (etag: string): string => etag.replace(/^W\//, "").replace(/^"|"$/g, "");

/** A 40-hex git blob id (regular files) or a 64-hex sha256 (LFS / Xet files): the only etags the cache accepts. */
export const ETAG_RE = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** True when `url` is on the endpoint's origin (scheme, host and port). */
export const sameOrigin = (s: HubSettings, url: string): boolean => {
  try {
    return new URL(url).origin === new URL(s.endpoint).origin;
  } catch {
    return false;
  }
};

/**
 * The Authorization header for a request to `url`: only on the endpoint's origin. The token is
 * never sent to a CDN, to another host a redirect or a `Link: rel="next"` points at.
 */
export const authHeaders = (s: HubSettings, url: string): Record<string, string> =>
  s.token === undefined || !sameOrigin(s, url) ? {} : { Authorization: `Bearer ${s.token}` };

const MAX_REDIRECTS = 10;

/**
 * `s.fetch` that follows redirects itself, so the token goes only to the endpoint's origin on
 * every hop (whatever the fetch implementation does with headers on redirects).
 */
export async function hubFetch(s: HubSettings, url: string, init: RequestInit = {}): Promise<Response> {
  let method = init.method ?? "GET";
  let body = init.body;
  for (let hop = 0; ; hop++) {
    const headers = new Headers(init.headers);
    headers.delete("authorization");
    for (const [k, v] of Object.entries(authHeaders(s, url))) headers.set(k, v);
    const res = await s.fetch(url, { ...init, method, body: body ?? null, headers, redirect: "manual" });
    const loc = res.headers.get("location");
    if (res.status < 300 || res.status >= 400 || loc === null || init.redirect === "manual") return res;
    await res.body?.cancel().catch(() => undefined);
    if (hop >= MAX_REDIRECTS) throw new M3Error(ErrorCodes.HUB_ERROR, `Too many redirects from ${url} (more than ${MAX_REDIRECTS}).`);
    url = new URL(loc, url).toString();
    if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === "POST")) {
      method = "GET";
      body = undefined;
    }
  }
}

/** An error for a non-OK Hub answer, naming the repository, revision and file. */
export function statusError(status: number, t: Target, errorCode?: string | null): M3Error {
  const where = `${t.path === "" ? "" : `${t.path} in `}${t.repo} at revision ${t.revision}`;
  const details = { status, repo: t.repo, revision: t.revision, file: t.path, hubErrorCode: errorCode ?? undefined };
  if (status === 401 || status === 403) {
    const msg =
      errorCode === "RepoNotFound"
        ? `${t.repo} was not found or is private (HTTP ${status}): check the name; for a private repository set HF_TOKEN (or pass token).`
        : `Access to ${where} was refused (HTTP ${status}): the repository is gated or private: accept the licence on ` +
          `its model page (https://huggingface.co/${t.repo}) and set HF_TOKEN (or pass token) to an access token with read access.`;
    return new M3Error(ErrorCodes.HUB_UNAUTHORIZED, msg, { details });
  }
  if (status === 404) {
    const msg =
      errorCode === "RevisionNotFound"
        ? `Revision ${t.revision} was not found in ${t.repo} (HTTP 404): check the branch, tag or commit hash.`
        : errorCode === "RepoNotFound"
          ? `Repository ${t.repo} was not found (HTTP 404): check its name (for example BAAI/bge-m3).`
          : `${where} was not found (HTTP 404): check the repository name, the revision and that the file exists there.`;
    return new M3Error(ErrorCodes.HUB_ERROR, msg, { details });
  }
  return new M3Error(
    ErrorCodes.HUB_ERROR,
    `The Hub answered HTTP ${status} for ${where}. Run again later; partial downloads are resumed.`,
    { details },
  );
}

export const abortedError = (what: string, cause?: unknown): M3Error =>
  new M3Error(ErrorCodes.ABORTED, `${what} was aborted; run again to resume where it stopped.`, { cause });

/** True for failures worth a retry: a dropped connection or a timeout. */
export function isTransient(err: unknown): boolean {
  if (err instanceof M3Error) {
    const st = (err.details?.["status"] as number | undefined) ?? 0;
    return err.code === ErrorCodes.HUB_ERROR && (st >= 500 || st === 429);
  }
  if (err instanceof RetryableError) return true;
  const e = err as { name?: string; code?: string; cause?: { code?: string } } | undefined;
  if (e?.name === "AbortError") return false;
  const codes = ["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "UND_ERR_SOCKET", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "EAI_AGAIN"];
  return codes.includes(e?.code ?? "") || codes.includes(e?.cause?.code ?? "") || (err instanceof TypeError && /fetch failed|terminated/i.test(err.message));
}

const sleep = (ms: number, signal: AbortSignal | undefined): Promise<void> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortedError("The download"));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });

/** Runs `attempt` until it succeeds, retrying transient failures with doubling delays (bounded by maxRetries). */
export async function withRetries<T>(s: HubSettings, signal: AbortSignal | undefined, attempt: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (signal?.aborted) throw err instanceof M3Error && err.code === ErrorCodes.ABORTED ? err : abortedError("The download", err);
      if (i >= s.maxRetries || !isTransient(err)) throw wrapNetwork(err);
      await sleep(Math.min(30_000, s.retryBaseDelayMs * 2 ** i), signal);
    }
  }
}

/** A failure not yet typed -> HUB_ERROR (network, unreadable answer) or IO_ERROR (a file operation). */
export function wrapNetwork(err: unknown): M3Error {
  if (err instanceof M3Error) return err;
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  if (err instanceof RetryableError) {
    return new M3Error(ErrorCodes.HUB_ERROR, `${err.message} Run again; the partial download is resumed.`, { cause: err });
  }
  if (isTransient(err) || err instanceof TypeError) {
    return new M3Error(
      ErrorCodes.HUB_ERROR,
      `Could not reach the Hub (${e.cause?.code ?? e.cause?.message ?? e.message ?? String(err)}). Check the network ` +
        `(or HF_ENDPOINT), or set HF_HUB_OFFLINE=1 to use only cached files.`,
      { cause: err },
    );
  }
  if (typeof (err as NodeJS.ErrnoException | undefined)?.syscall === "string") return ioError(err, "A file operation in the cache");
  // Anything else is an answer that could not be understood (a listing that is no JSON, ...).
  return new M3Error(
    ErrorCodes.HUB_ERROR,
    `The Hub's answer could not be understood (${(err as Error | undefined)?.name ?? typeof err}: ${e?.message ?? String(err)}). ` +
      `If HF_ENDPOINT points at a proxy or mirror, check it; else run again later.`,
    { cause: err },
  );
}

/** HEAD of a file: commit, etag, size, download location. Follows relative redirects only (renamed repositories). */
export async function fileMetadata(s: HubSettings, t: Target, signal?: AbortSignal): Promise<FileMetadata> {
  return withRetries(s, signal, async () => {
    let url = resolveUrl(s.endpoint, t);
    for (let hop = 0; hop < 5; hop++) {
      const res = await s.fetch(url, {
        method: "HEAD",
        redirect: "manual",
        headers: { ...authHeaders(s, url), "Accept-Encoding": "identity" },
        signal: signal ?? null,
      });
      const loc = res.headers.get("location");
      // Relative redirects (renamed repositories) are followed; an absolute one is where the bytes are (a CDN).
      // "//host/..." is absolute: it would carry the token to another origin.
      if (res.status >= 300 && res.status < 400 && loc !== null && loc.startsWith("/") && !loc.startsWith("//")) {
        url = new URL(loc, url).toString();
        continue;
      }
      if (!(res.ok || (res.status >= 300 && res.status < 400))) throw statusError(res.status, t, res.headers.get("x-error-code"));
      const commit = res.headers.get("x-repo-commit");
      const linked = res.headers.get("x-linked-etag");
      const etag = linked ?? res.headers.get("etag");
      if (commit === null || etag === null) {
        throw new M3Error(
          ErrorCodes.HUB_ERROR,
          `The server at ${s.endpoint} did not send X-Repo-Commit/ETag for ${t.path} in ${t.repo}; is HF_ENDPOINT a Hugging Face Hub (or a proxy that keeps these headers)?`,
          { details: { url } },
        );
      }
      const normalized = normalizeEtag(etag);
      if (!ETAG_RE.test(normalized)) {
        throw new M3Error(
          ErrorCodes.HUB_ERROR,
          `The server at ${s.endpoint} sent the ${linked !== null ? "X-Linked-Etag" : "ETag"} ${JSON.stringify(etag.slice(0, 80))} for ` +
            `${t.path} in ${t.repo}; a Hugging Face Hub sends a 40-hex git blob id or a 64-hex sha256. Nothing was written. ` +
            `Check HF_ENDPOINT (a proxy or mirror is altering the answers).`,
          { details: { url, etag: etag.slice(0, 200) } },
        );
      }
      const sizeText = res.headers.get("x-linked-size") ?? res.headers.get("content-length");
      return {
        commit,
        etag: normalized,
        lfs: linked !== null,
        size: sizeText === null ? undefined : Number(sizeText),
        location: loc === null ? url : new URL(loc, url).toString(),
      };
    }
    throw new M3Error(ErrorCodes.HUB_ERROR, `Too many redirects for ${t.path} in ${t.repo}.`);
  });
}

/** A failure that a retry (with resume) may fix: a short body, a Range the server did not honour. */
export class RetryableError extends Error {
  override readonly name = "RetryableError";
}
