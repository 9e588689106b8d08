/**
 * `quantizeModel(dir)`: writes the dynamic int8 graph of an encoder-only BGE-M3 folder next to
 * its fp32 graph, as the file `variant: "int8"` loads (`onnx/model_quantized.onnx`). External
 * fp32 data is read with positional reads (the embedding table in slices); the result is one
 * file written under a temporary name and renamed into place, so a failure leaves nothing
 * half-written under the final name.
 */
import { open, readFile, rename, stat, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { ErrorCodes, M3Error } from "../errors.js";
import type { Logger } from "../types.js";
import { classifyOutputs, findModelFiles, requireHeads } from "./layout.js";
import { ProtoWriter } from "./onnx/proto.js";
import { MS_DOMAIN, QUANTIZED_OPS, quantizeGraph, type QuantizeStats, type ScaleMode, type WeightBits } from "./onnx/quantize-graph.js";
import { parseModel, type OnnxTensor } from "./onnx/reader.js";

export type { ScaleMode, WeightBits } from "./onnx/quantize-graph.js";

/** The int8 file name `variant: "int8"` loads, next to the fp32 graph. */
export const QUANTIZED_FILE = "model_quantized.onnx";
/** The 4-bit file name (`writeQuantized(dir, {}, 4)`, not offered), next to the fp32 graph. */
export const Q4_FILE = "model_q4.onnx";

export interface QuantizeOptions {
  /** One weight scale per output column, or one per matrix. @default "per-column" */
  scales?: ScaleMode;
  /** Replace an existing output file. @default false */
  overwrite?: boolean;
  /** Called after each rewritten node. @default none */
  onProgress?: (done: number, total: number) => void;
  /** Stops between tensors (ABORTED); the temporary file is removed. @default none */
  signal?: AbortSignal;
  logger?: Logger;
}

export interface QuantizeResult {
  /** The fp32 graph read and the int8 graph written (absolute paths). */
  source: string;
  file: string;
  bytes: number;
  scales: ScaleMode;
  stats: QuantizeStats;
  seconds: number;
}

/** The largest ONNX file protobuf can hold (one file, weights inline). */
const MAX_PROTO_BYTES = 2 ** 31 - 1;

export function quantizeModel(dir: string, options: QuantizeOptions = {}): Promise<QuantizeResult> {
  return writeQuantized(dir, options, 8);
}

/**
 * `quantizeModel` with the MatMul weights at `bits` bits. 4 writes `onnx/model_q4.onnx` with
 * MatMulNBits (blocks of 32, accuracy level 4); it is not offered to users (measured below
 * int8's fidelity, README Limitations) and is here for bench/q4.ts, which measures it.
 */
export async function writeQuantized(dir: string, options: QuantizeOptions, bits: WeightBits): Promise<QuantizeResult> {
  const t0 = Date.now();
  const mode = options.scales ?? "per-column";
  if (mode !== "per-column" && mode !== "per-tensor") {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `scales must be "per-column" or "per-tensor"; got ${JSON.stringify(mode)}.`);
  }
  if (bits !== 8 && bits !== 4) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `bits must be 8 or 4; got ${JSON.stringify(bits)}.`, { details: { bits } });
  }
  if (bits === 4 && options.scales !== undefined) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, "scales applies to 8-bit weights only; 4-bit weights have one scale per block of 32.");
  }
  const modelDir = resolve(dir);
  const files = await findModelFiles(modelDir, "fp32");
  const source = files.graph;
  const buf = await readFile(source);
  const model = parseModel(buf);
  const layout = classifyOutputs(model.outputs);
  if (layout !== "encoder-only" || !model.inputs.includes("input_ids")) {
    throw new M3Error(
      ErrorCodes.INVALID_ARGUMENT,
      `${source} is not an encoder-only BGE-M3 graph (inputs [${model.inputs.join(", ")}], outputs [${model.outputs.join(", ")}]; ` +
        `expected input_ids and last_hidden_state). m3 quantize takes the fp32 encoder of BAAI/bge-m3 (onnx/model.onnx with ` +
        `sparse_linear.pt and colbert_linear.pt); graphs with the heads inside are not quantised.`,
      { details: { file: source, layout: layout ?? "unknown" } },
    );
  }
  await requireHeads(files);
  const already = model.nodes.find((n) => QUANTIZED_OPS.has(n.opType));
  if (already !== undefined) {
    throw new M3Error(
      ErrorCodes.INVALID_ARGUMENT,
      `${source} is already quantised (it has ${already.opType} nodes); quantise the fp32 graph (onnx/model.onnx of BAAI/bge-m3).`,
      { details: { file: source, op: already.opType } },
    );
  }
  const defaultOpset = model.opsets.get("") ?? model.opsets.get("ai.onnx") ?? 0;
  if (defaultOpset < 11) {
    throw new M3Error(ErrorCodes.MODEL_INVALID, `${source} uses ONNX opset ${defaultOpset}; DynamicQuantizeLinear needs opset 11 or later.`);
  }
  const out = join(dirname(source), bits === 4 ? Q4_FILE : QUANTIZED_FILE);
  if (!options.overwrite && (await stat(out).catch(() => undefined)) !== undefined) {
    throw new M3Error(
      ErrorCodes.INVALID_ARGUMENT,
      `${out} already exists; pass overwrite: true (m3 quantize --force) to replace it.`,
      { details: { file: out } },
    );
  }

  const handles = new Map<string, FileHandle>();
  const tmp = join(dirname(out), `.${basename(out)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  let wrote = false;
  try {
    const check = () => {
      if (options.signal?.aborted) throw new M3Error(ErrorCodes.ABORTED, "Quantisation aborted; nothing was written.");
    };
    const bytesOf = async (t: OnnxTensor, byteOffset: number, byteLength: number): Promise<Uint8Array> => {
      check();
      if (t.external === undefined) {
        if (t.rawData !== undefined) return t.rawData.subarray(byteOffset, byteOffset + byteLength);
        if (t.floatData !== undefined) return new Uint8Array(t.floatData.buffer, t.floatData.byteOffset + byteOffset, byteLength);
        throw new M3Error(ErrorCodes.MODEL_INVALID, `Initializer ${t.name} in ${source} has no data.`);
      }
      const file = resolve(dirname(source), t.external.location);
      if (dirname(file) !== dirname(source) && !file.startsWith(dirname(source) + "/")) {
        throw new M3Error(ErrorCodes.MODEL_INVALID, `Initializer ${t.name} points outside the model folder (${t.external.location}).`);
      }
      if (t.external.length !== undefined && byteOffset + byteLength > t.external.length) {
        throw new M3Error(ErrorCodes.MODEL_INVALID, `Initializer ${t.name}: ${t.external.length} external bytes, fewer than its shape needs.`);
      }
      let h = handles.get(file);
      if (h === undefined) {
        h = await open(file, "r").catch((err: unknown) => {
          throw new M3Error(ErrorCodes.MODEL_NOT_FOUND, `${basename(file)} (external data of ${basename(source)}) cannot be opened: ${(err as Error).message}.`, { cause: err });
        });
        handles.set(file, h);
      }
      const b = new Uint8Array(byteLength);
      const { bytesRead } = await h.read(b, 0, byteLength, t.external.offset + byteOffset);
      if (bytesRead !== byteLength) {
        throw new M3Error(ErrorCodes.MODEL_INVALID, `${basename(file)} ends before the data of ${t.name}; the file is truncated, re-download it.`);
      }
      return b;
    };
    const readRows = async (t: OnnxTensor, from: number, rows: number): Promise<Float32Array> => {
      const C = t.dims[1]!;
      const b = await bytesOf(t, from * C * 4, rows * C * 4);
      const aligned = b.byteOffset % 4 === 0 ? b : b.slice();
      return new Float32Array(aligned.buffer, aligned.byteOffset, rows * C);
    };
    const inline = (t: OnnxTensor) => bytesOf(t, 0, t.external!.length ?? elementBytes(t));
    const { graph, stats } = await quantizeGraph(model, readRows, inline, mode, options.onProgress, bits);
    check();
    const m = new ProtoWriter();
    for (const f of model.otherFields) m.raw(f.raw);
    m.embed(7, graph);
    if (bits === 4 && !model.opsets.has(MS_DOMAIN)) m.message(8, new ProtoWriter().string(1, MS_DOMAIN).int(2, 1));
    if (m.byteLength > MAX_PROTO_BYTES) {
      throw new M3Error(
        ErrorCodes.INVALID_ARGUMENT,
        `The quantised graph would be ${m.byteLength} bytes, over protobuf's 2 GiB limit for one ONNX file; this model is larger than BGE-M3.`,
      );
    }
    const fh = await open(tmp, "wx");
    try {
      for (const c of m.chunks()) {
        check();
        let o = 0;
        while (o < c.length) o += (await fh.write(c, o, c.length - o)).bytesWritten;
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    wrote = true;
    await rename(tmp, out);
    const result: QuantizeResult = { source, file: out, bytes: m.byteLength, scales: mode, stats, seconds: (Date.now() - t0) / 1000 };
    options.logger?.info?.("bge-m3 quantized", { ...result });
    return result;
  } catch (err) {
    if (wrote || (await stat(tmp).catch(() => undefined)) !== undefined) await unlink(tmp).catch(() => undefined);
    if (err instanceof M3Error) throw err;
    throw new M3Error(ErrorCodes.IO_ERROR, `Writing ${out} failed: ${(err as Error).message}. Nothing was written under that name.`, {
      cause: err,
      details: { file: out },
    });
  } finally {
    for (const h of handles.values()) await h.close().catch(() => undefined);
  }
}

function elementBytes(t: OnnxTensor): number {
  const n = t.dims.reduce((a, b) => a * b, 1);
  const size: Record<number, number> = { 1: 4, 2: 1, 3: 1, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8 };
  return n * (size[t.dataType] ?? 4);
}
