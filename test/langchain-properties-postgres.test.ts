/**
 * The LangChain vector-store properties (test/helpers/vectorstore-properties.ts) on the Postgres backend, over the
 * wire (PGlite + pgvector on 127.0.0.1), through the `{ postgres }` option; and opening an existing collection.
 */
import { Document } from "@langchain/core/documents";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { M3VectorStore } from "../src/langchain/vectorstore.js";
import { codeOf } from "./helpers/backend-contract.js";
import { FakeM3Encoder } from "./helpers/fake-encoder.js";
import { freshTable, startPgServer, type PgServer } from "./helpers/pg-server.js";
import { describeVectorStoreProperties } from "./helpers/vectorstore-properties.js";

const encoder = new FakeM3Encoder({ dim: 64 });
let server: PgServer;
beforeAll(async () => {
  server = await startPgServer();
});
afterAll(async () => {
  await server?.stop();
});

describeVectorStoreProperties("postgres (PGlite over TCP, { postgres } option)", async () =>
  new M3VectorStore(encoder, { postgres: { connectionString: server.url, poolSize: 2, table: freshTable("props"), colbertType: "vector" } }),
);

describe("M3VectorStore on Postgres: opening an existing collection", () => {
  it("fromDocuments writes a collection that fromExistingIndex reopens with the same results; a missing one is NOT_FOUND", async () => {
    const table = freshTable("reopen");
    const postgres = { connectionString: server.url, poolSize: 2, table };
    const docs = ["The cat sat on the mat.", "Dogs chase cats.", "Qubits decohere quickly."].map((t, i) => new Document({ pageContent: t, id: `d${i}`, metadata: { i } }));
    const vs = await M3VectorStore.fromDocuments(docs, encoder, { postgres });
    const again = await M3VectorStore.fromExistingIndex(encoder, { postgres });
    const a = await vs.similaritySearchWithScore("cat mat", 3);
    const b = await again.similaritySearchWithScore("cat mat", 3);
    expect(b.map(([d, s]) => [d.id, s, d.metadata])).toEqual(a.map(([d, s]) => [d.id, s, d.metadata]));
    expect(await codeOf(M3VectorStore.fromExistingIndex(new FakeM3Encoder({ dim: 64, tokenizerSha256: "other" }), { postgres }))).toBe("INDEX_MODEL_MISMATCH");
    expect(await codeOf(M3VectorStore.fromExistingIndex(encoder, { postgres: { ...postgres, table: freshTable("never") } }))).toBe("NOT_FOUND");
    expect(await codeOf(async () => new M3VectorStore(encoder, { postgres: "postgres://x" as never }))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(vs.save("/tmp/m3-never"))).toBe("INVALID_ARGUMENT");
    await vs.close();
    await again.close();
  });
});
