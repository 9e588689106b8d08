/**
 * The filter language (backend/filter.ts) as SQL on a `jsonb` column, with every value a parameter. Each
 * translated node is a boolean that is never NULL, so `NOT`, `AND` and `OR` keep the reference meaning
 * (`matchesFilter`) exactly:
 * - equality is jsonb equality (`1` = `1.0`, never `"1"`; an array or object never equals a primitive); a missing
 *   key equals nothing, so `$ne` / `$nin` match documents without the key. `metadata @> {key: value}` is added in
 *   front of each equality so a GIN index (jsonb_path_ops) can narrow the rows; the exact test follows it.
 * - `$gt/$gte/$lt/$lte` compare only values of the filter value's JSON type: numbers as `numeric` (the shortest
 *   decimal of a double orders as the doubles do), strings with `COLLATE "C"` (code point order; it differs from
 *   JavaScript's UTF-16 code-unit order only between characters above U+FFFF and those in U+E000..U+FFFF).
 * - `$exists` is the `?` operator.
 */
import type { Filter, FilterValue } from "../backend/filter.js";
import { ErrorCodes, M3Error } from "../errors.js";

/** Positional parameters of one statement. */
export class Params {
  readonly values: unknown[] = [];
  /** Adds a value; returns its placeholder (`$n`). */
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

/** SQL for `filter` over the jsonb expression `col` (e.g. `d.metadata`); "true" when there is no filter. */
export function filterSql(filter: Filter | undefined, p: Params, col: string): string {
  return filter === undefined ? "true" : node(filter, p, col);
}

function json(v: FilterValue): string {
  return JSON.stringify(v);
}

function eq(key: string, value: FilterValue, p: Params, col: string): string {
  const k = `${p.add(key)}::text`;
  return `(${col} @> ${p.add(JSON.stringify({ [key]: value }))}::jsonb AND (${col} -> ${k}) = ${p.add(json(value))}::jsonb)`;
}

function inList(key: string, values: FilterValue[], p: Params, col: string): string {
  if (values.length === 0) return "false";
  return `coalesce((${col} -> ${p.add(key)}::text) = ANY(${p.add(values.map(json))}::jsonb[]), false)`;
}

function compare(op: "gt" | "gte" | "lt" | "lte", key: string, value: number | string, p: Params, col: string): string {
  const sym = op === "gt" ? ">" : op === "gte" ? ">=" : op === "lt" ? "<" : "<=";
  const k = `${p.add(key)}::text`;
  if (typeof value === "number") {
    return `(CASE WHEN jsonb_typeof(${col} -> ${k}) = 'number' THEN (${col} -> ${k})::numeric ${sym} ${p.add(json(value))}::numeric ELSE false END)`;
  }
  return `(CASE WHEN jsonb_typeof(${col} -> ${k}) = 'string' THEN (${col} ->> ${k}) COLLATE "C" ${sym} ${p.add(value)}::text COLLATE "C" ELSE false END)`;
}

function node(f: Filter, p: Params, col: string): string {
  switch (f.op) {
    case "and":
      return `(${f.args.map((a) => node(a, p, col)).join(" AND ")})`;
    case "or":
      return `(${f.args.map((a) => node(a, p, col)).join(" OR ")})`;
    case "not":
      return `(NOT ${node(f.arg, p, col)})`;
    case "eq":
      return eq(f.key, f.value, p, col);
    case "ne":
      return `(NOT ${eq(f.key, f.value, p, col)})`;
    case "in":
      return inList(f.key, f.values, p, col);
    case "nin":
      return `(NOT ${inList(f.key, f.values, p, col)})`;
    case "exists":
      return f.value ? `(${col} ? ${p.add(f.key)}::text)` : `(NOT (${col} ? ${p.add(f.key)}::text))`;
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      return compare(f.op, f.key, f.value, p, col);
    case "predicate":
      throw new M3Error(
        ErrorCodes.INVALID_ARGUMENT,
        "The postgres backend cannot run a JavaScript predicate filter; write the filter as an object ({ key: value }, $in, $gt, $and, ...), which it translates to SQL.",
      );
  }
}
