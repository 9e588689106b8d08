/**
 * The tables of one collection (schema version 2), created and checked by the library. For a collection `t`:
 *
 * - `t` — one row per document: `key` (bigint identity, what the other tables refer to), `id` (text COLLATE "C",
 *   primary key), `content`, `metadata` (jsonb, GIN jsonb_path_ops index), `dense` (vector(D), L2-normalised,
 *   float32 so dense scores are exact) with an HNSW index (inner product) over `dense` or `dense::halfvec(D)`,
 *   and `mean` (vector(S)): the mean of the document's sketched ColBERT rows, with its own HNSW index (inner
 *   product): the multi-vector first stage.
 * - `t_sparse` — the learned sparse weights as postings: (key, term int4, weight float4), primary key (key, term)
 *   for scoring candidates and deletes, an index on term (INCLUDE key, weight) for the first stage. Exact, and no
 *   limit on non-zeros (an HNSW-indexed sparsevec holds at most 1000).
 * - `t_colbert` — one row per document: `tokens`, `sketch` (the sketched rows, int8 with a scale per row: 132
 *   bytes a row at S = 128, the approximate ColBERT tier) and `rows` (the full rows in the collection's codec,
 *   int8 by default: 1028 bytes a row at 1024-d), both `bytea` stored out of line without a compression attempt
 *   (STORAGE EXTERNAL), so a statement that reads one column does not read the other.
 * - `t_meta` — one row: schema version, model fingerprint, dimensions, storage, HNSW parameters, the sketch's
 *   dimension and seed, and application properties (a jsonb object; the CLI keeps its chunking settings there).
 *
 * Side tables refer to `t.key` with ON DELETE CASCADE, so deleting a document removes all of it in one statement.
 * Schema v1 (ColBERT rows as `halfvec[]`/`vector[]`, no sketch) is converted by `migrate.ts`.
 */
import type pg from "pg";
import { ErrorCodes, M3Error } from "../errors.js";
import type { PgColbertCodec } from "./colbert.js";
import { SCHEMA_VERSION, type PgVectorType, type ResolvedPgOptions } from "./options.js";
import { checkColumns, checkMeta, type MetaRow } from "./schema-meta.js";
import type { CollectionMeta, Names } from "./names.js";
import { SKETCH_SEED } from "../multivector/sketch/projection.js";

const HNSW_MAX = { vector: 2000, halfvec: 4000 } as const;

/** The indexes that a bulk load drops and builds again after the rows are in (all but the primary keys). */
export function secondaryIndexSql(n: Names, m: Pick<CollectionMeta, "denseDim" | "denseType" | "hnsw">): string[] {
  const D = m.denseDim;
  const indexed = m.denseType === "vector" ? "dense" : `(dense::halfvec(${D}))`;
  const w = `WITH (m = ${m.hnsw.m}, ef_construction = ${m.hnsw.efConstruction})`;
  return [
    `CREATE INDEX ${n.hnsw} ON ${n.docs} USING hnsw (${indexed} ${m.denseType}_ip_ops) ${w}`,
    `CREATE INDEX ${n.meanHnsw} ON ${n.docs} USING hnsw (mean vector_ip_ops) ${w}`,
    `CREATE INDEX "${n.plain.docs}_metadata" ON ${n.docs} USING gin (metadata jsonb_path_ops)`,
    `CREATE INDEX "${n.plain.sparse}_term" ON ${n.sparse} (term) INCLUDE (key, weight)`,
  ];
}

export function dropSecondaryIndexSql(n: Names): string {
  return `DROP INDEX IF EXISTS ${n.hnsw}, ${n.meanHnsw}, "${n.plain.docs}_metadata", "${n.plain.sparse}_term"`;
}

export function metaTableSql(n: Names): string {
  return `CREATE TABLE ${n.meta} (
       id int PRIMARY KEY CHECK (id = 1),
       schema_version int NOT NULL,
       fingerprint jsonb NOT NULL,
       dense_dim int NOT NULL,
       colbert_dim int NOT NULL,
       dense_type text NOT NULL,
       colbert_type text NOT NULL,
       hnsw jsonb NOT NULL,
       sketch_dim int,
       sketch_seed bigint,
       properties jsonb NOT NULL DEFAULT '{}'::jsonb,
       created_at timestamptz NOT NULL DEFAULT now())`;
}

export function colbertTableSql(n: Names, table = n.colbert): string[] {
  return [
    `CREATE TABLE ${table} (
       key bigint PRIMARY KEY REFERENCES ${n.docs} (key) ON DELETE CASCADE,
       tokens int NOT NULL,
       sketch bytea NOT NULL,
       rows bytea NOT NULL)`,
    `ALTER TABLE ${table} ALTER COLUMN sketch SET STORAGE EXTERNAL, ALTER COLUMN rows SET STORAGE EXTERNAL`,
  ];
}

function createSql(n: Names, m: CollectionMeta): string[] {
  return [
    metaTableSql(n),
    `CREATE TABLE ${n.docs} (
       key bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
       id text COLLATE "C" PRIMARY KEY,
       content text NOT NULL,
       metadata jsonb NOT NULL,
       dense vector(${m.denseDim}) NOT NULL,
       mean vector(${m.sketchDim}) NOT NULL)`,
    `CREATE TABLE ${n.sparse} (
       key bigint NOT NULL REFERENCES ${n.docs} (key) ON DELETE CASCADE,
       term int4 NOT NULL,
       weight float4 NOT NULL,
       PRIMARY KEY (key, term))`,
    ...colbertTableSql(n),
    ...secondaryIndexSql(n, m),
  ];
}

/**
 * Opens (creating it when allowed and missing) the collection, inside one transaction holding an advisory lock on
 * the collection's name, so that two processes opening a new collection at once create it once. A schema v1
 * collection is handed to `migrateV1` when `o.migrate`, else refused.
 */
export async function openCollection(
  client: pg.PoolClient,
  n: Names,
  o: ResolvedPgOptions,
  migrateV1: (client: pg.PoolClient, m: MetaRow) => Promise<void>,
): Promise<CollectionMeta> {
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
      if (o.denseDim > HNSW_MAX[o.denseType]) {
        throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `denseDim ${o.denseDim} is more than pgvector's HNSW index takes for ${o.denseType} (${HNSW_MAX[o.denseType]}); use denseType "halfvec" (up to 4000).`);
      }
      const created: CollectionMeta = {
        denseDim: o.denseDim, colbertDim: o.colbertDim, denseType: o.denseType, colbertCodec: o.colbertCodec,
        sketchDim: Math.min(o.sketchDim, o.colbertDim), sketchSeed: SKETCH_SEED, hnsw: { m: o.m, efConstruction: o.efConstruction }, created: true,
      };
      for (const sql of createSql(n, created)) await client.query(sql);
      await client.query(
        `INSERT INTO ${n.meta} (id, schema_version, fingerprint, dense_dim, colbert_dim, dense_type, colbert_type, hnsw, sketch_dim, sketch_seed) ` +
          "VALUES (1, $1, $2::jsonb, $3, $4, $5, $6, $7::jsonb, $8, $9)",
        [SCHEMA_VERSION, JSON.stringify(o.fingerprint), o.denseDim, o.colbertDim, o.denseType, o.colbertCodec, JSON.stringify(created.hnsw), created.sketchDim, created.sketchSeed],
      );
      await client.query("COMMIT");
      return created;
    }
    const read = () => client.query<MetaRow>(
      `SELECT schema_version, fingerprint::text AS fingerprint, dense_dim, colbert_dim, dense_type, colbert_type, hnsw::text AS hnsw, ` +
        "sketch_dim, sketch_seed::text AS sketch_seed FROM " + `${n.meta} WHERE id = 1`,
    );
    const readV1 = () => client.query<MetaRow>(
      `SELECT schema_version, fingerprint::text AS fingerprint, dense_dim, colbert_dim, dense_type, colbert_type, hnsw::text AS hnsw FROM ${n.meta} WHERE id = 1`,
    );
    const cols = await client.query<{ n: string }>("SELECT count(*)::text AS n FROM pg_attribute WHERE attrelid = to_regclass($1::text) AND attname = 'sketch_dim' AND NOT attisdropped", [n.meta]);
    let m = (cols.rows[0]!.n === "1" ? await read() : await readV1()).rows[0];
    if (m === undefined) throw new M3Error(ErrorCodes.INDEX_CORRUPT, `The collection "${t}" has an empty "${n.plain.meta}" table; it was not created by this library or was damaged. Use another table name.`);
    if (m.schema_version === 1) {
      checkMeta({ ...m, schema_version: SCHEMA_VERSION, colbert_type: "int8", sketch_dim: 1, sketch_seed: "0" }, n, { ...o, explicit: { ...o.explicit, colbertCodec: false } });
      if (!o.migrate) {
        throw new M3Error(
          ErrorCodes.INDEX_CORRUPT,
          `The collection "${t}" was written by schema version 1 (ColBERT rows as ${m.colbert_type}[] arrays); this langchain-m3 reads schema version ${SCHEMA_VERSION} (compact ColBERT rows and a sketch). ` +
            `Migrate it once, in place: M3PostgresBackend.connect({ ..., table: "${t}", migrate: true }); searches and writes must wait until it is done.`,
          { details: { found: 1, supported: SCHEMA_VERSION } },
        );
      }
      await migrateV1(client, m);
      m = (await read()).rows[0]!;
    }
    const opened = checkMeta(m, n, o);
    await checkColumns(client, n, opened);
    await client.query("COMMIT");
    return opened;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
}
