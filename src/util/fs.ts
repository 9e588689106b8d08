/**
 * File-system helpers shared by the stages: `makeDirs` (a bounded `mkdir -p`); the file
 * operations `save` uses, behind an interface so tests can inject failures in the middle of a
 * save (the default implementation fsyncs every file it writes); CRC-32 and sha256 of files.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import * as fsp from "node:fs/promises";
import { mkdir, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { crc32 } from "./crc32.js";

/**
 * `mkdir -p` in a bounded number of steps: finds the deepest existing ancestor, then creates each
 * missing folder below it once. Node's `mkdir(dir, { recursive: true })` never settles where
 * mkdir fails with ENOENT under an existing parent (e.g. anywhere under /proc): it retries the
 * parent forever. Here such a failure is thrown as the errno error it is.
 */
export async function makeDirs(dir: string): Promise<void> {
  const missing: string[] = [];
  let p = resolve(dir);
  for (;;) {
    const st = await stat(p).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined;
      throw err;
    });
    if (st !== undefined) {
      if (!st.isDirectory()) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${p}'`), { code: "ENOTDIR", path: p });
      break;
    }
    missing.push(p);
    const parent = dirname(p);
    if (parent === p) break;
    p = parent;
  }
  for (const d of missing.reverse()) {
    await mkdir(d).catch(async (err: NodeJS.ErrnoException) => {
      // Created meanwhile by someone else: fine when it is a folder.
      if (err.code !== "EEXIST" || !(await stat(d)).isDirectory()) throw err;
    });
  }
}

export interface IndexFs {
  /** Creates or truncates `path`, writes `data` and fsyncs it. */
  writeFile(path: string, data: Uint8Array): Promise<void>;
  /** fsyncs a file written by someone else (hnswlib, the ColBERT store). */
  syncFile(path: string): Promise<void>;
  /** Atomically renames `from` over `to`. */
  rename(from: string, to: string): Promise<void>;
  /** fsyncs a directory so a rename in it is durable. */
  syncDir(dir: string): Promise<void>;
  unlink(path: string): Promise<void>;
}

/** Creates or truncates `path`, writes `data` and fsyncs it. */
export async function writeFileSynced(path: string, data: Uint8Array): Promise<void> {
  const fh = await fsp.open(path, "w");
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsyncs a directory so files created or renamed in it survive a crash (best effort where unsupported: the rename is still atomic). */
export async function syncDir(dir: string): Promise<void> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(dir, "r");
    await fh.sync();
  } catch {
    // Some platforms cannot fsync a directory; the manifest rename still orders the commit.
  } finally {
    await fh?.close();
  }
}

export const nodeFs: IndexFs = {
  writeFile: writeFileSynced,
  async syncFile(path) {
    const fh = await fsp.open(path, "r+");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
  rename: (from, to) => fsp.rename(from, to),
  syncDir,
  unlink: (path) => fsp.unlink(path),
};

/** CRC-32 (8 hex digits) of a whole file, read through one 4 MiB buffer (fresh chunks cost a page fault per 4 KiB on first touch). */
export async function crc32File(path: string): Promise<string> {
  const fh = await fsp.open(path, "r");
  try {
    const buf = new Uint8Array(4 << 20);
    let c = 0;
    for (let pos = 0; ;) {
      const { bytesRead } = await fh.read(buf, 0, buf.byteLength, pos);
      if (bytesRead === 0) break;
      c = crc32(buf.subarray(0, bytesRead), c);
      pos += bytesRead;
    }
    return crcHex(c);
  } finally {
    await fh.close();
  }
}

/** CRC-32 of `data` as 8 hex digits. */
export function crc32Hex(data: Uint8Array): string {
  return crcHex(crc32(data));
}

export function crcHex(c: number): string {
  return (c >>> 0).toString(16).padStart(8, "0");
}

/** sha256 (hex) of a whole file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

export function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}
