/** Checks shared by every backend: ids, documents, encodings and queries of the right shapes. */
import { ErrorCodes, M3Error } from "../errors.js";
import type { M3Encoding, MultiVector, SparseVector } from "../types.js";
import { describe } from "../util/validate.js";

function invalid(message: string, details?: Record<string, unknown>): M3Error {
  return new M3Error(ErrorCodes.INVALID_ARGUMENT, message, details === undefined ? undefined : { details });
}

export function checkId(id: unknown, where: string): string {
  if (typeof id !== "string" || id.length === 0) {
    throw invalid(`${where} must be a non-empty string id; got ${describe(id)}. Pass string ids (or omit them to get generated ones).`);
  }
  return id;
}

export function checkMetadata(m: unknown, where: string): Record<string, unknown> {
  if (m === undefined || m === null) return {};
  if (typeof m !== "object" || Array.isArray(m) || ArrayBuffer.isView(m)) {
    throw invalid(`${where} must be a plain object; got ${describe(m)}. Wrap values in an object, e.g. { source: "..." }.`);
  }
  return { ...(m as Record<string, unknown>) };
}

/** A dense vector of exactly `dim` finite floats. */
export function checkDense(v: unknown, dim: number, where: string): Float32Array {
  if (!(v instanceof Float32Array) || v.length !== dim) {
    throw invalid(`${where} must be a Float32Array of length ${dim} (the index's dense dimension); got ${describe(v)}. Encode with the same model the index was built with.`, { expected: dim });
  }
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i]!)) throw invalid(`${where}[${i}] is ${describe(v[i])}; dense vectors must be finite.`);
  }
  return v;
}

/** A sparse vector; returned sorted by token id, repeated ids keep the maximum weight, weights <= 0 dropped. */
export function checkSparse(v: unknown, where: string): SparseVector {
  const s = v as Partial<SparseVector> | undefined;
  if (s === undefined || s === null || !(s.indices instanceof Uint32Array) || !(s.values instanceof Float32Array) || s.indices.length !== s.values.length) {
    throw invalid(`${where} must be { indices: Uint32Array, values: Float32Array } of equal lengths; got ${describe(v)}.`);
  }
  let sorted = true;
  for (let i = 0; i < s.values.length; i++) {
    if (!Number.isFinite(s.values[i]!)) throw invalid(`${where}.values[${i}] is ${describe(s.values[i])}; weights must be finite.`);
    if (i > 0 && s.indices[i]! <= s.indices[i - 1]!) sorted = false;
  }
  const keep = (w: number) => w > 0;
  if (sorted) {
    let all = true;
    for (const w of s.values) if (!keep(w)) all = false;
    if (all) return { indices: s.indices, values: s.values };
  }
  const best = new Map<number, number>();
  for (let i = 0; i < s.indices.length; i++) {
    const w = s.values[i]!;
    if (!keep(w)) continue;
    const t = s.indices[i]!;
    const prev = best.get(t);
    if (prev === undefined || w > prev) best.set(t, w);
  }
  const ids = [...best.keys()].sort((a, b) => a - b);
  return { indices: Uint32Array.from(ids), values: Float32Array.from(ids, (t) => best.get(t)!) };
}

export function checkColbert(v: unknown, dim: number, where: string): MultiVector {
  const m = v as Partial<MultiVector> | undefined;
  if (m === undefined || m === null || !(m.data instanceof Float32Array) || typeof m.tokens !== "number" || !Number.isInteger(m.tokens) || m.tokens < 0) {
    throw invalid(`${where} must be { data: Float32Array, tokens, dim }; got ${describe(v)}.`);
  }
  if (m.dim !== dim || m.data.length !== m.tokens * dim) {
    throw invalid(`${where} must have dim ${dim} and data.length = tokens * ${dim}; got dim ${describe(m.dim)}, tokens ${m.tokens}, data.length ${m.data.length}. Encode with the same model the index was built with.`, { expected: dim });
  }
  return m as MultiVector;
}

/** The three outputs of a document encoding, checked. */
export function checkDocEncoding(e: M3Encoding | undefined, denseDim: number, colbertDim: number, where: string): Required<Omit<M3Encoding, "tokenCount">> {
  if (e === undefined || e === null || typeof e !== "object") throw invalid(`${where} must be an M3Encoding; got ${describe(e)}.`);
  if (e.dense === undefined || e.sparse === undefined || e.colbert === undefined) {
    throw invalid(`${where} must carry dense, sparse and colbert outputs; missing ${["dense", "sparse", "colbert"].filter((k) => e[k as keyof M3Encoding] === undefined).join(", ")}. Encode documents with all three outputs.`);
  }
  return {
    dense: checkDense(e.dense, denseDim, `${where}.dense`),
    sparse: checkSparse(e.sparse, `${where}.sparse`),
    colbert: checkColbert(e.colbert, colbertDim, `${where}.colbert`),
  };
}

/** A query encoding carrying (valid) outputs for every mode in `need`; the others are dropped. */
export function checkQuery(e: unknown, need: ReadonlySet<string>, denseDim: number, colbertDim: number): M3Encoding {
  if (e === null || typeof e !== "object") throw invalid(`The query must be an M3Encoding; got ${describe(e)}.`);
  const q = e as M3Encoding;
  const missing = [...need].filter((m) => q[m as "dense" | "sparse" | "colbert"] === undefined);
  if (missing.length > 0) {
    throw invalid(`The query encoding lacks ${missing.join(", ")}, needed by modes ${[...need].join(", ")}. Encode the query with those outputs.`);
  }
  return {
    tokenCount: q.tokenCount,
    dense: need.has("dense") ? checkDense(q.dense, denseDim, "query.dense") : undefined,
    sparse: need.has("sparse") ? checkSparse(q.sparse, "query.sparse") : undefined,
    colbert: need.has("colbert") ? checkColbert(q.colbert, colbertDim, "query.colbert") : undefined,
  };
}

/** Ids for a lookup or delete: an array of non-empty strings. */
export function checkIds(ids: unknown, where: string): string[] {
  if (!Array.isArray(ids)) throw invalid(`${where} must be an array of string ids; got ${describe(ids)}.`);
  for (let i = 0; i < ids.length; i++) checkId(ids[i], `${where}[${i}]`);
  return ids as string[];
}

/** Rejects with ABORTED when `signal` is aborted. */
export function checkSignal(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) {
    throw new M3Error(ErrorCodes.ABORTED, `${what} was aborted by the caller's AbortSignal; nothing was changed by the aborted step.`, { cause: signal.reason });
  }
}
