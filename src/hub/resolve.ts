/** resolvePretrained: cache first, then the Hub; downloads only the files the layout needs. */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { listFiles } from "@huggingface/hub";
import { ErrorCodes, M3Error } from "../errors.js";
import { describe } from "../util/validate.js";
import { blobPath, exists, inside, linkRelative, listFilesUnder, pointerPath, readRef, snapshotDir, storageFolder, writeRef } from "./cache.js";
import { ensureBlob } from "./download.js";
import { COMMIT_RE, DEFAULT_REPO, type HubSettings, settingsFrom } from "./env.js";
import { type FileMetadata, abortedError, fileMetadata, hubFetch, statusError, withRetries, wrapNetwork } from "./http.js";
import { graphFileLocations } from "./onnx-refs.js";
import { type FilePick, type Plan, type TreeSource, planFiles, sidecarsFromRefs } from "./plan.js";
import { ProgressTracker } from "./progress.js";
import type { HubVariant, PretrainedOptions, ResolvedPretrained } from "./types.js";

const VARIANTS: readonly HubVariant[] = ["fp32", "int8", "fp16"];
/** Folder (inside the graph repository's cache folder, next to `snapshots/`) of composed model folders. */
export const COMPOSED_FOLDER = "langchain-m3";

/** Half of a UTF-16 surrogate pair on its own: encodeURIComponent throws on it. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function checkArgs(repo: unknown, options: PretrainedOptions): void {
  if (typeof options !== "object" || options === null) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `options must be an object such as { variant: "int8" }; got ${describe(options)}.`);
  }
  if (typeof repo !== "string" || !/^[\w.-]+(\/[\w.-]+)?$/.test(repo) || repo.split("/").some((p) => p === ".." || p === ".")) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `repo must look like "ORG/NAME" (e.g. "BAAI/bge-m3"); got ${describe(repo)}.`);
  }
  if (options.variant !== undefined && !VARIANTS.includes(options.variant)) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `variant must be one of ${VARIANTS.join(", ")}; got ${describe(options.variant)}.`);
  }
  const rev = options.revision;
  if (rev !== undefined && (typeof rev !== "string" || rev === "" || rev.length > 256 || rev.includes("..") || LONE_SURROGATE.test(rev) || /[\0-\x1f\x7f]/.test(rev))) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `revision must be a branch, tag or commit hash; got ${describe(rev)}.`);
  }
  for (const k of ["cacheDir", "endpoint"] as const) {
    const v = options[k];
    if (v !== undefined && (typeof v !== "string" || v.includes("\0"))) {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `${k} must be a string; got ${describe(v)}.`);
    }
  }
  if (options.endpoint !== undefined && options.endpoint !== "" && !/^https?:\/\/[^/]/.test(options.endpoint)) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `endpoint must be an http(s) URL such as "https://huggingface.co"; got ${describe(options.endpoint)}.`);
  }
  for (const k of ["fetch", "onProgress"] as const) {
    if (options[k] !== undefined && typeof options[k] !== "function") {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `${k} must be a function; got ${describe(options[k])}.`);
    }
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `signal must be an AbortSignal (e.g. AbortSignal.timeout(60_000)); got ${describe(options.signal)}.`);
  }
  // A header value: printable ASCII only (anything else would fail inside fetch, or leak odd bytes into a header).
  if (options.token !== undefined && (typeof options.token !== "string" || !/^[\x21-\x7e]*$/.test(options.token))) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `token must be a Hugging Face access token (printable ASCII, e.g. "hf_..."); got ${typeof options.token === "string" ? "a string with other characters" : describe(options.token)}.`);
  }
}

/** The files of cached snapshots, by repo@revision. */
function cacheTree(s: HubSettings): TreeSource {
  return async (repo, revision) => {
    const commit = await readRef(storageFolder(s.cacheDir, repo), revision);
    if (commit === undefined) return undefined;
    const files = await listFilesUnder(snapshotDir(storageFolder(s.cacheDir, repo), commit));
    return files.length > 0 ? files : undefined;
  };
}

/** The Hub's tree listing (through @huggingface/hub's listFiles), by repo@revision. */
function hubTree(s: HubSettings, signal: AbortSignal | undefined): TreeSource {
  let hubErrorCode: string | null = null;
  // The listing follows `Link: rel="next"` wherever it points: hubFetch sends the token only to the endpoint's origin.
  const authFetch: typeof fetch = async (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.toString() : input.url;
    const res = await hubFetch(s, url, { ...init, signal: signal ?? null });
    hubErrorCode = res.headers.get("x-error-code");
    return res;
  };
  return (repo, revision) =>
    withRetries(s, signal, async () => {
      const out: string[] = [];
      try {
        for await (const e of listFiles({ repo: { type: "model", name: repo }, revision: encodeURIComponent(revision), recursive: true, hubUrl: s.endpoint, fetch: authFetch })) {
          if (e.type === "file") out.push(e.path);
        }
      } catch (err) {
        const status = (err as { statusCode?: unknown }).statusCode;
        if (typeof status === "number") throw statusError(status, { repo, revision, path: "" }, hubErrorCode);
        throw err;
      }
      return out.sort();
    });
}

/** Composes one folder of links when the files come from several repositories; else the snapshot folder. */
async function folderFor(s: HubSettings, plan: Plan, commits: Map<string, string>): Promise<string> {
  const graphStorage = storageFolder(s.cacheDir, plan.graphRepo);
  const graphCommit = commits.get(plan.graphRepo) as string;
  const repos = new Set(plan.picks.map((p) => p.repo));
  if (repos.size === 1) return snapshotDir(graphStorage, graphCommit);
  const key = plan.picks.map((p) => `${p.repo}@${commits.get(p.repo)}:${p.path}`).join("\n");
  const dir = join(graphStorage, COMPOSED_FOLDER, `${plan.variant}-${createHash("sha256").update(key).digest("hex").slice(0, 16)}`);
  for (const p of plan.picks) {
    const target = pointerPath(storageFolder(s.cacheDir, p.repo), commits.get(p.repo) as string, p.path);
    await linkRelative(target, inside(dir, ...p.path.split("/")));
  }
  return dir;
}

async function fromCache(s: HubSettings, repo: string, revision: string, variant: HubVariant): Promise<ResolvedPretrained | undefined> {
  let plan: Plan;
  try {
    plan = await planFiles(repo, revision, variant, cacheTree(s));
  } catch {
    return undefined; // not (completely) cached
  }
  const commits = new Map<string, string>();
  for (const p of plan.picks) {
    commits.set(p.repo, (await readRef(storageFolder(s.cacheDir, p.repo), p.revision)) as string);
  }
  // The graph says which external-data files it needs: all of them must be cached.
  const graphFile = pointerPath(storageFolder(s.cacheDir, plan.graphRepo), commits.get(plan.graphRepo) as string, plan.graph.path);
  const refs = await graphFileLocations(graphFile);
  if (refs !== undefined) {
    try {
      plan = withSidecars(plan, sidecarsFromRefs(plan, refs));
    } catch {
      return undefined;
    }
  }
  const dir = await folderFor(s, plan, commits);
  return { dir, variant, files: plan.picks.map((p) => p.path), commit: commits.get(repo) ?? (commits.get(plan.graphRepo) as string) };
}

/** The plan with its sidecars replaced. */
function withSidecars(plan: Plan, sidecars: FilePick[]): Plan {
  return { ...plan, sidecars, picks: [...plan.others, ...sidecars, plan.graph] };
}

function offlineError(s: HubSettings, repo: string, revision: string, variant: HubVariant): M3Error {
  const rev = revision === "main" ? "" : ` --revision ${revision}`;
  const v = variant === "fp32" ? "" : ` --variant ${variant}`;
  return new M3Error(
    ErrorCodes.HUB_OFFLINE,
    `${repo}${revision === "main" ? "" : `@${revision}`} (${variant}) is not in the cache at ${s.cacheDir}, and offline mode is on ` +
      `(HF_HUB_OFFLINE or localFilesOnly). With network access run \`m3 download ${repo}${v}${rev}\` ` +
      `(same cache: set HF_HUB_CACHE/HF_HOME alike), or unset HF_HUB_OFFLINE.`,
    { details: { repo, revision, variant, cacheDir: s.cacheDir } },
  );
}

async function fromHub(s: HubSettings, repo: string, revision: string, variant: HubVariant, options: PretrainedOptions): Promise<ResolvedPretrained> {
  const signal = options.signal;
  let plan = await planFiles(repo, revision, variant, hubTree(s, signal));
  const commits = new Map<string, string>();
  const metas = new Map<string, FileMetadata>();
  const key = (p: FilePick): string => `${p.repo}:${p.path}`;
  const storageOf = (p: FilePick): string => storageFolder(s.cacheDir, p.repo);
  const missingBytes = async (p: FilePick): Promise<number> => {
    const meta = metas.get(key(p)) as FileMetadata;
    return (await exists(blobPath(storageOf(p), meta.etag))) ? 0 : (meta.size ?? 0);
  };
  const head = async (p: FilePick): Promise<void> => {
    if (metas.has(key(p))) return;
    const known = commits.get(p.repo);
    const meta = await fileMetadata(s, { repo: p.repo, revision: known ?? p.revision, path: p.path }, signal);
    if (!COMMIT_RE.test(meta.commit)) {
      throw new M3Error(ErrorCodes.HUB_ERROR, `The Hub sent an invalid commit hash ${describe(meta.commit)} for ${p.path} in ${p.repo}.`);
    }
    if (known === undefined) commits.set(p.repo, meta.commit);
    metas.set(key(p), meta);
  };
  // One HEAD per repository first (it fixes the commit), then the others at that commit, together.
  for (const r of new Set(plan.picks.map((p) => p.repo))) await head(plan.picks.find((p) => p.repo === r) as FilePick);
  await Promise.all(plan.picks.map(head));
  let total = 0;
  for (const p of plan.picks) total += await missingBytes(p);
  const tracker = new ProgressTracker(total, options.onProgress);
  const blobs = new Map<string, string>();
  const fetchBlob = async (p: FilePick): Promise<void> => {
    const t = { repo: p.repo, revision: commits.get(p.repo) as string, path: p.path };
    blobs.set(key(p), await ensureBlob(s, t, metas.get(key(p)) as FileMetadata, storageOf(p), tracker, signal));
  };
  // The graph first: it names the external-data files it needs.
  await fetchBlob(plan.graph);
  const refs = await graphFileLocations(blobs.get(key(plan.graph)) as string);
  if (refs !== undefined) {
    const guessed = plan.sidecars;
    plan = withSidecars(plan, sidecarsFromRefs(plan, refs));
    const kept = new Set(plan.sidecars.map(key));
    for (const p of guessed) if (!kept.has(key(p))) tracker.addTotal(-(await missingBytes(p)));
    for (const p of plan.sidecars) {
      if (metas.has(key(p))) continue;
      await head(p);
      tracker.addTotal(await missingBytes(p));
    }
  }
  for (const p of plan.picks) if (!blobs.has(key(p))) await fetchBlob(p);
  if (signal?.aborted) throw abortedError(`Downloading ${repo}`);
  // Every blob is verified: link them (the graph last), then record the revisions.
  for (const p of plan.picks) {
    await linkRelative(blobs.get(key(p)) as string, pointerPath(storageOf(p), commits.get(p.repo) as string, p.path));
  }
  for (const p of plan.picks) await writeRef(storageOf(p), p.revision, commits.get(p.repo) as string);
  const dir = await folderFor(s, plan, commits);
  return { dir, variant, files: plan.picks.map((p) => p.path), commit: commits.get(repo) ?? (commits.get(plan.graphRepo) as string) };
}

/**
 * Resolves the files of a BGE-M3 layout into the huggingface_hub cache and returns the folder to
 * load from.
 *
 * - The repository's file tree decides the layout; only that layout's files are fetched.
 * - Files land as huggingface_hub (Python) stores them, so either side reuses the other's
 *   downloads. A complete cached snapshot of `revision` (refs/<revision> -> snapshots/<commit>)
 *   is used without contacting the Hub; offline (`localFilesOnly`, `HF_HUB_OFFLINE=1`) nothing
 *   else is tried.
 * - When the files come from two repositories (Xenova/bge-m3 int8/fp16 graph + BAAI/bge-m3
 *   heads), each repository keeps its own cache entry and `dir` is a composed folder of
 *   relative links to both snapshots: `models--<graph repo>/langchain-m3/<variant>-<key>/`
 *   (beside `snapshots/`, which huggingface_hub's cache scan ignores; deleting the repo
 *   from the cache deletes it too; it is rebuilt from the snapshots when missing).
 *
 * Errors (M3Error): HUB_UNAUTHORIZED (401/403), HUB_ERROR (404, 5xx after retries, network,
 * checksum), HUB_OFFLINE, IO_ERROR (disk full, permissions), MODEL_NOT_FOUND (no such
 * layout/variant in the repository), ABORTED, INVALID_ARGUMENT.
 */
export async function resolvePretrained(repo: string = DEFAULT_REPO, options: PretrainedOptions = {}): Promise<ResolvedPretrained> {
  checkArgs(repo, options);
  const variant = options.variant ?? "fp32";
  const revision = options.revision ?? "main";
  const s = settingsFrom(options);
  if (options.signal?.aborted) throw abortedError(`Resolving ${repo}`);
  const cached = await fromCache(s, repo, revision, variant);
  if (cached !== undefined) return cached;
  if (s.offline) throw offlineError(s, repo, revision, variant);
  try {
    return await fromHub(s, repo, revision, variant, options);
  } catch (err) {
    if (options.signal?.aborted && !(err instanceof M3Error && err.code === ErrorCodes.ABORTED)) throw abortedError(`Downloading ${repo}`, err);
    throw wrapNetwork(err);
  }
}
