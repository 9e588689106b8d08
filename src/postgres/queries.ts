/**
 * The two read statements of a search, built with parameters only (identifiers are the collection's checked names).
 *
 * Candidates, one statement: a bounded count of the matching documents (`LIMIT depth + 1`) decides between
 * "every matching document" (exhaustive) and the first stages; the dense stage sets `hnsw.ef_search` (and, on
 * pgvector 0.8+, `hnsw.iterative_scan`) for this statement only with `set_config(..., true)` in a CTE that gates
 * the index scan as a one-time filter, so the setting is in force before the scan starts and a prefetch of k
 * returns k even when a filter drops rows; the sparse stage sums weight products over the postings of the
 * query's terms.
 *
 * Scores, one statement: per candidate, the dense inner product (float32 vectors), the sparse dot product and
 * ColBERT MaxSim computed in the database (`max(-(row <#> q))` per query row, summed), so only numbers and the
 * documents come back over the wire.
 */
import type { Filter } from "../backend/filter.js";
import type { M3Encoding } from "../types.js";
import { filterSql, Params } from "./filter-sql.js";
import type { PgVectorType } from "./options.js";
import type { Names } from "./schema.js";
import { encodeNumberArray, encodeVector, encodeVectorArray } from "./wire.js";

export interface Shape {
  names: Names;
  denseDim: number;
  colbertDim: number;
  denseType: PgVectorType;
  colbertType: PgVectorType;
  /** oid of the colbert storage type on this server (vector or halfvec). */
  colbertOid: number;
  /** oid of pgvector's vector type on this server. */
  vectorOid: number;
  /** pgvector 0.8+: iterative index scans. */
  iterative: boolean;
}

export interface Statement {
  text: string;
  values: unknown[];
}

/** The dense query vector as the HNSW index sees it. */
function denseOrder(s: Shape, p: Params, dense: Float32Array): string {
  const q = `${p.add(encodeVector("vector", dense))}::vector(${s.denseDim})`;
  return s.denseType === "vector" ? `d.dense <#> ${q}` : `(d.dense::halfvec(${s.denseDim})) <#> (${q})::halfvec(${s.denseDim})`;
}

function sparseArrays(p: Params, q: M3Encoding): { terms: string; weights: string } {
  const sp = q.sparse!;
  return { terms: `${p.add(encodeNumberArray("int4", sp.indices))}::int4[]`, weights: `${p.add(encodeNumberArray("float8", sp.values))}::float8[]` };
}

export function candidatesStatement(
  s: Shape,
  q: M3Encoding,
  depth: { dense: number; sparse: number },
  filter: Filter | undefined,
  efSearch: number,
): Statement {
  const n = s.names;
  const p = new Params();
  const f = filterSql(filter, p, "d.metadata");
  const deep = Math.max(depth.dense, depth.sparse);
  const pDeep = p.add(deep);
  const parts: string[] = [`m AS (SELECT count(*)::int AS n FROM (SELECT 1 FROM ${n.docs} d WHERE ${f} LIMIT ${p.add(deep + 1)}::int) s)`];
  parts.push(`alld AS (SELECT d.id FROM ${n.docs} d WHERE (SELECT n FROM m) <= ${pDeep}::int AND ${f})`);
  const union = ["SELECT id FROM alld"];
  if (depth.dense > 0 && q.dense !== undefined) {
    const ef = Math.min(1000, Math.max(efSearch, depth.dense));
    const iter = s.iterative ? ", set_config('hnsw.iterative_scan', 'relaxed_order', true) AS w" : "";
    parts.push(`cfg AS MATERIALIZED (SELECT set_config('hnsw.ef_search', ${p.add(String(ef))}::text, true) AS v${iter})`);
    parts.push(
      `dn AS (SELECT d.id FROM ${n.docs} d WHERE (SELECT n FROM m) > ${pDeep}::int AND (SELECT v FROM cfg) IS NOT NULL AND ${f} ` +
        `ORDER BY ${denseOrder(s, p, q.dense)} LIMIT ${p.add(depth.dense)}::int)`,
    );
    union.push("SELECT id FROM dn");
  }
  if (depth.sparse > 0 && q.sparse !== undefined && q.sparse.indices.length > 0) {
    const { terms, weights } = sparseArrays(p, q);
    const join = filter === undefined ? "" : `JOIN ${n.docs} d ON d.key = p.key AND ${f}`;
    parts.push(
      `sp AS (SELECT x.key FROM (SELECT p.key, sum(p.weight::float8 * q.w) AS s FROM ${n.sparse} p ` +
        `JOIN unnest(${terms}, ${weights}) AS q(t, w) ON p.term = q.t ${join} ` +
        `WHERE (SELECT n FROM m) > ${pDeep}::int GROUP BY p.key ORDER BY s DESC, p.key LIMIT ${p.add(depth.sparse)}::int) x)`,
    );
    union.push(`SELECT d.id FROM sp JOIN ${n.docs} d ON d.key = sp.key`);
  }
  const text =
    `WITH ${parts.join(",\n")}\n` +
    `SELECT (SELECT n FROM m)::text AS n, NULL::text AS id UNION ALL SELECT NULL, u.id FROM (${union.join(" UNION ")}) u`;
  return { text, values: p.values };
}

export interface ScoreModes {
  dense: boolean;
  sparse: boolean;
  colbert: boolean;
}

export function scoresStatement(s: Shape, q: M3Encoding, ids: string[], modes: ScoreModes): Statement {
  const n = s.names;
  const p = new Params();
  const cols = ["d.id", "d.content", "d.metadata::text AS metadata"];
  if (modes.dense) cols.push(`(-(d.dense <#> ${p.add(encodeVector("vector", q.dense!))}::vector(${s.denseDim})))::text AS dense`);
  if (modes.sparse && q.sparse!.indices.length > 0) {
    const { terms, weights } = sparseArrays(p, q);
    cols.push(
      `(SELECT sum(p.weight::float8 * q.w) FROM ${n.sparse} p JOIN unnest(${terms}, ${weights}) AS q(t, w) ON p.term = q.t WHERE p.key = d.key)::text AS sparse`,
    );
  }
  if (modes.colbert && q.colbert!.tokens > 0) {
    const c = q.colbert!;
    const rows = `${p.add(encodeVectorArray(s.colbertType, s.colbertOid, c.data, c.tokens, c.dim))}::${s.colbertType}(${s.colbertDim})[]`;
    cols.push(
      `(SELECT sum(x.m) FROM (SELECT max(-(r.v <#> q.v)) AS m FROM ${n.colbert} c CROSS JOIN LATERAL unnest(c.rows) AS r(v) ` +
        `CROSS JOIN unnest(${rows}) WITH ORDINALITY AS q(v, i) WHERE c.key = d.key GROUP BY q.i) x)::text AS colbert`,
    );
  }
  const text = `SELECT ${cols.join(", ")} FROM ${n.docs} d WHERE d.id = ANY(${p.add(ids)}::text[])`;
  return { text, values: p.values };
}
