/**
 * The scoring statements of a search, each one round trip, each returning numbers and payloads only unless the
 * documents are asked for:
 * - `scoresStatement`: exact dense (inner product of float32 vectors) and sparse (dot product over postings)
 *   scores of candidates, and optionally their documents;
 * - `rowsCopy`: the candidates' full ColBERT rows (the codec's bytes, binary COPY) for exact MaxSim in the
 *   client, and optionally their documents;
 * - `sketchCopy`: the candidates' sketched ColBERT rows (binary COPY), for the approximate tier;
 * - `documentsStatement`: the documents (id, content, metadata) of the final results.
 * The COPY statements take no parameters: the ids are quoted literals (copy-out.ts).
 */
import { Params } from "./filter-sql.js";
import { sparseArrays, type Shape, type Statement } from "./candidates-sql.js";
import type { M3Encoding } from "../types.js";
import { encodeVector } from "./wire.js";
import { textArrayLiteral } from "./copy-out.js";

export interface ScoreColumns {
  dense: boolean;
  sparse: boolean;
  /** content and metadata. */
  documents: boolean;
}

export function scoresStatement(s: Shape, q: M3Encoding, ids: string[], want: ScoreColumns): Statement {
  const n = s.names;
  const p = new Params();
  const cols = ["d.id"];
  const from = `${n.docs} d`;
  if (want.documents) cols.push("d.content", "d.metadata::text AS metadata");
  if (want.dense) cols.push(`(-(d.dense <#> ${p.add(encodeVector("vector", q.dense!))}::vector(${s.denseDim})))::text AS dense`);
  if (want.sparse && q.sparse!.indices.length > 0) {
    const { terms, weights } = sparseArrays(p, q);
    // `p.term = ANY(terms)` beside `p.key = d.key` lets the planner probe the (key, term) primary key once per
    // candidate; joined on the term alone it walked each query term's posting list per candidate.
    cols.push(
      `(SELECT sum(p.weight::float8 * q.w) FROM ${n.sparse} p JOIN unnest(${terms}, ${weights}) AS q(t, w) ON p.term = q.t ` +
        `WHERE p.key = d.key AND p.term = ANY(${terms}))::text AS sparse`,
    );
  }
  return { text: `SELECT ${cols.join(", ")} FROM ${from} WHERE d.id = ANY(${p.add(ids)}::text[])`, values: p.values };
}

/** Columns of `rowsCopy`: id, tokens, rows (NULL for a document without a ColBERT row), then content, metadata when asked. */
export function rowsCopy(s: Shape, ids: string[], documents: boolean): string {
  const n = s.names;
  const docs = documents ? ", d.content, d.metadata::text" : "";
  return `SELECT d.id, c.tokens, c.rows${docs} FROM ${n.docs} d LEFT JOIN ${n.colbert} c ON c.key = d.key WHERE d.id = ANY(${textArrayLiteral(ids)})`;
}

/** Columns of `sketchCopy`: id, tokens, sketch. */
export function sketchCopy(s: Shape, ids: string[]): string {
  const n = s.names;
  return `SELECT d.id, c.tokens, c.sketch FROM ${n.docs} d JOIN ${n.colbert} c ON c.key = d.key WHERE d.id = ANY(${textArrayLiteral(ids)})`;
}

export function documentsStatement(s: Shape, ids: string[], withDense: boolean): Statement {
  return {
    text: `SELECT id, content, metadata::text AS metadata${withDense ? ", dense::text AS dense" : ""} FROM ${s.names.docs} WHERE id = ANY($1::text[])`,
    values: [ids],
    name: s.prepare ? `m3-docs${withDense ? "-dense" : ""}-${s.names.plain.docs}` : undefined,
  };
}
