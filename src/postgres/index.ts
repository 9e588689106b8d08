/** The Postgres + pgvector backend (a sibling of index/, the embedded backend; neither imports the other). */
export { M3PostgresBackend } from "./backend.js";
export { PG_DEFAULTS, SCHEMA_VERSION, type M3PostgresOptions, type PgHnswOptions, type PgVectorType } from "./options.js";
export type { CollectionDescription } from "./schema.js";
