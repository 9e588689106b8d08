/**
 * The tables of one collection (schema version 1), created and checked by the library. For a collection `t`:
 *
 * - `t` — one row per document: `key` (bigint identity, what the other tables refer to), `id` (text COLLATE "C",
 *   primary key), `content`, `metadata` (jsonb, GIN jsonb_path_ops index), `dense` (vector(D), L2-normalised,
 *   float32 so dense scores are exact) with an HNSW index (inner product) over `dense` or `dense::halfvec(D)`.
 * - `t_sparse` — the learned sparse weights as postings: (key, term int4, weight float4), primary key (key, term)
 *   for scoring candidates and deletes, an index on term (INCLUDE key, weight) for the first stage. Exact, and no
 *   limit on non-zeros (an HNSW-indexed sparsevec holds at most 1000).
 * - `t_colbert` — one row per document: `rows` = the ColBERT rows as an array of halfvec(C) (or vector(C)), stored
 *   out of line (TOAST, no compression attempt). One value per document packs the rows densely (a row per token
 *   would waste a quarter of each page, or be moved to TOAST one by one, at 1024 dimensions).
 * - `t_meta` — one row: schema version, model fingerprint, dimensions, storage types, HNSW parameters, and
 *   application properties (a jsonb object; the CLI keeps its chunking settings there).
 *
 * Side tables refer to `t.key` with ON DELETE CASCADE, so deleting a document removes all of it in one statement.
 */
import type pg from "pg";
import { ErrorCodes, M3Error } from "../errors.js";
import type { ModelFingerprint } from "../types.js";
import { SCHEMA_VERSION, type PgVectorType, type ResolvedPgOptions } from "./options.js";

export interface Names {
  docs: string;
  sparse: string;
  colbert: string;
  meta: string;
  hnsw: string;
  /** Unquoted names, for to_regclass and messages. */
  plain: { docs: string; sparse: string; colbert: string; meta: string; hnsw: string };
}

/** Quoted identifiers of the collection `table` (already checked against the name pattern). */
export function namesOf(table: string): Names {
  const plain = { docs: table, sparse: `${table}_sparse`, colbert: `${table}_colbert`, meta: `${table}_meta`, hnsw: `${table}_dense_hnsw` };
  const q = (s: string) => `"${s}"`;
  return { docs: q(plain.docs), sparse: q(plain.sparse), colbert: q(plain.colbert), meta: q(plain.meta), hnsw: q(plain.hnsw), plain };
}

/** What an opened collection is: from its meta row (or the options, when it was just created). */
export interface CollectionMeta {
  denseDim: number;
  colbertDim: number;
  denseType: PgVectorType;
  colbertType: PgVectorType;
  created: boolean;
}

const HNSW_MAX = { vector: 2000, halfvec: 4000 } as const;

function createSql(n: Names, o: ResolvedPgOptions): string[] {
  const D = o.denseDim;
  const C = o.colbertDim;
  const indexed = o.denseType === "vector" ? "dense" : `(dense::halfvec(${D}))`;
  return [
    `CREATE TABLE ${n.meta} (
       id int PRIMARY KEY CHECK (id = 1),
       schema_version int NOT NULL,
       fingerprint jsonb NOT NULL,
       dense_dim int NOT NULL,
       colbert_dim int NOT NULL,
       dense_type text NOT NULL,
       colbert_type text NOT NULL,
       hnsw jsonb NOT NULL,
       properties jsonb NOT NULL DEFAULT '{}'::jsonb,
       created_at timestamptz NOT NULL DEFAULT now())`,
    `CREATE TABLE ${n.docs} (
       key bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
       id text COLLATE "C" PRIMARY KEY,
       content text NOT NULL,
       metadata jsonb NOT NULL,
       dense vector(${D}) NOT NULL)`,
    `CREATE INDEX ${n.hnsw} ON ${n.docs} USING hnsw (${indexed} ${o.denseType}_ip_ops) WITH (m = ${o.m}, ef_construction = ${o.efConstruction})`,
    `CREATE INDEX "${n.plain.docs}_metadata" ON ${n.docs} USING gin (metadata jsonb_path_ops)`,
    `CREATE TABLE ${n.sparse} (
       key bigint NOT NULL REFERENCES ${n.docs} (key) ON DELETE CASCADE,
       term int4 NOT NULL,
       weight float4 NOT NULL,
       PRIMARY KEY (key, term))`,
    `CREATE INDEX "${n.plain.sparse}_term" ON ${n.sparse} (term) INCLUDE (key, weight)`,
    `CREATE TABLE ${n.colbert} (
       key bigint PRIMARY KEY REFERENCES ${n.docs} (key) ON DELETE CASCADE,
       rows ${o.colbertType}(${C})[] NOT NULL)`,
    `ALTER TABLE ${n.colbert} ALTER COLUMN rows SET STORAGE EXTERNAL`,
  ];
}

function sameFingerprint(a: ModelFingerprint, b: ModelFingerprint): boolean {
  const heads = a.headsSha256 === undefined || b.headsSha256 === undefined || a.headsSha256 === b.headsSha256;
  return heads && a.layout === b.layout && a.hiddenSize === b.hiddenSize && a.vocabSize === b.vocabSize && a.tokenizerSha256 === b.tokenizerSha256;
}

function fp(f: ModelFingerprint): string {
  return `${f.layout}, hidden ${f.hiddenSize}, vocab ${f.vocabSize}, tokenizer ${f.tokenizerSha256.slice(0, 12)}`;
}

interface MetaRow {
  schema_version: number;
  fingerprint: string;
  dense_dim: number;
  colbert_dim: number;
  dense_type: string;
  colbert_type: string;
}

/**
 * Opens (creating it when allowed and missing) the collection, inside one transaction holding an advisory lock on
 * the collection's name, so that two processes opening a new collection at once create it once.
 */
export async function openCollection(client: pg.PoolClient, n: Names, o: ResolvedPgOptions): Promise<CollectionMeta> {
  const t = o.table;
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock(hashtext($1::text))", [`langchain-m3:${t}`]);
    const r = await client.query<{ meta: string | null; docs: string | null }>(
      "SELECT to_regclass($1::text)::text AS meta, to_regclass($2::text)::text AS docs",
      [n.meta, n.docs],
    );
    const { meta, docs } = r.rows[0]!;
    if (meta === null) {
      if (docs !== null) {
        throw new M3Error(
          ErrorCodes.INDEX_CORRUPT,
          `The table "${t}" exists but is not an M3 collection (it has no "${n.plain.meta}" table). Choose another table name for the collection, or drop that table if it is a leftover.`,
        );
      }
      if (!o.create) {
        throw new M3Error(ErrorCodes.NOT_FOUND, `The collection "${t}" does not exist in this database. Build it first (m3 index --pg ..., or connect with create: true).`);
      }
      for (const [name, type, dim] of [["denseDim", o.denseType, o.denseDim]] as const) {
        if (dim > HNSW_MAX[type]) {
          throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `${name} ${dim} is more than pgvector's HNSW index takes for ${type} (${HNSW_MAX[type]}); use denseType "halfvec" (up to 4000).`);
        }
      }
      for (const sql of createSql(n, o)) await client.query(sql);
      await client.query(
        `INSERT INTO ${n.meta} (id, schema_version, fingerprint, dense_dim, colbert_dim, dense_type, colbert_type, hnsw) VALUES (1, $1, $2::jsonb, $3, $4, $5, $6, $7::jsonb)`,
        [SCHEMA_VERSION, JSON.stringify(o.fingerprint), o.denseDim, o.colbertDim, o.denseType, o.colbertType, JSON.stringify({ m: o.m, efConstruction: o.efConstruction })],
      );
      await client.query("COMMIT");
      return { denseDim: o.denseDim, colbertDim: o.colbertDim, denseType: o.denseType, colbertType: o.colbertType, created: true };
    }
    const m = (await client.query<MetaRow>(
      `SELECT schema_version, fingerprint::text AS fingerprint, dense_dim, colbert_dim, dense_type, colbert_type FROM ${n.meta} WHERE id = 1`,
    )).rows[0];
    if (m === undefined) throw new M3Error(ErrorCodes.INDEX_CORRUPT, `The collection "${t}" has an empty "${n.plain.meta}" table; it was not created by this library or was damaged. Use another table name.`);
    const opened = checkMeta(m, n, o);
    await checkColumns(client, n, opened);
    await client.query("COMMIT");
    return opened;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
}

function checkMeta(m: MetaRow, n: Names, o: ResolvedPgOptions): CollectionMeta {
  const t = o.table;
  if (m.schema_version > SCHEMA_VERSION) {
    throw new M3Error(
      ErrorCodes.INDEX_CORRUPT,
      `The collection "${t}" has schema version ${m.schema_version}, written by a newer langchain-m3; this version reads schema ${SCHEMA_VERSION}. Upgrade langchain-m3 to open it.`,
      { details: { found: m.schema_version, supported: SCHEMA_VERSION } },
    );
  }
  const stored = JSON.parse(m.fingerprint) as ModelFingerprint;
  if (!sameFingerprint(stored, o.fingerprint)) {
    throw new M3Error(
      ErrorCodes.INDEX_MODEL_MISMATCH,
      `The collection "${t}" was built with another model (${fp(stored)}); the encoder is ${fp(o.fingerprint)}. Query it with the model it was built with, or index into another table.`,
      { details: { stored, given: o.fingerprint } },
    );
  }
  if ((o.explicit.denseDim && m.dense_dim !== o.denseDim) || (o.explicit.colbertDim && m.colbert_dim !== o.colbertDim)) {
    throw new M3Error(
      ErrorCodes.INDEX_MODEL_MISMATCH,
      `The collection "${t}" stores dense ${m.dense_dim}-d and ColBERT ${m.colbert_dim}-d vectors; these options ask for dense ${o.denseDim}-d and ColBERT ${o.colbertDim}-d. Leave denseDim/colbertDim unset (they default to the model's hidden size) or use another table.`,
      { details: { stored: { denseDim: m.dense_dim, colbertDim: m.colbert_dim }, given: { denseDim: o.denseDim, colbertDim: o.colbertDim } } },
    );
  }
  for (const [name, storedType, given, explicit] of [
    ["denseType", m.dense_type, o.denseType, o.explicit.denseType],
    ["colbertType", m.colbert_type, o.colbertType, o.explicit.colbertType],
  ] as const) {
    if (storedType !== "vector" && storedType !== "halfvec") {
      throw new M3Error(ErrorCodes.INDEX_CORRUPT, `The collection "${t}" has an unknown ${name} "${storedType}" in "${n.plain.meta}"; it was damaged.`);
    }
    if (explicit && storedType !== given) {
      throw new M3Error(
        ErrorCodes.INVALID_ARGUMENT,
        `The collection "${t}" was created with ${name} "${storedType}"; the options ask for "${given}". Leave ${name} unset to use the collection as it is, or index into another table.`,
      );
    }
  }
  return { denseDim: m.dense_dim, colbertDim: m.colbert_dim, denseType: m.dense_type as PgVectorType, colbertType: m.colbert_type as PgVectorType, created: false };
}

/** The columns must still have the dimensions the meta row names (someone may have altered the tables). */
async function checkColumns(client: pg.PoolClient, n: Names, meta: CollectionMeta): Promise<void> {
  const r = await client.query<{ rel: string; type: string }>(
    `SELECT c.relname::text AS rel, format_type(a.atttypid, a.atttypmod) AS type
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      WHERE a.attrelid IN (to_regclass($1::text), to_regclass($2::text)) AND a.attname IN ('dense', 'rows') AND NOT a.attisdropped`,
    [n.docs, n.colbert],
  );
  const want = new Map([
    [n.plain.docs, `vector(${meta.denseDim})`],
    [n.plain.colbert, `${meta.colbertType}(${meta.colbertDim})[]`],
  ]);
  for (const [rel, type] of want) {
    const got = r.rows.find((x) => x.rel === rel)?.type;
    if (got !== type) {
      throw new M3Error(
        ErrorCodes.INDEX_MODEL_MISMATCH,
        `The table "${rel}" holds ${got ?? "no vector column"} where the collection's meta row says ${type}: its dimension does not fit the model. Rebuild the collection (or index into another table) with the model's dimensions.`,
        { details: { table: rel, found: got, expected: type } },
      );
    }
  }
}

/** What a collection is, read without opening it (no model needed): `m3 info --pg`, and the CLI's settings. */
export interface CollectionDescription {
  table: string;
  schemaVersion: number;
  fingerprint: ModelFingerprint;
  denseDim: number;
  colbertDim: number;
  denseType: PgVectorType;
  colbertType: PgVectorType;
  hnsw: { m: number; efConstruction: number };
  properties: Record<string, unknown>;
  createdAt: string;
}

/** Reads the meta row of `n`'s collection; undefined when there is no such collection. */
export async function describeCollectionWith(client: pg.PoolClient, n: Names): Promise<CollectionDescription | undefined> {
  const r = await client.query<{ meta: string | null }>("SELECT to_regclass($1::text)::text AS meta", [n.meta]);
  if (r.rows[0]?.meta === null || r.rows[0] === undefined) return undefined;
  const m = (await client.query<Record<string, string>>(
    `SELECT schema_version::text AS v, fingerprint::text AS f, dense_dim::text AS dd, colbert_dim::text AS cd, dense_type AS dt, colbert_type AS ct,
            hnsw::text AS h, properties::text AS p, created_at::text AS c FROM ${n.meta} WHERE id = 1`,
  )).rows[0];
  if (m === undefined) return undefined;
  return {
    table: n.plain.docs,
    schemaVersion: Number(m.v),
    fingerprint: JSON.parse(m.f!) as ModelFingerprint,
    denseDim: Number(m.dd),
    colbertDim: Number(m.cd),
    denseType: m.dt as PgVectorType,
    colbertType: m.ct as PgVectorType,
    hnsw: JSON.parse(m.h!) as { m: number; efConstruction: number },
    properties: JSON.parse(m.p!) as Record<string, unknown>,
    createdAt: m.c!,
  };
}
