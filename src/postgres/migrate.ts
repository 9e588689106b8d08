/**
 * Schema v1 → v2, in place, inside the transaction that opens the collection (so a failure leaves v1 as it was):
 * the ColBERT rows (`halfvec[]`/`vector[]`) are read a page at a time, re-encoded in the package's codec with
 * their sketch and mean row, and written to a new ColBERT table that replaces the old one; `mean` and its HNSW
 * index are added to the documents table and the meta row says version 2.
 */
import type pg from "pg";
import type { MultiVector } from "../types.js";
import { PgColbert } from "./colbert.js";
import type { ResolvedPgOptions } from "./options.js";
import type { Names } from "./names.js";
import { colbertTableSql } from "./schema.js";
import type { MetaRow } from "./schema-meta.js";
import { SKETCH_SEED } from "../multivector/sketch/projection.js";
import { encodeByteaArray, encodeNumberArray, encodeVectorBlocks } from "./wire.js";

const PAGE = 200;

/** The rows of a v1 `halfvec(C)[]` / `vector(C)[]` value in pgvector's text form: {"[1,2]","[3,4]"}. */
export function parseV1Rows(text: string, dim: number): MultiVector {
  const rows: number[][] = [];
  for (const m of text.matchAll(/\[([^\]]*)\]/g)) rows.push(m[1]!.split(",").map(Number));
  const data = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => data.set(r, i * dim));
  return { data, tokens: rows.length, dim };
}

export async function migrateV1(client: pg.PoolClient, n: Names, o: ResolvedPgOptions, m: MetaRow): Promise<void> {
  const C = m.colbert_dim;
  const S = Math.min(o.sketchDim, C);
  const codec = o.colbertCodec;
  const colbert = new PgColbert(C, codec, S, SKETCH_SEED);
  const vectorOid = Number((await client.query<{ v: string }>("SELECT to_regtype('vector')::oid::text AS v")).rows[0]!.v);
  const next = `"${n.plain.colbert}_v2"`;
  try {
    await client.query(`ALTER TABLE ${n.meta} ADD COLUMN sketch_dim int, ADD COLUMN sketch_seed bigint`);
    await client.query(`ALTER TABLE ${n.docs} ADD COLUMN mean vector(${S})`);
    for (const sql of colbertTableSql(n, next)) await client.query(sql);
    let after = -1;
    for (;;) {
      const page = await client.query<{ key: string; rows: string | null }>(
        `SELECT d.key::text AS key, c.rows::text AS rows FROM ${n.docs} d LEFT JOIN ${n.colbert} c ON c.key = d.key WHERE d.key > $1::int8 ORDER BY d.key LIMIT ${PAGE}`,
        [after],
      );
      if (page.rows.length === 0) break;
      const keys = page.rows.map((r) => Number(r.key));
      const enc = page.rows.map((r) => colbert.encode(r.rows === null ? { data: new Float32Array(0), tokens: 0, dim: C } : parseV1Rows(r.rows, C)));
      await client.query({
        text: `INSERT INTO ${next} (key, tokens, sketch, rows) SELECT * FROM unnest($1::int8[], $2::int4[], $3::bytea[], $4::bytea[])`,
        values: [encodeNumberArray("int8", keys), encodeNumberArray("int4", enc.map((e) => e.tokens)), encodeByteaArray(enc.map((e) => e.sketch)), encodeByteaArray(enc.map((e) => e.rows))],
      });
      await client.query({
        text: `UPDATE ${n.docs} d SET mean = u.mean FROM unnest($1::int8[], $2::vector(${S})[]) AS u(key, mean) WHERE d.key = u.key`,
        values: [encodeNumberArray("int8", keys), encodeVectorBlocks("vector", vectorOid, enc.map((e) => ({ data: e.mean, rows: 1 })), S)],
      });
      after = keys[keys.length - 1]!;
    }
    await client.query(`DROP TABLE ${n.colbert}`);
    await client.query(`ALTER TABLE ${next} RENAME TO ${n.colbert}`);
    await client.query(`ALTER TABLE ${n.docs} ALTER COLUMN mean SET NOT NULL`);
    const h = JSON.parse(m.hnsw) as { m: number; efConstruction: number };
    await client.query(`CREATE INDEX ${n.meanHnsw} ON ${n.docs} USING hnsw (mean vector_ip_ops) WITH (m = ${h.m}, ef_construction = ${h.efConstruction})`);
    await client.query(`UPDATE ${n.meta} SET schema_version = 2, colbert_type = $1, sketch_dim = $2, sketch_seed = $3 WHERE id = 1`, [codec, S, SKETCH_SEED]);
  } finally {
    await colbert.close();
  }
}
