/**
 * The candidates statement of a search (one round trip), built with parameters only (identifiers are the
 * collection's checked names). A bounded count of the matching documents (`LIMIT depth + 1`) decides between
 * "every matching document" (exhaustive) and the first stages:
 * - dense: the HNSW index over `dense`;
 * - sparse: weight products summed over the postings of the query's terms;
 * - multi-vector: the HNSW index over `mean` (the mean of the document's sketched ColBERT rows) against the mean
 *   of the query's sketched rows, as the embedded index's sketch graph does.
 * The HNSW stages set `hnsw.ef_search` (and, on pgvector 0.8+, `hnsw.iterative_scan`) for this statement only
 * with `set_config(..., true)` in a CTE that gates the index scans as a one-time filter, so the setting is in
 * force before a scan starts and a prefetch of k returns k even when a filter drops rows.
 */
import type { Filter } from "../backend/filter.js";
import type { M3Encoding } from "../types.js";
import { filterSql, Params } from "./filter-sql.js";
import type { PgColbertCodec } from "./colbert.js";
import type { PgVectorType } from "./options.js";
import type { Names } from "./names.js";
import { encodeNumberArray, encodeVector } from "./wire.js";

export interface Shape {
  names: Names;
  denseDim: number;
  colbertDim: number;
  denseType: PgVectorType;
  colbertCodec: PgColbertCodec;
  sketchDim: number;
  /** oid of pgvector's vector type on this server. */
  vectorOid: number;
  /** pgvector 0.8+: iterative index scans. */
  iterative: boolean;
  /** Name (prepare once per connection) the statements whose text does not vary with the call. */
  prepare: boolean;
}

export interface Statement {
  text: string;
  values: unknown[];
  /** A name makes node-postgres prepare the statement once per connection (the text must then not vary). */
  name?: string;
}

/** The dense query vector as the HNSW index sees it. */
function denseOrder(s: Shape, p: Params, dense: Float32Array): string {
  const q = `${p.add(encodeVector("vector", dense))}::vector(${s.denseDim})`;
  return s.denseType === "vector" ? `d.dense <#> ${q}` : `(d.dense::halfvec(${s.denseDim})) <#> (${q})::halfvec(${s.denseDim})`;
}

export function sparseArrays(p: Params, q: M3Encoding): { terms: string; weights: string } {
  const sp = q.sparse!;
  return { terms: `${p.add(encodeNumberArray("int4", sp.indices))}::int4[]`, weights: `${p.add(encodeNumberArray("float8", sp.values))}::float8[]` };
}

export interface Depths {
  dense: number;
  sparse: number;
  /** The multi-vector stage; `mean` is the query's sketched mean row. */
  colbert: number;
}

export function candidatesStatement(
  s: Shape,
  q: M3Encoding,
  depth: Depths,
  filter: Filter | undefined,
  efSearch: number,
  mean?: Float32Array,
): Statement {
  const n = s.names;
  const p = new Params();
  const f = filterSql(filter, p, "d.metadata");
  const deep = Math.max(depth.dense, depth.sparse, depth.colbert);
  const pDeep = p.add(deep);
  const parts: string[] = [`m AS (SELECT count(*)::int AS n FROM (SELECT 1 FROM ${n.docs} d WHERE ${f} LIMIT ${p.add(deep + 1)}::int) s)`];
  parts.push(`alld AS (SELECT d.id FROM ${n.docs} d WHERE (SELECT n FROM m) <= ${pDeep}::int AND ${f})`);
  const union = ["SELECT id FROM alld"];
  const dense = depth.dense > 0 && q.dense !== undefined;
  const multi = depth.colbert > 0 && mean !== undefined;
  if (dense || multi) {
    const ef = Math.min(1000, Math.max(efSearch, dense ? depth.dense : 0, multi ? depth.colbert : 0));
    const iter = s.iterative ? ", set_config('hnsw.iterative_scan', 'relaxed_order', true) AS w" : "";
    parts.push(`cfg AS MATERIALIZED (SELECT set_config('hnsw.ef_search', ${p.add(String(ef))}::text, true) AS v${iter})`);
  }
  const gate = `(SELECT n FROM m) > ${pDeep}::int`;
  if (dense) {
    parts.push(`dn AS (SELECT d.id FROM ${n.docs} d WHERE ${gate} AND (SELECT v FROM cfg) IS NOT NULL AND ${f} ORDER BY ${denseOrder(s, p, q.dense!)} LIMIT ${p.add(depth.dense)}::int)`);
    union.push("SELECT id FROM dn");
  }
  if (multi) {
    const qm = `${p.add(encodeVector("vector", mean))}::vector(${s.sketchDim})`;
    parts.push(`mv AS (SELECT d.id FROM ${n.docs} d WHERE ${gate} AND (SELECT v FROM cfg) IS NOT NULL AND ${f} ORDER BY d.mean <#> ${qm} LIMIT ${p.add(depth.colbert)}::int)`);
    union.push("SELECT id FROM mv");
  }
  if (depth.sparse > 0 && q.sparse !== undefined && q.sparse.indices.length > 0) {
    const { terms, weights } = sparseArrays(p, q);
    const join = filter === undefined ? "" : `JOIN ${n.docs} d ON d.key = p.key AND ${f}`;
    parts.push(
      `sp AS (SELECT x.key FROM (SELECT p.key, sum(p.weight::float8 * q.w) AS s FROM ${n.sparse} p ` +
        `JOIN unnest(${terms}, ${weights}) AS q(t, w) ON p.term = q.t ${join} ` +
        `WHERE ${gate} GROUP BY p.key ORDER BY s DESC, p.key LIMIT ${p.add(depth.sparse)}::int) x)`,
    );
    union.push(`SELECT d.id FROM sp JOIN ${n.docs} d ON d.key = sp.key`);
  }
  const text =
    `WITH ${parts.join(",\n")}\n` +
    `SELECT (SELECT n FROM m)::text AS n, NULL::text AS id UNION ALL SELECT NULL, u.id FROM (${union.join(" UNION ")}) u`;
  return { text, values: p.values };
}
