/**
 * Metadata filters: one language, one meaning, for every backend. `parseFilter` checks what a
 * caller wrote and returns a `Filter` (a small expression tree); `matchesFilter` evaluates it
 * in process (the embedded index), and the Postgres backend translates the same tree to
 * parameterised SQL on a jsonb column. Both follow the rules below, and the backend contract
 * tests check that they agree.
 *
 * The language (LangChain-style, top-level metadata keys):
 * - `{ key: value }` — equality; `value` a string, number, boolean or null.
 * - `{ key: { $eq | $ne: v } }`, `{ key: { $in | $nin: [v, ...] } }`,
 *   `{ key: { $gt | $gte | $lt | $lte: n } }` (a number or a string; only values of the same
 *   type compare: `{ n: { $gt: 1 } }` never matches the string "2"), `{ key: { $exists: bool } }`.
 *   Several operators on one key must all hold.
 * - `{ $and: [f, ...] }`, `{ $or: [f, ...] }`, `{ $not: f }`; several keys in one object must all hold.
 * - Equality is strict (`===` on JSON values): `1` equals `1.0`, never `"1"`; an array or object
 *   value never equals a primitive. A missing key is not equal to anything, so `$ne` and `$nin`
 *   match documents that lack the key (as SQL's `IS DISTINCT FROM`). Strings order by UTF-16
 *   code unit.
 * - A JavaScript predicate `(doc) => boolean` works only where the documents live in process
 *   (the embedded index); a server backend refuses it with INVALID_ARGUMENT.
 */
import { ErrorCodes, M3Error } from "../errors.js";
import { describe } from "../util/validate.js";
import type { StoredDocument } from "./document.js";

/** A primitive a filter compares with. */
export type FilterValue = string | number | boolean | null;

/** Operators on one key. */
export interface FilterOperators {
  $eq?: FilterValue;
  $ne?: FilterValue;
  $in?: FilterValue[];
  $nin?: FilterValue[];
  $gt?: number | string;
  $gte?: number | string;
  $lt?: number | string;
  $lte?: number | string;
  $exists?: boolean;
}

/** What callers write. */
export type MetadataFilter =
  | ((doc: StoredDocument) => boolean)
  | { $and?: MetadataFilter[]; $or?: MetadataFilter[]; $not?: MetadataFilter; [key: string]: unknown };

export type CompareOp = "gt" | "gte" | "lt" | "lte";

/** The checked expression tree. */
export type Filter =
  | { op: "and" | "or"; args: Filter[] }
  | { op: "not"; arg: Filter }
  | { op: "eq" | "ne"; key: string; value: FilterValue }
  | { op: "in" | "nin"; key: string; values: FilterValue[] }
  | { op: CompareOp; key: string; value: number | string }
  | { op: "exists"; key: string; value: boolean }
  | { op: "predicate"; fn: (doc: StoredDocument) => boolean };

const MAX_DEPTH = 32;

function bad(message: string): M3Error {
  return new M3Error(ErrorCodes.INVALID_ARGUMENT, message);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function isValue(v: unknown): v is FilterValue {
  return v === null || typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v));
}

function checkValue(v: unknown, where: string): FilterValue {
  if (!isValue(v)) throw bad(`filter ${where} must be a string, a finite number, a boolean or null; got ${describe(v)}. Use a predicate function for other conditions.`);
  return v;
}

/** Trees made by `parseFilter`, so that a checked filter passed down a layer is not parsed again. */
const checked = new WeakSet<object>();

/** Checks a caller's filter; `undefined`, `null` and `{}` mean "no filter". A tree it returned passes through as is. */
export function parseFilter(filter: unknown): Filter | undefined {
  if (filter === undefined || filter === null) return undefined;
  if (typeof filter === "object" && checked.has(filter)) return filter as Filter;
  if (isPlainObject(filter) && Object.keys(filter).length === 0) return undefined; // {} is "no filter", as in LangChain
  const tree = parse(filter, "filter", 0);
  checked.add(tree);
  return tree;
}

function parse(f: unknown, where: string, depth: number): Filter {
  if (depth > MAX_DEPTH) throw bad(`${where} nests deeper than ${MAX_DEPTH} levels; flatten it.`);
  if (typeof f === "function") {
    const fn = f as (doc: StoredDocument) => unknown;
    return { op: "predicate", fn: (doc) => fn(doc) === true };
  }
  if (!isPlainObject(f)) {
    throw bad(`${where} must be a function (doc) => boolean or a plain object such as { lang: "en" } or { year: { $gte: 2020 } }; got ${describe(f)}.`);
  }
  const args: Filter[] = [];
  for (const [key, v] of Object.entries(f)) {
    const at = `${where}.${key}`;
    if (key === "$and" || key === "$or") {
      if (!Array.isArray(v) || v.length === 0) throw bad(`${at} must be a non-empty array of filters; got ${describe(v)}.`);
      args.push({ op: key === "$and" ? "and" : "or", args: v.map((x, i) => parse(x, `${at}[${i}]`, depth + 1)) });
    } else if (key === "$not") {
      args.push({ op: "not", arg: parse(v, at, depth + 1) });
    } else if (key.startsWith("$")) {
      throw bad(`${at}: unknown operator ${JSON.stringify(key)}; use $and, $or, $not at the top, or { key: { $eq, $ne, $in, $nin, $gt, $gte, $lt, $lte, $exists } }.`);
    } else if (isPlainObject(v)) {
      args.push(...parseOperators(key, v, at));
    } else {
      args.push({ op: "eq", key, value: checkValue(v, at) });
    }
  }
  if (args.length === 1) return args[0]!;
  return { op: "and", args };
}

function parseOperators(key: string, ops: Record<string, unknown>, at: string): Filter[] {
  const out: Filter[] = [];
  const entries = Object.entries(ops);
  if (entries.length === 0) throw bad(`${at} is an empty object; give a value or an operator such as { $eq: "x" }.`);
  for (const [op, v] of entries) {
    const w = `${at}.${op}`;
    switch (op) {
      case "$eq":
      case "$ne":
        out.push({ op: op === "$eq" ? "eq" : "ne", key, value: checkValue(v, w) });
        break;
      case "$in":
      case "$nin":
        if (!Array.isArray(v)) throw bad(`${w} must be an array of values; got ${describe(v)}.`);
        out.push({ op: op === "$in" ? "in" : "nin", key, values: v.map((x, i) => checkValue(x, `${w}[${i}]`)) });
        break;
      case "$gt":
      case "$gte":
      case "$lt":
      case "$lte":
        if (typeof v !== "string" && !(typeof v === "number" && Number.isFinite(v))) {
          throw bad(`${w} must be a finite number or a string; got ${describe(v)}.`);
        }
        out.push({ op: op.slice(1) as CompareOp, key, value: v });
        break;
      case "$exists":
        if (typeof v !== "boolean") throw bad(`${w} must be true or false; got ${describe(v)}.`);
        out.push({ op: "exists", key, value: v });
        break;
      default:
        throw bad(`${at}: unknown operator ${JSON.stringify(op)}; use $eq, $ne, $in, $nin, $gt, $gte, $lt, $lte or $exists.`);
    }
  }
  return out;
}

/** True when the filter holds a JavaScript predicate anywhere (a server cannot run those). */
export function hasPredicate(f: Filter): boolean {
  switch (f.op) {
    case "predicate":
      return true;
    case "and":
    case "or":
      return f.args.some(hasPredicate);
    case "not":
      return hasPredicate(f.arg);
    default:
      return false;
  }
}

function equal(a: unknown, b: FilterValue): boolean {
  return a === b;
}

/** Evaluates the filter on a stored document (the embedded backend; the reference meaning). */
export function matchesFilter(f: Filter, doc: StoredDocument): boolean {
  const m = doc.metadata;
  switch (f.op) {
    case "and":
      return f.args.every((x) => matchesFilter(x, doc));
    case "or":
      return f.args.some((x) => matchesFilter(x, doc));
    case "not":
      return !matchesFilter(f.arg, doc);
    case "predicate":
      return f.fn(doc);
    case "exists":
      return Object.prototype.hasOwnProperty.call(m, f.key) === f.value;
    case "eq":
      return has(m, f.key) && equal(m[f.key], f.value);
    case "ne":
      return !(has(m, f.key) && equal(m[f.key], f.value));
    case "in":
      return has(m, f.key) && f.values.some((v) => equal(m[f.key], v));
    case "nin":
      return !(has(m, f.key) && f.values.some((v) => equal(m[f.key], v)));
    default: {
      if (!has(m, f.key)) return false;
      const x = m[f.key];
      if (typeof x !== typeof f.value) return false;
      const a = x as number | string;
      const b = f.value;
      switch (f.op) {
        case "gt":
          return a > b;
        case "gte":
          return a >= b;
        case "lt":
          return a < b;
        case "lte":
          return a <= b;
      }
    }
  }
}

function has(m: Record<string, unknown>, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(m, key);
}
