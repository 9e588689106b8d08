/**
 * Finds the input files of `m3 index`: walks folders (sorted, skipping hidden entries and
 * node_modules), keeps .txt, .md and .jsonl, and reads each one once, with its content hash.
 * A file with NUL bytes or invalid UTF-8 is reported as binary and skipped.
 */
import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { CliError } from "./exit.js";

export type SourceKind = "text" | "markdown" | "jsonl";

const KINDS: Record<string, SourceKind> = {
  ".txt": "text",
  ".text": "text",
  ".md": "markdown",
  ".markdown": "markdown",
  ".jsonl": "jsonl",
  ".ndjson": "jsonl",
};

export const SUPPORTED_EXTENSIONS = Object.keys(KINDS);

/** A file found by the walk. `absPath` is the key of the incremental state. */
export interface FoundFile {
  absPath: string;
  /** Path shown to the user and used in document ids (relative to the cwd when inside it). */
  displayPath: string;
  kind: SourceKind;
  size: number;
}

export interface WalkResult {
  files: FoundFile[];
  /** Files in walked folders with an unsupported extension (not read). */
  unsupported: string[];
  /** The roots as absolute paths (folders and files). */
  roots: string[];
}

export function kindOf(file: string): SourceKind | undefined {
  return KINDS[path.extname(file).toLowerCase()];
}

export function displayPathOf(absPath: string, cwd = process.cwd()): string {
  const rel = path.relative(cwd, absPath);
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel.split(path.sep).join("/") : absPath;
}

/** Walks the given files and folders. A path that does not exist is an error (exit 1). */
export async function walkInputs(inputs: string[], cwd = process.cwd()): Promise<WalkResult> {
  const files = new Map<string, FoundFile>();
  const unsupported: string[] = [];
  const roots: string[] = [];
  for (const input of inputs) {
    const abs = path.resolve(cwd, input);
    let st;
    try {
      st = await stat(abs);
    } catch {
      throw new CliError(`no such file or folder: ${input}`);
    }
    roots.push(abs);
    if (st.isDirectory()) await walkDir(abs, files, unsupported, cwd);
    else if (st.isFile()) {
      const kind = kindOf(abs);
      if (kind) files.set(abs, { absPath: abs, displayPath: displayPathOf(abs, cwd), kind, size: st.size });
      else unsupported.push(displayPathOf(abs, cwd));
    }
  }
  return { files: [...files.values()], unsupported, roots };
}

async function walkDir(dir: string, out: Map<string, FoundFile>, unsupported: string[], cwd: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (e.name.startsWith(".") || e.name === "node_modules") continue;
    const abs = path.join(dir, e.name);
    if (e.isDirectory()) await walkDir(abs, out, unsupported, cwd);
    else if (e.isFile()) {
      const kind = kindOf(abs);
      if (!kind) {
        unsupported.push(displayPathOf(abs, cwd));
        continue;
      }
      const st = await stat(abs);
      out.set(abs, { absPath: abs, displayPath: displayPathOf(abs, cwd), kind, size: st.size });
    }
  }
}

/** True when `abs` is one of the roots or inside one of the root folders. */
export function isUnderRoots(abs: string, roots: string[]): boolean {
  return roots.some((r) => abs === r || abs.startsWith(r.endsWith(path.sep) ? r : r + path.sep));
}

export type ReadResult =
  | { ok: true; text: string; sha256: string }
  | { ok: false; reason: string };

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Reads a file as UTF-8 text with its sha256; binary content (NUL bytes, invalid UTF-8) is refused with the reason. */
export async function readTextFile(abs: string): Promise<ReadResult> {
  const bytes = await readFile(abs);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const probe = bytes.subarray(0, Math.min(bytes.length, 8192));
  if (probe.includes(0)) return { ok: false, reason: "binary content (NUL bytes)" };
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return { ok: false, reason: "not valid UTF-8 (binary?)" };
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return { ok: true, text, sha256 };
}
