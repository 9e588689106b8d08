/**
 * The Postgres backend over the wire: PGlite + pgvector served on 127.0.0.1 (test/helpers/pg-server.ts), reached
 * with `pg` like any server. The shared backend contract runs on it (and on M3_PG_URL when set), then the
 * Postgres-specific cases: schema and model checks, table names, faults, two processes on one collection.
 */
import { afterAll, beforeAll } from "vitest";
import { M3PostgresBackend } from "../src/postgres/index.js";
import { describeBackendContract } from "./helpers/backend-contract.js";
import { dropCollection, externalPgUrl, freshTable, startPgServer, type PgServer } from "./helpers/pg-server.js";

let server: PgServer;
beforeAll(async () => {
  server = await startPgServer();
});
afterAll(async () => {
  await server?.stop();
});

describeBackendContract("postgres (PGlite over TCP)", (spec) =>
  M3PostgresBackend.connect({
    connectionString: server.url,
    poolSize: 2,
    table: freshTable("contract"),
    fingerprint: spec.fingerprint,
    denseDim: spec.denseDim,
    colbertDim: spec.colbertDim,
    colbertType: "vector",
  }),
);

const external = externalPgUrl();
if (external !== undefined) {
  const made: string[] = [];
  afterAll(async () => {
    for (const t of made) await dropCollection(external, t);
  });
  describeBackendContract("postgres (M3_PG_URL)", (spec) => {
    const table = freshTable("m3_contract");
    made.push(table);
    return M3PostgresBackend.connect({
      connectionString: external,
      poolSize: 4,
      table,
      fingerprint: spec.fingerprint,
      denseDim: spec.denseDim,
      colbertDim: spec.colbertDim,
      colbertType: "vector",
    });
  });
}
