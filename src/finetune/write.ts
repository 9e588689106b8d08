/**
 * Writes the fine-tuned model: a NEW folder holding the source's graphs, tokenizer and config
 * (hard links where the file system allows, else copies), the new heads as fp16 `.pt` files
 * and `finetune.json` (what was trained and how). Built under a temporary name beside the
 * target and renamed into place, so a failure leaves nothing behind.
 */
import { constants } from "node:fs";
import { copyFile, link, mkdir, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { ErrorCodes, M3Error } from "../errors.js";
import type { HeadParams } from "./heads.js";
import { halfStateDict } from "./pt-write.js";

/** Files of the source folder carried over: graphs and their external data, tokenizer, configs. */
const CARRIED = /\.(onnx|onnx_data|onnx\.data|json|model)$|^Constant_/;
const HEAD_FILES = new Set(["sparse_linear.pt", "colbert_linear.pt", "finetune.json"]);

/** INVALID_ARGUMENT when `out` exists (a file or folder); the check runs before any slow step and again at the rename. */
export async function checkOutPath(out: string): Promise<void> {
  const st = await stat(out).catch(() => undefined);
  if (st !== undefined) {
    throw new M3Error(
      ErrorCodes.INVALID_ARGUMENT,
      `The output folder ${out} already exists; fine-tuning writes a new model folder. Choose another path or delete it.`,
      { details: { outPath: out } },
    );
  }
}

async function carry(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch {
    await copyFile(from, to, constants.COPYFILE_FICLONE);
  }
}

/** The files of `dir` (and `dir/onnx`) carried into the new folder, as paths relative to `dir`. */
export async function carriedFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const sub of ["", "onnx"]) {
    const entries = await readdir(join(dir, sub), { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (HEAD_FILES.has(e.name) || !CARRIED.test(e.name)) continue;
      const st = await stat(join(dir, sub, e.name)).catch(() => undefined);
      if (st?.isFile()) out.push(sub === "" ? e.name : join(sub, e.name));
    }
  }
  return out.sort();
}

export function headTensors(p: HeadParams): { sparse: Buffer; colbert: Buffer } {
  const H = p.hidden;
  return {
    sparse: halfStateDict("sparse_linear", [
      { key: "weight", shape: [1, H], values: p.sparseWeight },
      { key: "bias", shape: [1], values: p.sparseBias },
    ]),
    colbert: halfStateDict("colbert_linear", [
      { key: "weight", shape: [H, H], values: p.colbertWeight },
      { key: "bias", shape: [H], values: p.colbertBias },
    ]),
  };
}

/** Writes the new model folder `out` from `sourceDir` and `heads`; returns the files written (relative to `out`). */
export async function writeModelFolder(sourceDir: string, out: string, heads: HeadParams, record: unknown): Promise<string[]> {
  await checkOutPath(out);
  const target = resolve(out);
  const tmp = join(dirname(target), `.${basename(target)}.partial-${process.pid}-${Date.now().toString(36)}`);
  try {
    await mkdir(tmp, { recursive: false });
    const files = await carriedFiles(sourceDir);
    if (files.some((f) => f.startsWith("onnx"))) await mkdir(join(tmp, "onnx"));
    for (const f of files) await carry(join(sourceDir, f), join(tmp, f));
    const pt = headTensors(heads);
    await writeFile(join(tmp, "sparse_linear.pt"), pt.sparse);
    await writeFile(join(tmp, "colbert_linear.pt"), pt.colbert);
    await writeFile(join(tmp, "finetune.json"), JSON.stringify(record, null, 2) + "\n");
    await checkOutPath(out);
    await rename(tmp, target);
    return [...files, "sparse_linear.pt", "colbert_linear.pt", "finetune.json"].sort();
  } catch (err) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    if (err instanceof M3Error) throw err;
    throw new M3Error(ErrorCodes.IO_ERROR, `Cannot write the fine-tuned model to ${out}: ${(err as Error).message}. Nothing was written; free space or choose another folder.`, {
      cause: err,
      details: { outPath: out },
    });
  }
}
