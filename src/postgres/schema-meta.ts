/** Checks of an existing collection's meta row and columns against the options, and its description. */
import type pg from "pg";
import { ErrorCodes, M3Error } from "../errors.js";
import type { ModelFingerprint } from "../types.js";
import { PG_COLBERT_CODECS, type PgColbertCodec } from "./colbert.js";
import { SCHEMA_VERSION, type PgVectorType, type ResolvedPgOptions } from "./options.js";
import type { CollectionMeta, Names } from "./names.js";

export interface MetaRow {
  schema_version: number;
  fingerprint: string;
  dense_dim: number;
  colbert_dim: number;
  dense_type: string;
  colbert_type: string;
  hnsw: string;
  /** Schema v2 only. */
  sketch_dim?: number;
  sketch_seed?: string;
}

/** The heads' hash is compared when both sides have it (a collection written before it was kept has none). */
function sameFingerprint(a: ModelFingerprint, b: ModelFingerprint): boolean {
  const heads = a.headsSha256 === undefined || b.headsSha256 === undefined || a.headsSha256 === b.headsSha256;
  return heads && a.layout === b.layout && a.hiddenSize === b.hiddenSize && a.vocabSize === b.vocabSize && a.tokenizerSha256 === b.tokenizerSha256;
}

function fp(f: ModelFingerprint): string {
  const heads = f.headsSha256 === undefined ? "" : `, heads ${f.headsSha256.slice(0, 12)}`;
  return `${f.layout}, hidden ${f.hiddenSize}, vocab ${f.vocabSize}, tokenizer ${f.tokenizerSha256.slice(0, 12)}${heads}`;
}

export function checkMeta(m: MetaRow, n: Names, o: ResolvedPgOptions): CollectionMeta {
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
  if (m.dense_type !== "vector" && m.dense_type !== "halfvec") {
    throw new M3Error(ErrorCodes.INDEX_CORRUPT, `The collection "${t}" has an unknown denseType "${m.dense_type}" in "${n.plain.meta}"; it was damaged.`);
  }
  if (!(PG_COLBERT_CODECS as readonly string[]).includes(m.colbert_type)) {
    throw new M3Error(ErrorCodes.INDEX_CORRUPT, `The collection "${t}" has an unknown ColBERT codec "${m.colbert_type}" in "${n.plain.meta}"; it was damaged.`);
  }
  for (const [name, storedValue, given, explicit] of [
    ["denseType", m.dense_type, o.denseType, o.explicit.denseType],
    ["colbertCodec", m.colbert_type, o.colbertCodec, o.explicit.colbertCodec],
  ] as const) {
    if (explicit && storedValue !== given) {
      throw new M3Error(
        ErrorCodes.INVALID_ARGUMENT,
        `The collection "${t}" was created with ${name} "${storedValue}"; the options ask for "${given}". Leave ${name} (and colbertType) unset to use the collection as it is, or index into another table.`,
      );
    }
  }
  const sketchDim = Number(m.sketch_dim);
  if (!Number.isInteger(sketchDim) || sketchDim < 1 || sketchDim > m.colbert_dim) {
    throw new M3Error(ErrorCodes.INDEX_CORRUPT, `The collection "${t}" has sketch_dim ${String(m.sketch_dim)} in "${n.plain.meta}"; it was damaged.`);
  }
  return {
    denseDim: m.dense_dim,
    colbertDim: m.colbert_dim,
    denseType: m.dense_type,
    colbertCodec: m.colbert_type as PgColbertCodec,
    sketchDim,
    sketchSeed: Number(m.sketch_seed),
    hnsw: JSON.parse(m.hnsw) as { m: number; efConstruction: number },
    created: false,
  };
}

/** The columns must still have the dimensions the meta row names (someone may have altered the tables). */
export async function checkColumns(client: pg.PoolClient, n: Names, meta: CollectionMeta): Promise<void> {
  const r = await client.query<{ rel: string; col: string; type: string }>(
    `SELECT c.relname::text AS rel, a.attname::text AS col, format_type(a.atttypid, a.atttypmod) AS type
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      WHERE a.attrelid IN (to_regclass($1::text), to_regclass($2::text)) AND a.attname IN ('dense', 'mean', 'rows', 'sketch') AND NOT a.attisdropped`,
    [n.docs, n.colbert],
  );
  const want: [string, string, string][] = [
    [n.plain.docs, "dense", `vector(${meta.denseDim})`],
    [n.plain.docs, "mean", `vector(${meta.sketchDim})`],
    [n.plain.colbert, "rows", "bytea"],
    [n.plain.colbert, "sketch", "bytea"],
  ];
  for (const [rel, col, type] of want) {
    const got = r.rows.find((x) => x.rel === rel && x.col === col)?.type;
    if (got !== type) {
      throw new M3Error(
        ErrorCodes.INDEX_MODEL_MISMATCH,
        `The column "${rel}.${col}" holds ${got ?? "nothing (it is missing)"} where the collection's meta row says ${type}: the tables were changed outside this library. Rebuild the collection (or index into another table) with the model's dimensions.`,
        { details: { table: rel, column: col, found: got, expected: type } },
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
  /** How full ColBERT rows are stored: a codec ("int8", "float16", "float32"); a schema v1 collection says "halfvec" or "vector". */
  colbertType: string;
  /** Columns of the ColBERT sketch (undefined for schema v1). */
  sketchDim?: number;
  hnsw: { m: number; efConstruction: number };
  properties: Record<string, unknown>;
  createdAt: string;
}

/** Reads the meta row of `n`'s collection; undefined when there is no such collection. */
export async function describeCollectionWith(client: pg.PoolClient, n: Names): Promise<CollectionDescription | undefined> {
  const r = await client.query<{ meta: string | null; v2: boolean }>(
    "SELECT to_regclass($1::text)::text AS meta, EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1::text) AND attname = 'sketch_dim' AND NOT attisdropped) AS v2",
    [n.meta],
  );
  if (r.rows[0]?.meta === null || r.rows[0] === undefined) return undefined;
  const m = (await client.query<Record<string, string | null>>(
    `SELECT schema_version::text AS v, fingerprint::text AS f, dense_dim::text AS dd, colbert_dim::text AS cd, dense_type AS dt, colbert_type AS ct,
            hnsw::text AS h, properties::text AS p, created_at::text AS c${r.rows[0].v2 ? ", sketch_dim::text AS sd" : ""} FROM ${n.meta} WHERE id = 1`,
  )).rows[0];
  if (m === undefined) return undefined;
  const d: CollectionDescription = {
    table: n.plain.docs,
    schemaVersion: Number(m.v),
    fingerprint: JSON.parse(m.f!) as ModelFingerprint,
    denseDim: Number(m.dd),
    colbertDim: Number(m.cd),
    denseType: m.dt as PgVectorType,
    colbertType: m.ct!,
    hnsw: JSON.parse(m.h!) as { m: number; efConstruction: number },
    properties: JSON.parse(m.p!) as Record<string, unknown>,
    createdAt: m.c!,
  };
  if (m.sd !== undefined && m.sd !== null) d.sketchDim = Number(m.sd);
  return d;
}
