/** Checks shared by every backend: ids, documents, encodings and queries of the right shapes. */
import { ErrorCodes, M3Error } from "../errors.js";
import type { M3Encoding, ModelFingerprint, MultiVector, SparseVector } from "../types.js";
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

/** Deepest nesting of objects and arrays a document's metadata may have. */
export const MAX_METADATA_DEPTH = 32;

/**
 * Metadata is stored (and saved) as JSON, and must be JSON data: plain objects, arrays, strings,
 * finite numbers, booleans and null, at most MAX_METADATA_DEPTH levels deep, without cycles.
 * Two conveniences, as JSON.stringify does them: a Date becomes its ISO string, and a property
 * whose value is undefined is left out. Anything JSON would change or drop (functions, symbols,
 * BigInt, NaN / ±Infinity, Map, Set, typed arrays, class instances, undefined in an array,
 * symbol keys) and anything it cannot hold (cycles, deeper nesting) is INVALID_ARGUMENT naming
 * the key path. Returns the JSON copy, so what search returns is what a saved index returns.
 */
export function checkMetadata(m: unknown, where: string): Record<string, unknown> {
  if (m === undefined || m === null) return {};
  if (typeof m !== "object" || Array.isArray(m) || ArrayBuffer.isView(m) || !isPlainObject(m)) {
    throw invalid(`${where} must be a plain object; got ${describeValue(m)}. Wrap values in an object, e.g. { source: "..." }.`);
  }
  return jsonCopy(m, where, 0, new Set()) as Record<string, unknown>;
}

const isPlainObject = (v: object): boolean => {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

const describeValue = (v: unknown): string => {
  if (typeof v === "object" && v !== null) {
    const name = (Object.getPrototypeOf(v) as { constructor?: { name?: string } } | null)?.constructor?.name;
    if (name !== undefined && name !== "Object" && name !== "Array") return `a ${name}`;
  }
  if (typeof v === "bigint") return `the BigInt ${v}n`;
  if (typeof v === "symbol") return "a symbol";
  if (typeof v === "function") return "a function";
  return describe(v);
};

const keyPath = (path: string, key: string): string => (/^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`);

const notJson = (path: string, v: unknown, what: string): M3Error =>
  invalid(
    `${path} is ${describeValue(v)}, which ${what}. Metadata is stored as JSON: use strings, finite numbers, booleans, null, ` +
      `plain objects and arrays (a Date is stored as its ISO string).`,
    { path },
  );

function jsonCopy(v: unknown, path: string, depth: number, parents: Set<object>): unknown {
  switch (typeof v) {
    case "string":
    case "boolean":
      return v;
    case "number":
      if (!Number.isFinite(v)) throw notJson(path, v, "JSON cannot hold (it would be saved as null)");
      return v;
    case "bigint":
      throw notJson(path, v, "JSON cannot hold; store it as a string or a number");
    case "undefined":
      throw notJson(path, v, "JSON cannot hold in an array (it would be saved as null)");
    case "function":
    case "symbol":
      throw notJson(path, v, "JSON cannot hold (it would be dropped)");
  }
  if (v === null) return null;
  const o = v as object;
  if (o instanceof Date) {
    if (Number.isNaN(o.getTime())) throw notJson(path, o, "is an invalid Date (it would be saved as null)");
    return o.toISOString();
  }
  if (parents.has(o)) throw notJson(path, o, "refers back to an object that contains it (a cycle), which JSON cannot hold");
  if (depth >= MAX_METADATA_DEPTH) {
    throw invalid(`${path} is nested more than ${MAX_METADATA_DEPTH} levels deep; flatten the metadata (at most ${MAX_METADATA_DEPTH} levels of objects and arrays).`, { path });
  }
  parents.add(o);
  try {
    if (Array.isArray(o)) {
      const out: unknown[] = [];
      for (let i = 0; i < o.length; i++) out.push(jsonCopy(o[i], `${path}[${i}]`, depth + 1, parents));
      return out;
    }
    if (!isPlainObject(o)) throw notJson(path, o, "JSON would not keep (it is not a plain object or array)");
    if (Object.getOwnPropertySymbols(o).some((k) => Object.prototype.propertyIsEnumerable.call(o, k))) {
      throw notJson(path, o, "has symbol keys, which JSON drops");
    }
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(o)) {
      const x = (o as Record<string, unknown>)[key];
      if (x === undefined) continue; // as JSON.stringify: an undefined property is absent
      // defineProperty: a "__proto__" key stays an own property, as JSON.parse makes it.
      Object.defineProperty(out, key, { value: jsonCopy(x, keyPath(path, key), depth + 1, parents), enumerable: true, writable: true, configurable: true });
    }
    return out;
  } finally {
    parents.delete(o);
  }
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

/** Query encodings `checkQuery` returned, with the dimensions they were checked at: a plan's query is checked once. */
const checkedQueries = new WeakMap<object, { denseDim: number; colbertDim: number }>();

/**
 * A query encoding carrying (valid) outputs for every mode in `need`; the others are dropped.
 * An encoding this function returned is not checked again (at the same dimensions), so the
 * plan's query passes each backend primitive without a second validation.
 */
export function checkQuery(e: unknown, need: ReadonlySet<string>, denseDim: number, colbertDim: number): M3Encoding {
  if (e === null || typeof e !== "object") throw invalid(`The query must be an M3Encoding; got ${describe(e)}.`);
  const q = e as M3Encoding;
  const missing = [...need].filter((m) => q[m as "dense" | "sparse" | "colbert"] === undefined);
  if (missing.length > 0) {
    throw invalid(`The query encoding lacks ${missing.join(", ")}, needed by modes ${[...need].join(", ")}. Encode the query with those outputs.`);
  }
  const seen = checkedQueries.get(q);
  const again = seen !== undefined && seen.denseDim === denseDim && seen.colbertDim === colbertDim;
  const out: M3Encoding = {
    tokenCount: q.tokenCount,
    dense: !need.has("dense") ? undefined : again ? q.dense : checkDense(q.dense, denseDim, "query.dense"),
    sparse: !need.has("sparse") ? undefined : again ? q.sparse : checkSparse(q.sparse, "query.sparse"),
    colbert: !need.has("colbert") ? undefined : again ? q.colbert : checkColbert(q.colbert, colbertDim, "query.colbert"),
  };
  checkedQueries.set(out, { denseDim, colbertDim });
  return out;
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

/** Throws INDEX_MODEL_MISMATCH when the index was built with a different model. */
export function checkFingerprint(stored: ModelFingerprint, given: ModelFingerprint, dir: string): void {
  const diffs: string[] = [];
  for (const key of ["layout", "hiddenSize", "vocabSize", "tokenizerSha256"] as const) {
    if (stored[key] !== given[key]) diffs.push(`${key}: index ${String(stored[key])}, encoder ${String(given[key])}`);
  }
  // The heads' hash: compared when both have one (indexes written before it existed carry none).
  if (stored.headsSha256 !== undefined && given.headsSha256 !== undefined && stored.headsSha256 !== given.headsSha256) {
    diffs.push(`headsSha256 (sparse_linear.pt + colbert_linear.pt): index ${stored.headsSha256.slice(0, 12)}, encoder ${given.headsSha256.slice(0, 12)}`);
  }
  if (diffs.length > 0) {
    throw new M3Error(
      ErrorCodes.INDEX_MODEL_MISMATCH,
      `The index in ${dir} was built with a different model (${diffs.join("; ")}). Load it with the model it was built with, or rebuild it with this one.`,
      { details: { stored, given } },
    );
  }
}
