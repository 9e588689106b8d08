/**
 * The huggingface_hub cache layout, byte for byte as the Python library writes it:
 * `models--ORG--NAME/blobs/<etag>`, `snapshots/<commit>/<path>` as relative symlinks to
 * `../../blobs/<etag>` (one more `../` per folder level of <path>), `refs/<revision>` holding
 * the commit hash without a newline.
 */
import { randomBytes } from "node:crypto";
import { lstat, readFile, readdir, readlink, rename, rm, stat, symlink, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, sep } from "node:path";
import { ErrorCodes, M3Error } from "../errors.js";
import { makeDirs } from "../util/fs.js";

export const repoFolderName = (repo: string): string => ["models", ...repo.split("/")].join("--");

/**
 * `parts` joined onto `base`, refused (HUB_ERROR) unless the result lies strictly inside `base`:
 * every path the cache writes goes through here, so no etag, file name or revision a server
 * sends can point a write outside the cache.
 */
export function inside(base: string, ...parts: string[]): string {
  const p = join(base, ...parts);
  const rel = relative(base, p);
  if (rel === "" || rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new M3Error(
      ErrorCodes.HUB_ERROR,
      `Refusing the cache path ${JSON.stringify(parts.join("/").slice(0, 200))}: it does not stay inside ${base}. ` +
        `A Hub answer (etag, file name) or the revision names a path outside the cache; check HF_ENDPOINT and the revision.`,
      { details: { base, parts } },
    );
  }
  return p;
}

export const storageFolder = (cacheDir: string, repo: string): string => inside(cacheDir, repoFolderName(repo));
export const blobPath = (storage: string, etag: string): string => inside(join(storage, "blobs"), etag);
export const snapshotDir = (storage: string, commit: string): string => inside(join(storage, "snapshots"), commit);
export const pointerPath = (storage: string, commit: string, file: string): string =>
  inside(snapshotDir(storage, commit), ...file.split("/"));
export const refPath = (storage: string, revision: string): string => inside(join(storage, "refs"), ...revision.split("/"));

export const exists = (p: string): Promise<boolean> => stat(p).then(() => true, () => false);

const tmpName = (p: string): string => `${p}.tmp-${randomBytes(6).toString("hex")}`;

/** Turns a file-system failure into IO_ERROR (ENOSPC gets its own advice). */
export function ioError(err: unknown, what: string): M3Error {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const advice =
    code === "ENOSPC"
      ? "The disk is full: free some space, or point HF_HUB_CACHE (or cacheDir) at a disk with room, then run again; the partial download is resumed."
      : code === "EACCES" || code === "EPERM" || code === "EROFS"
        ? "The cache folder is not writable: fix its permissions or set HF_HUB_CACHE (or cacheDir) to a writable folder."
        : "Check the cache folder and run again.";
  return new M3Error(ErrorCodes.IO_ERROR, `${what} failed (${code ?? String(err)}). ${advice}`, {
    cause: err,
    details: { code },
  });
}

/** The commit a revision points to in the cache: the revision itself when it is a commit hash, else refs/<revision>. */
export async function readRef(storage: string, revision: string): Promise<string | undefined> {
  if (/^[0-9a-f]{40}$/.test(revision)) return revision;
  const text = await readFile(refPath(storage, revision), "utf8").catch(() => undefined);
  const commit = text?.trim();
  return commit !== undefined && /^[0-9a-f]{40}$/.test(commit) ? commit : undefined;
}

/** Writes refs/<revision> (commit hash, no newline) atomically, when it differs. */
export async function writeRef(storage: string, revision: string, commit: string): Promise<void> {
  if (revision === commit) return;
  const p = refPath(storage, revision);
  const current = await readFile(p, "utf8").catch(() => undefined);
  if (current === commit) return;
  try {
    await makeDirs(dirname(p));
    const tmp = tmpName(p);
    await writeFile(tmp, commit);
    await rename(tmp, p);
  } catch (err) {
    throw ioError(err, `Writing ${p}`);
  }
}

/** Creates (or replaces) `link` as a relative symlink to `target`, atomically (temp link + rename). */
export async function linkRelative(target: string, link: string): Promise<void> {
  try {
    await makeDirs(dirname(link));
    const rel = relative(dirname(link), target).split(sep).join("/");
    const cur = await lstat(link).catch(() => undefined);
    if (cur?.isSymbolicLink() && (await exists(link))) {
      if ((await readlink(link)) === rel) return;
    }
    const tmp = tmpName(link);
    await symlink(rel, tmp);
    await rename(tmp, link);
  } catch (err) {
    throw ioError(err, `Linking ${link}`);
  }
}

/** Repository-relative paths (with "/") of the files in a folder whose links resolve; [] when it is missing. */
export async function listFilesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (sub: string, depth: number): Promise<void> => {
    if (depth > 16) return;
    const entries = await readdir(join(dir, sub), { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (e.name.includes(".tmp-")) continue;
      const rel = sub === "" ? e.name : `${sub}/${e.name}`;
      const st = await stat(join(dir, rel)).catch(() => undefined);
      if (st?.isDirectory()) await walk(rel, depth + 1);
      else if (st?.isFile()) out.push(rel);
    }
  };
  await walk("", 0);
  return out.sort();
}

/** Removes a path, ignoring a missing one. */
export const removeQuietly = (p: string): Promise<void> => rm(p, { force: true, recursive: true }).catch(() => undefined);
