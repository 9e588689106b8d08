/**
 * Fetches one blob into `blobs/<etag>`: bytes go to `blobs/<etag>.incomplete` (resumed with a
 * Range request after an interruption), are checked (size; sha256 for LFS files, git blob sha1
 * otherwise) and only then renamed into place.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { rename, stat, truncate, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ErrorCodes, M3Error } from "../errors.js";
import { makeDirs } from "../util/fs.js";
import { blobPath, exists, ioError } from "./cache.js";
import type { HubSettings } from "./env.js";
import { type FileMetadata, RetryableError, type Target, hubFetch, resolveUrl, statusError, withRetries } from "./http.js";
import type { ProgressTracker } from "./progress.js";

const inflight = new Map<string, Promise<void>>();

/** Makes sure `blobs/<etag>` exists and is verified; returns its path. Concurrent calls for one blob share the work. */
export async function ensureBlob(
  s: HubSettings,
  t: Target,
  meta: FileMetadata,
  storage: string,
  tracker: ProgressTracker,
  signal?: AbortSignal,
): Promise<string> {
  const blob = blobPath(storage, meta.etag);
  for (;;) {
    if (await exists(blob)) return blob;
    const running = inflight.get(blob);
    if (running === undefined) break;
    await running.catch(() => undefined);
  }
  const job = fetchBlob(s, t, meta, blob, tracker, signal).finally(() => inflight.delete(blob));
  inflight.set(blob, job);
  await job;
  return blob;
}

const sizeOf = async (p: string): Promise<number> => (await stat(p).catch(() => undefined))?.size ?? 0;

async function fetchBlob(
  s: HubSettings,
  t: Target,
  meta: FileMetadata,
  blob: string,
  tracker: ProgressTracker,
  signal: AbortSignal | undefined,
): Promise<void> {
  const incomplete = `${blob}.incomplete`;
  await makeDirs(dirname(blob)).catch((err: unknown) => {
    throw ioError(err, `Creating ${dirname(blob)}`);
  });
  let counted = 0;
  let attempt = 0;
  const account = (have: number): void => {
    tracker.skip(have - counted);
    counted = have;
  };
  await withRetries(s, signal, async () => {
    let have = await sizeOf(incomplete);
    if (meta.size !== undefined && have > meta.size) {
      await truncate(incomplete, 0);
      have = 0;
    }
    account(have);
    if (meta.size !== undefined && have === meta.size && have > 0) return;
    // First try the location the HEAD gave (the CDN for LFS files); a retry asks the Hub again,
    // since signed CDN URLs expire.
    const url = attempt++ === 0 ? meta.location : resolveUrl(s.endpoint, t);
    const headers: Record<string, string> = { "Accept-Encoding": "identity" };
    if (have > 0) headers["Range"] = `bytes=${have}-`;
    // hubFetch follows redirects itself and sends the token only to the endpoint's origin.
    const res = await hubFetch(s, url, { headers, signal: signal ?? null });
    if (res.status === 416) {
      await truncate(incomplete, 0);
      throw new RetryableError(`The server refused to resume ${t.path} at byte ${have}.`);
    }
    if ([401, 403, 404, 410].includes(res.status) && !url.startsWith(`${s.endpoint}/${t.repo}/resolve/`)) {
      await res.body?.cancel();
      throw new RetryableError(`The download link of ${t.path} was refused (HTTP ${res.status}; signed links expire).`);
    }
    if (!res.ok || res.body === null) throw statusError(res.status, t, res.headers.get("x-error-code"));
    let append = have > 0;
    if (res.status === 200 && have > 0) {
      append = false; // Range ignored: start over.
      account(0);
    } else if (res.status === 206) {
      const start = /bytes (\d+)-/.exec(res.headers.get("content-range") ?? "")?.[1];
      if (start !== undefined && Number(start) !== have) {
        await res.body.cancel();
        await truncate(incomplete, 0);
        throw new RetryableError(`The server resumed ${t.path} at byte ${start} instead of ${have}.`);
      }
    }
    let onDisk = append ? have : 0;
    const counter = async function* (src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
      for await (const chunk of src) {
        onDisk += chunk.length;
        counted += chunk.length;
        tracker.advance(t.repo, t.path, chunk.length, onDisk, meta.size);
        yield chunk;
      }
    };
    try {
      await pipeline(
        Readable.fromWeb(res.body as import("node:stream/web").ReadableStream<Uint8Array>),
        counter,
        createWriteStream(incomplete, { flags: append ? "a" : "w" }),
      );
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOSPC" || code === "EACCES" || code === "EROFS" || code === "EDQUOT" || code === "EIO") {
        throw ioError(err, `Writing ${incomplete} (${t.path} from ${t.repo})`);
      }
      if (signal?.aborted || err instanceof M3Error) throw err;
      const why = (err as { cause?: { code?: string } }).cause?.code ?? code ?? String(err);
      throw new RetryableError(`The connection dropped while downloading ${t.path} from ${t.repo} (${why}) at byte ${onDisk}.`, { cause: err });
    }
    const got = await sizeOf(incomplete);
    if (meta.size !== undefined && got !== meta.size) {
      if (got > meta.size) await truncate(incomplete, 0);
      throw new RetryableError(`${t.path} from ${t.repo} arrived with ${got} of ${meta.size} bytes.`);
    }
  });
  await verify(t, meta, incomplete);
  await rename(incomplete, blob).catch((err: unknown) => {
    throw ioError(err, `Moving ${incomplete} into place`);
  });
  tracker.advance(t.repo, t.path, 0, meta.size ?? (await sizeOf(blob)), meta.size, true);
}

/**
 * sha256 (64-hex etag: LFS/Xet) or git blob sha1 (40-hex etag: regular files) of the downloaded
 * bytes against the etag. fileMetadata accepts no other etag, so every blob is verified.
 */
async function verify(t: Target, meta: FileMetadata, file: string): Promise<void> {
  let algo: "sha256" | "sha1";
  let prefix: Buffer | undefined;
  if (/^[0-9a-f]{64}$/.test(meta.etag)) algo = "sha256";
  else if (/^[0-9a-f]{40}$/.test(meta.etag)) {
    algo = "sha1";
    prefix = Buffer.from(`blob ${await sizeOf(file)}\0`);
  } else {
    throw new M3Error(ErrorCodes.HUB_ERROR, `${t.path} from ${t.repo} has the etag ${JSON.stringify(meta.etag)}, which is no content hash; it cannot be verified.`);
  }
  const hash = createHash(algo);
  if (prefix !== undefined) hash.update(prefix);
  try {
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  } catch (err) {
    throw ioError(err, `Reading ${file}`);
  }
  const actual = hash.digest("hex");
  if (actual !== meta.etag) {
    await unlink(file).catch(() => undefined);
    throw new M3Error(
      ErrorCodes.HUB_ERROR,
      `Checksum mismatch for ${t.path} from ${t.repo}: expected ${algo} ${meta.etag}, got ${actual}. The corrupt download ` +
        `was removed; run again to download it anew (if it happens again, a proxy or HF_ENDPOINT mirror is altering the file).`,
      { details: { repo: t.repo, file: t.path, expected: meta.etag, actual } },
    );
  }
}
