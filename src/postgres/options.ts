/** Options of the Postgres backend, with their defaults and checks. */
import type pg from "pg";
import { ErrorCodes, M3Error } from "../errors.js";
import type { Logger, ModelFingerprint } from "../types.js";
import { checkInt, describe } from "../util/validate.js";

/** How vectors are stored or indexed: `vector` = float32 (4 bytes a value), `halfvec` = float16 (2 bytes). */
export type PgVectorType = "vector" | "halfvec";

/** HNSW parameters of the dense index (pgvector). */
export interface PgHnswOptions {
  /** Graph degree (`m`). @default 16 */
  m?: number;
  /** Candidate list size while building (`ef_construction`). @default 64 */
  efConstruction?: number;
  /**
   * `hnsw.ef_search` of a query; a prefetch of N candidates uses max(efSearch, N) (pgvector caps it at 1000;
   * with pgvector 0.8+ iterative index scans go on past it). @default 100
   */
  efSearch?: number;
}

export interface M3PostgresOptions {
  /** A `postgres://user:password@host:port/database` URL; the backend makes (and on `close` ends) its own pool. */
  connectionString?: string;
  /**
   * A `pg.Pool` of the caller's (instead of `connectionString`). The backend never ends it: `close()` leaves it
   * open for the caller, who ends it. The backend does not change the pool's global type parsers or session settings.
   */
  pool?: pg.Pool;
  /** Connections in the backend's own pool. @default 10 */
  poolSize?: number;
  /**
   * The collection: the documents table's name, lower-case letters, digits and `_` (at most 48). The backend also
   * uses `<table>_sparse`, `<table>_colbert` and `<table>_meta`. Several collections can share one database.
   * @default "m3_documents"
   */
  table?: string;
  /** The model the encodings come from (`await encoder.fingerprint()`); an existing collection of another model is refused. */
  fingerprint: ModelFingerprint;
  /** Dense dimension (an existing collection must have it when given). @default the collection's, or fingerprint.hiddenSize for a new one */
  denseDim?: number;
  /** ColBERT dimension (an existing collection must have it when given). @default the collection's, or fingerprint.hiddenSize for a new one */
  colbertDim?: number;
  /** Create the extension and the tables when they are missing (else a missing collection is NOT_FOUND). @default true */
  create?: boolean;
  /**
   * Precision of the HNSW index over the dense vectors (the vectors themselves are stored as float32, so fused dense
   * scores are exact either way). `halfvec` halves the index. Only used when the collection is created. @default "halfvec"
   */
  denseType?: PgVectorType;
  /**
   * How ColBERT rows are stored: `halfvec` (2 bytes a value; query rows are rounded too, and MaxSim moved by 2e-6 on
   * average, at most 1e-5, on synthetic 1024-d data) or `vector` (float32, exact MaxSim, twice the bytes). Only used
   * when the collection is created. @default "halfvec"
   */
  colbertType?: PgVectorType;
  /** Dense HNSW parameters (m and efConstruction only matter when the collection is created). */
  hnsw?: PgHnswOptions;
  /** Receives warnings (e.g. options that an existing collection overrides). @default none */
  logger?: Logger;
}

export const PG_DEFAULTS = Object.freeze({
  table: "m3_documents",
  poolSize: 10,
  create: true,
  denseType: "halfvec" as PgVectorType,
  colbertType: "halfvec" as PgVectorType,
  m: 16,
  efConstruction: 64,
  efSearch: 100,
});

/** The schema this code writes; a collection of a newer schema is refused. */
export const SCHEMA_VERSION = 1;

const TABLE_NAME = /^[a-z_][a-z0-9_]{0,47}$/;

export interface ResolvedPgOptions {
  table: string;
  fingerprint: ModelFingerprint;
  denseDim: number;
  colbertDim: number;
  create: boolean;
  denseType: PgVectorType;
  colbertType: PgVectorType;
  /** Which options the caller set (an existing collection must agree with those; the others are read from it). */
  explicit: { denseType: boolean; colbertType: boolean; denseDim: boolean; colbertDim: boolean };
  m: number;
  efConstruction: number;
  efSearch: number;
  poolSize: number;
  logger: Logger;
}

function invalid(message: string): M3Error {
  return new M3Error(ErrorCodes.INVALID_ARGUMENT, message);
}

/** Checks a collection name; returns it. */
export function checkTableName(table: unknown): string {
  if (typeof table !== "string" || !TABLE_NAME.test(table)) {
    throw invalid(
      `table must be 1 to 48 characters: a lower-case letter or "_", then lower-case letters, digits or "_" (e.g. "m3_documents"); got ${describe(table)}.`,
    );
  }
  return table;
}

function checkType(name: string, v: unknown): PgVectorType {
  if (v !== "vector" && v !== "halfvec") throw invalid(`${name} must be "vector" or "halfvec"; got ${describe(v)}.`);
  return v;
}

function checkFingerprint(f: unknown): ModelFingerprint {
  const x = f as Partial<ModelFingerprint> | undefined;
  if (
    x === undefined || x === null || typeof x !== "object" || typeof x.layout !== "string" || typeof x.tokenizerSha256 !== "string" ||
    typeof x.hiddenSize !== "number" || typeof x.vocabSize !== "number"
  ) {
    throw invalid(`fingerprint must be the encoder's ModelFingerprint ({ layout, hiddenSize, vocabSize, tokenizerSha256 }; await encoder.fingerprint()); got ${describe(f)}.`);
  }
  const fp: ModelFingerprint = { layout: x.layout, hiddenSize: x.hiddenSize, vocabSize: x.vocabSize, tokenizerSha256: x.tokenizerSha256 };
  if (typeof x.headsSha256 === "string") fp.headsSha256 = x.headsSha256;
  return fp;
}

export function resolvePgOptions(o: M3PostgresOptions): ResolvedPgOptions {
  if (o === null || typeof o !== "object") throw invalid(`M3PostgresBackend.connect needs an options object; got ${describe(o)}.`);
  if ((o.connectionString === undefined) === (o.pool === undefined)) {
    throw invalid("Give exactly one of connectionString (e.g. \"postgres://user:password@localhost:5432/db\") or pool (a pg.Pool).");
  }
  if (o.connectionString !== undefined && (typeof o.connectionString !== "string" || !/^postgres(ql)?:\/\/./.test(o.connectionString))) {
    throw invalid(`connectionString must be a URL such as "postgres://user:password@localhost:5432/db"; got ${describe(o.connectionString)}.`);
  }
  if (o.pool !== undefined && (o.pool === null || typeof (o.pool as { connect?: unknown }).connect !== "function")) {
    throw invalid(`pool must be a pg.Pool; got ${describe(o.pool)}.`);
  }
  const fingerprint = checkFingerprint(o.fingerprint);
  const hnsw = o.hnsw ?? {};
  return {
    table: checkTableName(o.table ?? PG_DEFAULTS.table),
    fingerprint,
    // pgvector: vector columns hold up to 16000 values, HNSW indexes vector up to 2000 and halfvec up to 4000.
    denseDim: checkInt("denseDim", o.denseDim ?? fingerprint.hiddenSize, 1, 16000),
    colbertDim: checkInt("colbertDim", o.colbertDim ?? fingerprint.hiddenSize, 1, 16000),
    create: o.create ?? PG_DEFAULTS.create,
    denseType: checkType("denseType", o.denseType ?? PG_DEFAULTS.denseType),
    colbertType: checkType("colbertType", o.colbertType ?? PG_DEFAULTS.colbertType),
    explicit: { denseType: o.denseType !== undefined, colbertType: o.colbertType !== undefined, denseDim: o.denseDim !== undefined, colbertDim: o.colbertDim !== undefined },
    m: checkInt("hnsw.m", hnsw.m ?? PG_DEFAULTS.m, 2, 100),
    efConstruction: checkInt("hnsw.efConstruction", hnsw.efConstruction ?? PG_DEFAULTS.efConstruction, 4, 1000),
    efSearch: checkInt("hnsw.efSearch", hnsw.efSearch ?? PG_DEFAULTS.efSearch, 1, 1000),
    poolSize: checkInt("poolSize", o.poolSize ?? PG_DEFAULTS.poolSize, 1, 1000),
    logger: o.logger ?? {},
  };
}
