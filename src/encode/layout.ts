/**
 * Finds the files of a BGE-M3 model folder (spec, "Published ONNX layouts") and names the
 * layout from the graph's outputs. Nothing here creates a session.
 */
import { access, readdir, stat } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { ErrorCodes, M3Error } from "../errors.js";
import type { ModelVariant } from "./options.js";

export type LayoutKind = "three-heads-aapot" | "three-heads-yuniko" | "encoder-only";

/** Output names of each layout. */
export const THREE_HEAD_OUTPUTS = {
  "three-heads-aapot": { dense: "dense_vecs", sparse: "sparse_vecs", colbert: "colbert_vecs" },
  "three-heads-yuniko": { dense: "dense_embeddings", sparse: "sparse_weights", colbert: "colbert_vectors" },
} as const;
export const HIDDEN_OUTPUT = "last_hidden_state";

const ENCODER_FILE: Record<ModelVariant, string> = { fp32: "model.onnx", int8: "model_quantized.onnx", fp16: "model_fp16.onnx" };

/** The files a model folder provides. Paths are absolute (or as given). */
export interface ModelFiles {
  dir: string;
  graph: string;
  tokenizer: string;
  config: string | undefined;
  /** Heads for the encoder-only layout (found next to the graph or one folder up). */
  sparsePt: string | undefined;
  colbertPt: string | undefined;
}

const EXPECTED =
  "Expected one of these layouts:\n" +
  "  (a) model.onnx (+ model.onnx.data, Constant_* files) with outputs dense_vecs/sparse_vecs/colbert_vecs " +
  "- Hugging Face repo aapot/bge-m3-onnx;\n" +
  "  (a) bge_m3_model.onnx + bge_m3_model.onnx_data - repo yuniko-software/bge-m3-onnx;\n" +
  "  (b) onnx/model.onnx + onnx/model.onnx_data with sparse_linear.pt and colbert_linear.pt at the root - repo BAAI/bge-m3 " +
  "(int8: onnx/model_quantized.onnx, fp16: onnx/model_fp16.onnx from Xenova/bge-m3, with the .pt files from BAAI/bge-m3);\n" +
  "  every layout also needs tokenizer.json (and config.json is read when present).";

const exists = async (p: string): Promise<boolean> => access(p).then(() => true, () => false);

async function firstExisting(paths: string[]): Promise<string | undefined> {
  for (const p of paths) if (await exists(p)) return p;
  return undefined;
}

/** The files in `dir` and `dir/onnx`, for error messages. */
export async function listFolder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const sub of [dir, join(dir, "onnx")]) {
    const names = await readdir(sub).catch(() => [] as string[]);
    for (const n of names) out.push(relative(dir, join(sub, n)) || n);
  }
  return out.sort();
}

async function notFound(dir: string, what: string): Promise<never> {
  const found = await listFolder(dir);
  const shown = found.length > 40 ? [...found.slice(0, 40), `… (${found.length - 40} more)`] : found;
  throw new M3Error(
    ErrorCodes.MODEL_NOT_FOUND,
    `${what} in ${dir}. Found: ${shown.length ? shown.join(", ") : "nothing"}.\n${EXPECTED}`,
    { details: { dir, found } },
  );
}

/** Locates the graph, tokenizer, config and head files for `variant`. Missing pieces -> MODEL_NOT_FOUND. */
export async function findModelFiles(dir: string, variant: ModelVariant): Promise<ModelFiles> {
  const st = await stat(dir).catch(() => undefined);
  if (st === undefined || !st.isDirectory()) {
    throw new M3Error(
      ErrorCodes.MODEL_NOT_FOUND,
      `Model folder ${dir} ${st === undefined ? "does not exist" : "is not a folder"}. Point modelPath at a folder ` +
        `holding a BGE-M3 ONNX model.\n${EXPECTED}`,
      { details: { dir } },
    );
  }
  const file = ENCODER_FILE[variant];
  const candidates =
    variant === "fp32"
      ? [join(dir, "bge_m3_model.onnx"), join(dir, "model.onnx"), join(dir, "onnx", "model.onnx")]
      : [join(dir, "onnx", file), join(dir, file)];
  const graph = await firstExisting(candidates);
  if (graph === undefined) {
    const rel = candidates.map((c) => relative(dir, c)).join(" or ");
    await notFound(dir, `No ${variant} ONNX graph (${rel})`);
  }
  const g = graph as string;
  const near = [...new Set([dirname(g), dir, dirname(dirname(g))])];
  const tokenizer = await firstExisting(near.map((d) => join(d, "tokenizer.json")));
  if (tokenizer === undefined) {
    const found = await listFolder(dir);
    throw new M3Error(
      ErrorCodes.TOKENIZER_ERROR,
      `tokenizer.json not found in ${near.join(" or ")} (found: ${found.join(", ")}). Download tokenizer.json from the ` +
        `model's Hugging Face repository (e.g. BAAI/bge-m3) into ${dir}.`,
      { details: { dir, found } },
    );
  }
  const found: ModelFiles = {
    dir,
    graph: g,
    tokenizer,
    config: await firstExisting(near.map((d) => join(d, "config.json"))),
    sparsePt: await firstExisting(near.map((d) => join(d, "sparse_linear.pt"))),
    colbertPt: await firstExisting(near.map((d) => join(d, "colbert_linear.pt"))),
  };
  // Every file must be a regular file (a symlink to one is fine): a device or FIFO would be read forever.
  // The .pt heads are bounded by the hidden size later (loadStateDict).
  await checkRegularFile(g);
  await checkRegularFile(tokenizer, MAX_TOKENIZER_BYTES);
  if (found.config !== undefined) await checkRegularFile(found.config, MAX_CONFIG_BYTES);
  return found;
}

/** tokenizer.json of BGE-M3 is 17 MB. */
export const MAX_TOKENIZER_BYTES = 128 * 1024 * 1024;
/** config.json is a few hundred bytes. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** MODEL_INVALID unless `path` is a regular file of at most `maxBytes`. */
export async function checkRegularFile(path: string, maxBytes?: number): Promise<void> {
  const st = await stat(path).catch(() => undefined);
  if (st !== undefined && !st.isFile()) {
    throw new M3Error(
      ErrorCodes.MODEL_INVALID,
      `${path} is not a regular file (${st.isDirectory() ? "a folder" : "a device, FIFO or socket"}); replace it with the file from the model's repository.`,
      { details: { file: path } },
    );
  }
  if (st !== undefined && maxBytes !== undefined && st.size > maxBytes) {
    throw new M3Error(
      ErrorCodes.MODEL_INVALID,
      `${path} is ${st.size} bytes, more than the ${maxBytes} such a file can be; replace it with the file from the model's repository.`,
      { details: { file: path, size: st.size, max: maxBytes } },
    );
  }
}

/** The layout a graph belongs to, from its output names; undefined when it matches none. */
export function classifyOutputs(outputs: readonly string[]): LayoutKind | undefined {
  for (const kind of ["three-heads-aapot", "three-heads-yuniko"] as const) {
    const o = THREE_HEAD_OUTPUTS[kind];
    if (outputs.includes(o.dense) && outputs.includes(o.sparse) && outputs.includes(o.colbert)) return kind;
  }
  return outputs.includes(HIDDEN_OUTPUT) ? "encoder-only" : undefined;
}

/** Throws MODEL_NOT_FOUND when an encoder-only graph lacks its head files. */
export async function requireHeads(files: ModelFiles): Promise<{ sparsePt: string; colbertPt: string }> {
  if (files.sparsePt === undefined || files.colbertPt === undefined) {
    const missing = [files.sparsePt ? "" : "sparse_linear.pt", files.colbertPt ? "" : "colbert_linear.pt"].filter(Boolean);
    await notFound(
      files.dir,
      `${relative(files.dir, files.graph)} is an encoder-only graph (output last_hidden_state), but ${missing.join(" and ")} ` +
        `(from BAAI/bge-m3) ${missing.length > 1 ? "are" : "is"} missing`,
    );
  }
  return { sparsePt: files.sparsePt as string, colbertPt: files.colbertPt as string };
}

/** A graph whose outputs fit no layout -> MODEL_INVALID. */
export function unknownGraph(files: ModelFiles, outputs: readonly string[]): M3Error {
  return new M3Error(
    ErrorCodes.MODEL_INVALID,
    `${files.graph} has outputs [${outputs.join(", ")}], which match no BGE-M3 layout.\n${EXPECTED}`,
    { details: { file: files.graph, outputs } },
  );
}
