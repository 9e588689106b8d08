/**
 * The scoring statements of a search, each one round trip, each returning numbers and payloads only unless the
 * documents are asked for:
 * - `scoresStatement`: exact dense (inner product of float32 vectors) and sparse (dot product over postings)
 *   scores of candidates, and optionally their full ColBERT rows (base64 of the codec's bytes) for exact MaxSim
 *   in the client, and optionally their documents;
 * - `sketchStatement`: the candidates' sketched ColBERT rows, for the approximate tier (MaxSim in the client);
 * - `documentsStatement`: the documents (id, content, metadata) of the final results.
 */
import { Params } from "./filter-sql.js";
import { sparseArrays, type Shape, type Statement } from "./candidates-sql.js";
import type { M3Encoding } from "../types.js";
import { encodeVector } from "./wire.js";

export interface ScoreColumns {
  dense: boolean;
  sparse: boolean;
  /** Full ColBERT rows (`tokens`, `rows` base64). */
  rows: boolean;
  /** content and metadata. */
  documents: boolean;
}

export function scoresStatement(s: Shape, q: M3Encoding, ids: string[], want: ScoreColumns): Statement {
  const n = s.names;
  const p = new Params();
  const cols = ["d.id"];
  let from = `${n.docs} d`;
  if (want.documents) cols.push("d.content", "d.metadata::text AS metadata");
  if (want.dense) cols.push(`(-(d.dense <#> ${p.add(encodeVector("vector", q.dense!))}::vector(${s.denseDim})))::text AS dense`);
  if (want.sparse && q.sparse!.indices.length > 0) {
    const { terms, weights } = sparseArrays(p, q);
    cols.push(
      `(SELECT sum(p.weight::float8 * q.w) FROM ${n.sparse} p JOIN unnest(${terms}, ${weights}) AS q(t, w) ON p.term = q.t WHERE p.key = d.key)::text AS sparse`,
    );
  }
  if (want.rows) {
    from += ` LEFT JOIN ${n.colbert} c ON c.key = d.key`;
    cols.push("c.tokens::text AS tokens", "encode(c.rows, 'base64') AS rows");
  }
  return { text: `SELECT ${cols.join(", ")} FROM ${from} WHERE d.id = ANY(${p.add(ids)}::text[])`, values: p.values };
}

export function sketchStatement(s: Shape, ids: string[]): Statement {
  const n = s.names;
  return {
    text: `SELECT d.id, c.tokens::text AS tokens, encode(c.sketch, 'base64') AS sketch FROM ${n.docs} d JOIN ${n.colbert} c ON c.key = d.key WHERE d.id = ANY($1::text[])`,
    values: [ids],
    name: s.prepare ? `m3-sketch-${n.plain.docs}` : undefined,
  };
}

export function documentsStatement(s: Shape, ids: string[], withDense: boolean): Statement {
  return {
    text: `SELECT id, content, metadata::text AS metadata${withDense ? ", dense::text AS dense" : ""} FROM ${s.names.docs} WHERE id = ANY($1::text[])`,
    values: [ids],
    name: s.prepare ? `m3-docs${withDense ? "-dense" : ""}-${s.names.plain.docs}` : undefined,
  };
}
