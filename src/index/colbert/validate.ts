/** Input checks of the ColBERT store: typed M3Errors with what was expected and what arrived. */
import { ErrorCodes, M3Error } from "../../errors.js";
import type { MultiVector, RowScorer } from "../../types.js";
import { checkInt, checkNumber, describe } from "../../util/validate.js";
import { checkCodecName } from "../../multivector/codec/codec.js";
import type { ColbertCodecName, ColbertKernel, ColbertOpenOptions, ColbertStoreOptions } from "./types.js";

export const DEFAULT_CODEC: ColbertCodecName = "int8";
/** No record cache by default: see ColbertStoreOptions.cacheBytes. */
export const DEFAULT_CACHE_BYTES = 0;
/** Largest slot number (uint32 in the record header). */
export const MAX_SLOT = 0xfffffffe;
/** Largest token count of one matrix (BGE-M3 yields at most 8191 rows). */
export const MAX_TOKENS = 1 << 20;

export const DEFAULT_KERNEL: ColbertKernel = "onnxruntime";
/**
 * onnxruntime threads per scoring call. One: a rerank's blocks are small (10k rows), and with two
 * threads onnxruntime's spinning workers cost ~2.5× the CPU for a 2× slower query whenever the
 * cores are shared (bench, 10k documents, load ~6: 70 vs 178 ms CPU per query).
 */
export const DEFAULT_KERNEL_THREADS = 1;

export interface ResolvedOpenOptions {
  cacheBytes: number;
  kernel: ColbertKernel;
  kernelThreads: number;
  rowScorer: RowScorer | undefined;
}

export interface ResolvedOptions extends ResolvedOpenOptions {
  codec: ColbertCodecName;
  poolFactor: number;
}

export function resolveOptions(options: ColbertStoreOptions | undefined): ResolvedOptions {
  const o = options ?? {};
  return {
    codec: checkCodecName(o.codec ?? DEFAULT_CODEC),
    poolFactor: checkNumber("poolFactor", o.poolFactor ?? 1, 1, 1024),
    ...resolveOpenOptions(o),
  };
}

export function resolveOpenOptions(options: ColbertOpenOptions | undefined): ResolvedOpenOptions {
  const o = options ?? {};
  const kernel = o.kernel ?? DEFAULT_KERNEL;
  if (kernel !== "onnxruntime" && kernel !== "js") {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `colbert kernel must be "onnxruntime" or "js"; got ${describe(kernel)}.`, { details: { kernel } });
  }
  return {
    cacheBytes: checkCacheBytes(o.cacheBytes),
    kernel,
    kernelThreads: checkInt("kernelThreads", o.kernelThreads ?? DEFAULT_KERNEL_THREADS, 1, 1024),
    rowScorer: checkRowScorer(o.rowScorer),
  };
}

function checkRowScorer(s: unknown): RowScorer | undefined {
  if (s === undefined) return undefined;
  const r = s as RowScorer | null;
  if (typeof r !== "object" || r === null || typeof r.score !== "function" || typeof r.release !== "function") {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `colbert rowScorer must be a RowScorer { score, release } (or left out); got ${describe(s)}.`);
  }
  return r;
}

export function checkCacheBytes(v: number | undefined): number {
  return checkInt("cacheBytes", v ?? DEFAULT_CACHE_BYTES, 0, Number.MAX_SAFE_INTEGER);
}

export function checkDim(dim: unknown): number {
  return checkInt("dim", dim, 1, 65536);
}

export function checkSlot(slot: unknown): number {
  return checkInt("slot", slot, 0, MAX_SLOT);
}

export function checkGeneration(g: unknown): number {
  return checkInt("generation", g, 0, Number.MAX_SAFE_INTEGER);
}

/** Checks a document or query matrix: shape, dimension, finite values. */
export function checkMatrix(name: string, m: unknown, dim: number): MultiVector {
  const bad = (what: string): never => {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `${name} ${what}`, { details: { name } });
  };
  if (typeof m !== "object" || m === null) bad(`must be a MultiVector { data, tokens, dim }; got ${describe(m)}.`);
  const { data, tokens, dim: d } = m as MultiVector;
  if (!(data instanceof Float32Array)) bad(`.data must be a Float32Array; got ${describe(data)}. Convert with Float32Array.from(...).`);
  if (d !== dim) bad(`has dimension ${describe(d)} but this ColBERT store holds ${dim}-dimensional rows; encode with the same model the index was built with.`);
  checkInt(`${name}.tokens`, tokens, 0, MAX_TOKENS);
  if (data.length !== tokens * dim) bad(`.data has ${data.length} values; expected tokens × dim = ${tokens} × ${dim} = ${tokens * dim}.`);
  // x·0 is 0 for finite x and NaN for NaN/±Infinity, so one sum detects any non-finite value;
  // the scan that names its position runs only then.
  let probe = 0;
  for (let i = 0; i < data.length; i++) probe += data[i]! * 0;
  if (probe !== 0) {
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i]!)) bad(`has a non-finite value (${describe(data[i])}) at row ${Math.floor(i / dim)}, column ${i % dim}; the encoder output is broken.`);
    }
  }
  return m as MultiVector;
}

export function checkSlots(slots: unknown): Uint32Array {
  if (!(slots instanceof Uint32Array)) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `slots must be a Uint32Array; got ${describe(slots)}. Use Uint32Array.from(slotNumbers).`);
  }
  return slots;
}
