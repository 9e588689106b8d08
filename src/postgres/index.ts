/** The Postgres + pgvector backend (a sibling of index/, the embedded backend; it reuses only its ColBERT codecs, kernels and sketch). */
export { M3PostgresBackend } from "./backend.js";
export type { BulkLoadResult } from "./bulk.js";
export type { PgColbertCodec } from "./colbert.js";
export { PG_DEFAULTS, SCHEMA_VERSION, type M3PostgresOptions, type PgHnswOptions, type PgVectorType } from "./options.js";
export type { CollectionDescription } from "./schema-meta.js";
