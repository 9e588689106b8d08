/** HTTP with the Hub: file metadata (HEAD), status -> typed errors, bounded retries. */
import { ErrorCodes, M3Error } from "../errors.js";
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

export const authHeaders = (s: HubSettings): Record<string, string> =>
  s.token === undefined ? {} : { Authorization: `Bearer ${s.token}` };

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

/** A network failure (not yet typed) -> HUB_ERROR. */
export function wrapNetwork(err: unknown): unknown {
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
  return err;
}

/** HEAD of a file: commit, etag, size, download location. Follows relative redirects only (renamed repositories). */
export async function fileMetadata(s: HubSettings, t: Target, signal?: AbortSignal): Promise<FileMetadata> {
  return withRetries(s, signal, async () => {
    let url = resolveUrl(s.endpoint, t);
    for (let hop = 0; hop < 5; hop++) {
      const res = await s.fetch(url, {
        method: "HEAD",
        redirect: "manual",
        headers: { ...authHeaders(s), "Accept-Encoding": "identity" },
        signal: signal ?? null,
      });
      const loc = res.headers.get("location");
      if (res.status >= 300 && res.status < 400 && loc !== null && loc.startsWith("/")) {
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
      const sizeText = res.headers.get("x-linked-size") ?? res.headers.get("content-length");
      return {
        commit,
        etag: normalizeEtag(etag),
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
