/** Options of the Postgres backend, with their defaults and checks. */
import type pg from "pg";
import { ErrorCodes, M3Error } from "../errors.js";
import type { Logger, ModelFingerprint } from "../types.js";
import { PG_COLBERT_CODECS, type PgColbertCodec } from "./colbert.js";
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
   * How full ColBERT rows are stored (a `bytea` per document, in the embedded store's codec): `int8` (one float32
   * scale per row, `dim + 4` bytes a row, the embedded index's default), `float16` or `float32` (exact). Only used
   * when the collection is created; an existing collection keeps its own. @default "int8"
   */
  colbertCodec?: PgColbertCodec;
  /**
   * Schema v1's name for the storage of ColBERT rows, kept as an alias: `"vector"` means `colbertCodec: "float32"`,
   * `"halfvec"` means `"float16"`. @default none (colbertCodec decides)
   */
  colbertType?: PgVectorType;
  /**
   * Columns of the ColBERT sketch (the multi-vector first stage's `vector(sketchDim)` and the approximate tier's
   * int8 rows); at most colbertDim. Only used when the collection is created. @default 128
   */
  sketchDim?: number;
  /**
   * A collection written by schema v1 (ColBERT rows as `halfvec[]`) is converted to schema v2 when it is opened
   * (in one transaction; its documents' rows are re-encoded, which takes a while for a large one). When false such
   * a collection is refused with a message that says how to migrate it. @default false
   */
  migrate?: boolean;
  /**
   * A URL of a read replica (a hot standby streaming from the primary): searches and other reads go there, writes
   * go to the primary. Checked at connect: it must be in recovery and hold the collection. @default none
   */
  readConnectionString?: string;
  /** A `pg.Pool` to a read replica of the caller's (instead of `readConnectionString`); never ended by the backend. @default none */
  readPool?: pg.Pool;
  /**
   * With a replica: a read waits until the replica has replayed this backend's last write (its WAL position), at
   * most `replicaWaitMs`, so the caller sees what it wrote. @default false
   */
  readYourWrites?: boolean;
  /** How long a read-your-writes read waits for the replica before it is treated as unavailable. @default 5000 */
  replicaWaitMs?: number;
  /**
   * What a read does when the replica cannot serve it (unreachable, or behind past `replicaWaitMs`): `"primary"`
   * runs it on the primary and logs a warning; `"error"` rejects with BACKEND_UNAVAILABLE. @default "primary"
   */
  replicaFailover?: "primary" | "error";
  /**
   * Prepare the statements whose text does not vary (node-postgres named statements, once per connection). Turn
   * off behind a pooler in transaction mode (PgBouncer), where a connection's prepared statements are not its
   * own; always off on PGlite (one session for every connection). @default true
   */
  preparedStatements?: boolean;
  /** `maintenance_work_mem` while `bulkLoad` builds the indexes (a Postgres memory size). @default "512MB" */
  maintenanceWorkMem?: string;
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
  colbertCodec: "int8" as PgColbertCodec,
  sketchDim: 128,
  replicaWaitMs: 5000,
  replicaFailover: "primary" as "primary" | "error",
  maintenanceWorkMem: "512MB",
  m: 16,
  efConstruction: 64,
  efSearch: 100,
});

/** The schema this code writes; a collection of a newer schema is refused. */
export const SCHEMA_VERSION = 2;

const TABLE_NAME = /^[a-z_][a-z0-9_]{0,47}$/;

export interface ResolvedPgOptions {
  table: string;
  fingerprint: ModelFingerprint;
  denseDim: number;
  colbertDim: number;
  create: boolean;
  denseType: PgVectorType;
  colbertCodec: PgColbertCodec;
  sketchDim: number;
  migrate: boolean;
  /** Which options the caller set (an existing collection must agree with those; the others are read from it). */
  explicit: { denseType: boolean; colbertCodec: boolean; denseDim: boolean; colbertDim: boolean };
  readYourWrites: boolean;
  replicaWaitMs: number;
  replicaFailover: "primary" | "error";
  maintenanceWorkMem: string;
  preparedStatements: boolean;
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

function checkCodec(o: M3PostgresOptions): PgColbertCodec {
  if (o.colbertCodec !== undefined) {
    if (!(PG_COLBERT_CODECS as readonly unknown[]).includes(o.colbertCodec)) throw invalid(`colbertCodec must be one of ${PG_COLBERT_CODECS.map((c) => `"${c}"`).join(", ")}; got ${describe(o.colbertCodec)}.`);
    return o.colbertCodec;
  }
  if (o.colbertType !== undefined) return checkType("colbertType", o.colbertType) === "vector" ? "float32" : "float16";
  return PG_DEFAULTS.colbertCodec;
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
  if (o.readConnectionString !== undefined && o.readPool !== undefined) throw invalid("Give at most one of readConnectionString or readPool.");
  if (o.readConnectionString !== undefined && (typeof o.readConnectionString !== "string" || !/^postgres(ql)?:\/\/./.test(o.readConnectionString))) {
    throw invalid(`readConnectionString must be a URL such as "postgres://user:password@replica:5432/db"; got ${describe(o.readConnectionString)}.`);
  }
  if (o.readPool !== undefined && (o.readPool === null || typeof (o.readPool as { connect?: unknown }).connect !== "function")) {
    throw invalid(`readPool must be a pg.Pool; got ${describe(o.readPool)}.`);
  }
  const failover = o.replicaFailover ?? PG_DEFAULTS.replicaFailover;
  if (failover !== "primary" && failover !== "error") throw invalid(`replicaFailover must be "primary" or "error"; got ${describe(failover)}.`);
  const mwm = o.maintenanceWorkMem ?? PG_DEFAULTS.maintenanceWorkMem;
  if (typeof mwm !== "string" || !/^[0-9]{1,9}\s*(kB|MB|GB)$/.test(mwm)) throw invalid(`maintenanceWorkMem must be a Postgres memory size such as "512MB"; got ${describe(mwm)}.`);
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
    colbertCodec: checkCodec(o),
    sketchDim: checkInt("sketchDim", o.sketchDim ?? PG_DEFAULTS.sketchDim, 1, 2000),
    migrate: o.migrate ?? false,
    explicit: { denseType: o.denseType !== undefined, colbertCodec: o.colbertCodec !== undefined || o.colbertType !== undefined, denseDim: o.denseDim !== undefined, colbertDim: o.colbertDim !== undefined },
    readYourWrites: o.readYourWrites ?? false,
    replicaWaitMs: checkInt("replicaWaitMs", o.replicaWaitMs ?? PG_DEFAULTS.replicaWaitMs, 0, 3_600_000),
    replicaFailover: failover,
    maintenanceWorkMem: mwm,
    preparedStatements: o.preparedStatements ?? true,
    m: checkInt("hnsw.m", hnsw.m ?? PG_DEFAULTS.m, 2, 100),
    efConstruction: checkInt("hnsw.efConstruction", hnsw.efConstruction ?? PG_DEFAULTS.efConstruction, 4, 1000),
    efSearch: checkInt("hnsw.efSearch", hnsw.efSearch ?? PG_DEFAULTS.efSearch, 1, 1000),
    poolSize: checkInt("poolSize", o.poolSize ?? PG_DEFAULTS.poolSize, 1, 1000),
    logger: o.logger ?? {},
  };
}
