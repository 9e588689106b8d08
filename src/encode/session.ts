/** onnxruntime sessions and tensors, with errors mapped to `M3Error`. */
import { basename } from "node:path";
import * as ort from "onnxruntime-node";
import { ErrorCodes, M3Error } from "../errors.js";
import { halfToFloat32 } from "../math/half.js";
import { INT8_DISABLED_OPTIMIZERS, type ResolvedEncoderOptions } from "./options.js";
import { checkProvidersAvailable, providerFailed } from "./provider-support.js";
import type { ResolvedProvider } from "./providers.js";

export type Session = ort.InferenceSession;

const DISABLE_KEY = "optimization.disable_specified_optimizers";
export { INT8_DISABLED_OPTIMIZERS };

/** The session options: documented defaults, then the caller's extra options on top. */
export function sessionOptions(o: ResolvedEncoderOptions): ort.InferenceSession.SessionOptions {
  const extra = o.variant === "int8" ? { [DISABLE_KEY]: INT8_DISABLED_OPTIMIZERS } : {};
  const user = o.sessionOptions.extra;
  return {
    intraOpNumThreads: o.intraOpNumThreads,
    graphOptimizationLevel: o.graphOptimizationLevel,
    ...o.sessionOptions,
    ...(Object.keys(extra).length > 0 || user !== undefined ? { extra: { ...extra, ...(user as Record<string, unknown> | undefined) } } : {}),
    executionProviders: o.executionProviders,
  };
}

const create = (source: string | Uint8Array, opts: ort.InferenceSession.SessionOptions): Promise<Session> =>
  typeof source === "string" ? ort.InferenceSession.create(source, opts) : ort.InferenceSession.create(source, opts);

/**
 * Creates a session from a file path (so external-data sidecars next to it resolve) or from
 * bytes. Providers the installed onnxruntime-node lacks -> PROVIDER_UNAVAILABLE before any
 * load; a provider that fails to start (the same file loads on the CPU alone) ->
 * PROVIDER_UNAVAILABLE; a file onnxruntime cannot load -> MODEL_INVALID naming the file.
 */
export async function createSession(
  source: string | Uint8Array,
  opts: ort.InferenceSession.SessionOptions,
  label: string = typeof source === "string" ? source : "generated graph",
): Promise<Session> {
  const providers = (opts.executionProviders ?? []) as ResolvedProvider[];
  const accelerated = providers.some((p) => p.name !== "cpu");
  if (accelerated) checkProvidersAvailable(providers);
  try {
    return await create(source, opts);
  } catch (err) {
    if (accelerated) {
      const cpu = await create(source, { ...opts, executionProviders: ["cpu"] }).catch(() => undefined);
      if (cpu !== undefined) {
        await cpu.release();
        throw providerFailed(providers, err);
      }
    }
    throw new M3Error(
      ErrorCodes.MODEL_INVALID,
      `onnxruntime cannot load ${label}: ${(err as Error).message}. The file may be truncated or corrupt, or an ` +
        `external-data file next to it (e.g. ${basename(label)}_data / ${basename(label)}.data) may be missing; re-download it.`,
      { cause: err, details: { file: label } },
    );
  }
}

/** Runs a session, mapping failures to INFERENCE_ERROR. */
export async function runSession(
  session: Session,
  feeds: Record<string, ort.Tensor>,
  fetches: string[],
  label: string,
): Promise<Record<string, ort.Tensor>> {
  try {
    return (await session.run(feeds, fetches)) as Record<string, ort.Tensor>;
  } catch (err) {
    throw new M3Error(ErrorCodes.INFERENCE_ERROR, `onnxruntime failed to run ${label}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** An int64 (or int32 when the graph wants it) tensor of shape dims. */
export function intTensor(data: BigInt64Array, dims: number[], type: "int64" | "int32"): ort.Tensor {
  if (type === "int64") return new ort.Tensor("int64", data, dims);
  return new ort.Tensor("int32", Int32Array.from(data, Number), dims);
}

export function floatTensor(data: Float32Array, dims: number[]): ort.Tensor {
  return new ort.Tensor("float32", data, dims);
}

/** The tensor's data as float32 (float16 outputs are converted). */
export function toFloat32(t: ort.Tensor, name: string): Float32Array {
  if (t.type === "float32") return t.data as Float32Array;
  if (t.type === "float16") {
    const d = t.data as unknown;
    if (d instanceof Uint16Array) return halfToFloat32(d);
    return Float32Array.from(d as ArrayLike<number>);
  }
  throw new M3Error(ErrorCodes.MODEL_INVALID, `Output ${name} has type ${t.type}; expected float32 or float16.`);
}

/** Input names and their element types ("int64" unless the graph declares int32). */
export function inputTypes(s: Session): Map<string, "int64" | "int32"> {
  const m = new Map<string, "int64" | "int32">();
  for (const meta of s.inputMetadata) {
    m.set(meta.name, meta.isTensor && meta.type === "int32" ? "int32" : "int64");
  }
  return m;
}

/** The numeric last dimension of an output, when the graph declares it. */
export function outputLastDim(s: Session, name: string): number | undefined {
  const meta = s.outputMetadata.find((m) => m.name === name);
  if (meta === undefined || !meta.isTensor) return undefined;
  const d = meta.shape[meta.shape.length - 1];
  return typeof d === "number" && d > 0 ? d : undefined;
}

export { ort };
