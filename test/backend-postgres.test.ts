/**
 * The Postgres backend over the wire: PGlite + pgvector served on 127.0.0.1 (test/helpers/pg-server.ts), reached
 * with `pg` like any server. The shared backend contract runs on it (and on M3_PG_URL when set), then the
 * Postgres-specific cases: schema and model checks, table names, faults, two processes on one collection.
 */
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { generateSyntheticCorpus, type SyntheticCorpusData } from "../bench/lib/synthetic.js";
import { isM3Error, type M3Error } from "../src/errors.js";
import { M3PostgresBackend, type M3PostgresOptions } from "../src/postgres/index.js";
import { parseFilter } from "../src/backend/filter.js";
import { candidatesStatement, type Shape } from "../src/postgres/candidates-sql.js";
import { search, searchWithStats } from "../src/retrieve/search.js";
import { codeOf, describeBackendContract } from "./helpers/backend-contract.js";
import { modeScores } from "./helpers/brute.js";
import { deadPort, dropCollection, externalPgUrl, freshTable, startCutProxy, startPgServer, type PgServer } from "./helpers/pg-server.js";

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

// ---- Postgres-specific ------------------------------------------------------------------------------------

describe("postgres backend: collections, options, faults, concurrency", () => {
  let corpus: SyntheticCorpusData;
  const opened: M3PostgresBackend[] = [];
  const pools: pg.Pool[] = [];
  const open = async (o: Partial<M3PostgresOptions> = {}) => {
    const b = await M3PostgresBackend.connect({
      connectionString: o.pool === undefined ? server.url : undefined,
      poolSize: 2,
      table: freshTable("pgt"),
      fingerprint: corpus.fingerprint,
      ...o,
    } as M3PostgresOptions);
    opened.push(b);
    return b;
  };
  const sql = async (text: string, values: unknown[] = []) => {
    const c = new pg.Client({ connectionString: server.url });
    await c.connect();
    try {
      return (await c.query(text, values)).rows;
    } finally {
      await c.end();
    }
  };

  beforeAll(() => {
    corpus = generateSyntheticCorpus({ docs: 240, queries: 4, dim: 24, colbertTokens: [2, 6], seed: 5, clusters: 8 });
  });
  afterEach(async () => {
    for (const b of opened.splice(0)) await b.close();
    for (const p of pools.splice(0)) await p.end();
  });

  it("reopens a collection with its data; refuses another model, other dimensions, a newer schema, a foreign table", async () => {
    const table = freshTable("reopen");
    const a = await open({ table });
    await a.upsert(corpus.docs.slice(0, 10));
    await a.close();
    const again = await open({ table, create: false });
    expect(await again.count()).toBe(10);
    expect(again.denseDim).toBe(24);
    expect((await again.info()).location).toMatch(new RegExp(`^postgres://127\\.0\\.0\\.1:\\d+/postgres table ${table}$`));
    const other = { ...corpus.fingerprint, tokenizerSha256: "another-tokenizer" };
    let err = await errorOf(open({ table, fingerprint: other }));
    expect(err.code).toBe("INDEX_MODEL_MISMATCH");
    expect(err.message).toMatch(/another model/);
    err = await errorOf(open({ table, denseDim: 16 }));
    expect(err.code).toBe("INDEX_MODEL_MISMATCH");
    expect(err.message).toMatch(/dense 24-d .* dense 16-d/);
    expect(await codeOf(open({ table, colbertType: "vector" }))).toBe("INVALID_ARGUMENT");
    await sql(`UPDATE "${table}_meta" SET schema_version = 7`);
    err = await errorOf(open({ table }));
    expect(err.code).toBe("INDEX_CORRUPT");
    expect(err.message).toMatch(/schema version 7.*reads schema 2/);
    expect(await codeOf(open({ table: freshTable("missing"), create: false }))).toBe("NOT_FOUND");
    const foreign = freshTable("foreign");
    await sql(`CREATE TABLE "${foreign}" (x int)`);
    expect(await codeOf(open({ table: foreign }))).toBe("INDEX_CORRUPT");
  });

  it("refuses a table whose vector column no longer has the collection's dimension", async () => {
    const table = freshTable("altered");
    await (await open({ table })).close();
    await sql(`DROP INDEX "${table}_dense_hnsw"`);
    await sql(`ALTER TABLE "${table}" ALTER COLUMN dense TYPE vector(8) USING NULL`);
    const err = await errorOf(open({ table }));
    expect(err.code).toBe("INDEX_MODEL_MISMATCH");
    expect(err.message).toMatch(/vector\(8\).*vector\(24\)/);
  });

  it("checks options before connecting: table names, connection strings, ranges", async () => {
    for (const table of ["Docs", "1docs", "a-b", 'x"; DROP TABLE y; --', "", "a".repeat(49), 7]) {
      expect(await codeOf(open({ table: table as string }))).toBe("INVALID_ARGUMENT");
    }
    expect(await codeOf(M3PostgresBackend.connect({ connectionString: "localhost:5432", fingerprint: corpus.fingerprint }))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(M3PostgresBackend.connect({ fingerprint: corpus.fingerprint } as never))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(M3PostgresBackend.connect({ connectionString: server.url, pool: new pg.Pool(), fingerprint: corpus.fingerprint }))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(open({ fingerprint: { layout: "x" } as never }))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(open({ hnsw: { m: 1 } }))).toBe("OUT_OF_RANGE");
    expect(await codeOf(open({ denseType: "float" as never }))).toBe("INVALID_ARGUMENT");
  });

  it("refuses predicate filters and values the server cannot hold; nothing is written", async () => {
    const b = await open();
    await b.upsert(corpus.docs.slice(0, 5));
    expect(await codeOf(b.count(() => true))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(b.deleteWhere(() => true))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(b.candidates(corpus.queries[0]!, { depth: { dense: 5 }, filter: () => true }))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(b.candidates(corpus.queries[0]!, { depth: { dense: -1 } }))).toBe("OUT_OF_RANGE");
    const nul = { ...corpus.docs[7]!, pageContent: "a\u0000b" };
    expect(await codeOf(b.upsert([corpus.docs[6]!, nul]))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(b.upsert([{ ...corpus.docs[8]!, metadata: { big: 1n } as never }]))).toBe("INVALID_ARGUMENT");
    expect(await b.count()).toBe(5);
    expect((await b.getDocuments(["doc-6"]))[0]).toBeUndefined();
  });

  it("a prefetch of k returns k past hnsw.ef_search, with and without a filter; bytes over the wire are counted", async () => {
    const b = await open({ hnsw: { efSearch: 10 } });
    await b.upsert(corpus.docs);
    const q = corpus.queries[1]!;
    const all = await b.candidates(q, { depth: { dense: 150 } });
    expect(all.exhaustive).toBe(false);
    expect(all.ids.length).toBe(150);
    const low = await b.candidates(q, { depth: { dense: 100 }, filter: { n: { $lt: 120 } } });
    expect(low.ids.length).toBe(100);
    const docs = await b.getDocuments(low.ids);
    expect(docs.every((d) => (d?.metadata.n as number) < 120)).toBe(true);
    // both statements really go through the HNSW index (with efSearch 10 it would stop at 10 rows by itself)
    const shape = (b as unknown as { shape: Shape }).shape;
    for (const [depth, filter] of [[150, undefined], [100, parseFilter({ n: { $lt: 120 } })]] as const) {
      const st = candidatesStatement(shape, q, { dense: depth, sparse: 0, colbert: 0 }, filter, 10);
      const plan = (await sql(`EXPLAIN ${st.text}`, st.values)).map((r) => r["QUERY PLAN"] as string).join("\n");
      expect(plan).toMatch(new RegExp(`Index Scan using ${b.table}_dense_hnsw`));
    }
    const { hits, stats } = await searchWithStats(b, q, { k: 10, candidates: 50 });
    expect(hits.length).toBe(10);
    expect(stats.wireBytes).toBeGreaterThan(0);
    // the multi-vector stage goes through the HNSW index over the sketch means
    const mean = (b as unknown as { colbert: { sketchQuery(m: unknown): { mean: Float32Array } } }).colbert.sketchQuery(q.colbert).mean;
    const mst = candidatesStatement(shape, q, { dense: 0, sparse: 0, colbert: 100 }, undefined, 10, mean);
    const mplan = (await sql(`EXPLAIN ${mst.text}`, mst.values)).map((r) => r["QUERY PLAN"] as string).join("\n");
    expect(mplan).toMatch(new RegExp(`Index Scan using ${b.table}_mean_hnsw`));
    expect((await b.candidates(q, { depth: {}, colbertDepth: 100 })).ids.length).toBe(100);
    // what comes back: ids from the first stages; then per candidate its numbers, no text, metadata or vectors;
    // then the text and metadata of the final documents only
    const pool = await b.candidates(q, { depth: { dense: 50, sparse: 50 } });
    expect(pool.stats.wireBytes).toBeLessThan(200 + 40 * pool.ids.length);
    const scored = await b.scoreCandidates(q, pool.ids, new Set(["dense", "sparse"] as const));
    const texts = corpus.docs.filter((d) => pool.ids.includes(d.id)).reduce((s, d) => s + Buffer.byteLength(d.pageContent), 0);
    expect(scored.stats.wireBytes).toBeLessThan(200 + 80 * pool.ids.length);
    expect(scored.stats.wireBytes).toBeLessThan(texts);
    const final = await b.fetchDocuments(pool.ids.slice(0, 10));
    const payload = final.docs.reduce((s, d) => s + Buffer.byteLength(d!.pageContent) + Buffer.byteLength(JSON.stringify(d!.metadata)), 0);
    expect(final.stats.wireBytes).toBeGreaterThan(payload);
    expect(final.stats.wireBytes).toBeLessThan(payload + 200 + 80 * 10);
    expect(stats.wireBytes).toBeGreaterThan(hits.reduce((s, h) => s + Buffer.byteLength(h.document.pageContent), 0));
    // exact ColBERT: the rows come too, the codec's bytes as they are (binary COPY; int8: dim + 4 bytes a row),
    // not as text (base64 would be a third more, hex twice)
    const withRows = await b.scoreCandidates(q, pool.ids, new Set(["dense", "sparse", "colbert"] as const));
    const byId = new Map(corpus.docs.map((d) => [d.id, d.encoding.colbert.tokens]));
    const rowBytes = pool.ids.reduce((s, id) => s + (byId.get(id) ?? 0) * (b.colbertDim + 4), 0);
    expect(withRows.stats.wireBytes! - scored.stats.wireBytes!).toBeGreaterThanOrEqual(rowBytes);
    expect(withRows.stats.wireBytes! - scored.stats.wireBytes!).toBeLessThan(rowBytes * 1.02 + 60 * pool.ids.length + 200);
  });

  it("ColBERT payloads come back byte for byte by binary COPY, for ids that need quoting", async () => {
    // float32 rows: exact MaxSim in the client equals the brute-force score only if every byte arrived unchanged
    const b = await open({ colbertCodec: "float32" });
    const ids = ["it's", "back\\slash", "ünïcode \u00ff", "semi;colon --", "$1", "doc-0"];
    const docs = ids.map((id, i) => ({ ...corpus.docs[i]!, id, pageContent: `text of ${id}`, metadata: { id } }));
    await b.upsert(docs);
    const q = corpus.queries[2]!;
    const scored = await b.scoreCandidates(q, [...ids, "missing"], new Set(["colbert"] as const));
    expect(scored.ids).toEqual(ids);
    const fetched = await b.fetchDocuments([...ids, "missing"]);
    expect(fetched.docs.map((d) => d && [d.id, d.pageContent, d.metadata])).toEqual([...docs.map((d) => [d.id, d.pageContent, d.metadata]), undefined]);
    scored.scores.forEach((sc, i) => expect(sc.colbert).toBeCloseTo(modeScores(q, docs[i]!.encoding, ["colbert"]).colbert!, 5));
    const mixed = await b.scoreCandidates(q, ids, new Set(["dense", "colbert"] as const));
    mixed.scores.forEach((sc, i) => expect(sc.colbert).toBe(scored.scores[i]!.colbert));
    const approx = await b.prescoreColbert(q, ["missing", ...ids]);
    expect(Number.isNaN(approx[0])).toBe(true);
    for (let i = 1; i < approx.length; i++) expect(Number.isFinite(approx[i]!)).toBe(true);
  });

  it("a server that is down, or a connection that goes away, is BACKEND_UNAVAILABLE", async () => {
    const port = await deadPort();
    const err = await errorOf(M3PostgresBackend.connect({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`, fingerprint: corpus.fingerprint }));
    expect(err.code).toBe("BACKEND_UNAVAILABLE");
    expect(err.message).toMatch(/ECONNREFUSED|cannot be reached/);
    const proxy = await startCutProxy(server);
    try {
      const b = await open({ connectionString: proxy.url });
      await b.upsert(corpus.docs.slice(0, 3));
      await proxy.close();
      expect(await codeOf(b.count())).toBe("BACKEND_UNAVAILABLE");
    } finally {
      await proxy.close();
    }
  });

  it("a connection dropped in the middle of a batch leaves nothing half-written; the batch can be retried", async () => {
    const proxy = await startCutProxy(server);
    try {
      const b = await open({ connectionString: proxy.url, poolSize: 1 });
      const table = b.table;
      await b.upsert(corpus.docs.slice(0, 5));
      // how many bytes the batch sends, measured on a twin collection
      const twin = await open({ connectionString: proxy.url, poolSize: 1 });
      await twin.count();
      const before = proxy.sent;
      const batch = corpus.docs.slice(5, 125);
      await twin.upsert(batch);
      const batchBytes = proxy.sent - before;
      for (const fraction of [0.3, 0.6, 0.95]) {
        await b.count(); // a live connection in the pool
        proxy.cutAfter(Math.floor(batchBytes * fraction));
        expect(await codeOf(b.upsert(batch))).toBe("BACKEND_UNAVAILABLE");
        const rows = await sql(
          `SELECT (SELECT count(*) FROM "${table}")::int AS docs, (SELECT count(DISTINCT key) FROM "${table}_sparse")::int AS sparse, (SELECT count(*) FROM "${table}_colbert")::int AS colbert`,
        );
        expect(rows[0]).toEqual({ docs: 5, sparse: 5, colbert: 5 });
      }
      expect(await b.upsert(batch)).toEqual({ added: 120, replaced: 0 });
      expect(await b.count()).toBe(125);
    } finally {
      await proxy.close();
    }
  });

  it("two backends (two pools) writing and querying one collection at once stay consistent", async () => {
    const table = freshTable("shared");
    const a = await open({ table, colbertCodec: "float32" });
    const b = await open({ table });
    const mine = (k: string, i: number) => ({ ...corpus.docs[i]!, id: `${k}-${i}` });
    const shared = (i: number, from: number) => ({ ...corpus.docs[from]!, id: `shared-${i}` });
    const writer = async (be: M3PostgresBackend, k: string, offset: number) => {
      for (let s = 0; s < 60; s += 10) {
        await be.upsert([...corpus.docs.slice(offset + s, offset + s + 10).map((_, j) => mine(k, offset + s + j)), ...[0, 1, 2, 3, 4].map((i) => shared(i, offset + s + i))]);
        const hits = await search(be, corpus.queries[s % 4]!, { k: 5, candidates: 20 });
        expect(hits.length).toBe(5);
      }
    };
    await Promise.all([writer(a, "a", 0), writer(b, "b", 100), a.delete(["shared-0"]).then(() => b.upsert([shared(9, 200)]))]);
    const shared0 = (await b.getDocuments(["shared-0"]))[0];
    expect(await a.count()).toBe(60 + 60 + 4 + 1 + (shared0 === undefined ? 0 : 1));
    // every shared document is one writer's version in all its parts (content, dense, sparse, ColBERT)
    for (const i of [0, 1, 2, 3, 4, 9]) {
      const [d] = await a.getDocuments([`shared-${i}`]);
      if (d === undefined) continue;
      const from = corpus.docs.findIndex((x) => x.pageContent === d.pageContent);
      expect(from).toBeGreaterThanOrEqual(0);
      const src = corpus.docs[from]!.encoding;
      const q = { ...src, tokenCount: 1 };
      const scored = await b.scoreCandidates(q, [`shared-${i}`], new Set(["dense", "sparse", "colbert"] as const));
      const want = modeScores(q, src, ["dense", "sparse", "colbert"]);
      expect(scored.scores[0]!.dense).toBeCloseTo(want.dense!, 5);
      expect(scored.scores[0]!.sparse).toBeCloseTo(want.sparse!, 5);
      expect(scored.scores[0]!.colbert).toBeCloseTo(want.colbert!, 3);
    }
  });

  it("a schema v1 collection (halfvec[] rows) is refused naming both versions and migrate: true, then migrated in place", async () => {
    const table = freshTable("v1");
    const docs = corpus.docs.slice(0, 6);
    const dd = docs[0]!.encoding.dense.length;
    const cd = docs[0]!.encoding.colbert.dim;
    await sql("CREATE EXTENSION IF NOT EXISTS vector");
    await sql(`CREATE TABLE "${table}_meta" (id int PRIMARY KEY, schema_version int NOT NULL, fingerprint jsonb NOT NULL, dense_dim int NOT NULL, colbert_dim int NOT NULL,
      dense_type text NOT NULL, colbert_type text NOT NULL, hnsw jsonb NOT NULL, properties jsonb NOT NULL DEFAULT '{}'::jsonb, created_at timestamptz NOT NULL DEFAULT now())`);
    await sql(`CREATE TABLE "${table}" (key bigint GENERATED ALWAYS AS IDENTITY UNIQUE, id text COLLATE "C" PRIMARY KEY, content text NOT NULL, metadata jsonb NOT NULL, dense vector(${dd}) NOT NULL)`);
    await sql(`CREATE TABLE "${table}_sparse" (key bigint NOT NULL REFERENCES "${table}" (key) ON DELETE CASCADE, term int4 NOT NULL, weight float4 NOT NULL, PRIMARY KEY (key, term))`);
    await sql(`CREATE TABLE "${table}_colbert" (key bigint PRIMARY KEY REFERENCES "${table}" (key) ON DELETE CASCADE, rows halfvec(${cd})[] NOT NULL)`);
    await sql(`INSERT INTO "${table}_meta" VALUES (1, 1, $1::jsonb, ${dd}, ${cd}, 'halfvec', 'halfvec', '{"m":16,"efConstruction":64}'::jsonb)`, [JSON.stringify(corpus.fingerprint)]);
    const lit = (v: ArrayLike<number>) => `[${Array.from(v).join(",")}]`;
    for (const d of docs) {
      const [{ key }] = await sql(`INSERT INTO "${table}" (id, content, metadata, dense) VALUES ($1, $2, $3::jsonb, $4::vector) RETURNING key::text AS key`, [d.id, d.pageContent, JSON.stringify(d.metadata ?? {}), lit(d.encoding.dense)]);
      const sp = d.encoding.sparse;
      for (let i = 0; i < sp.indices.length; i++) await sql(`INSERT INTO "${table}_sparse" VALUES ($1, $2, $3)`, [key, sp.indices[i], sp.values[i]]);
      const c = d.encoding.colbert;
      const rows = Array.from({ length: c.tokens }, (_, r) => lit(c.data.subarray(r * cd, (r + 1) * cd)));
      await sql(`INSERT INTO "${table}_colbert" VALUES ($1, $2::halfvec(${cd})[])`, [key, rows]);
    }
    const err = await errorOf(open({ table }));
    expect(err.code).toBe("INDEX_CORRUPT");
    expect(err.message).toMatch(/schema version 1.*schema version 2.*migrate: true/);
    const b = await open({ table, migrate: true });
    expect(await b.count()).toBe(6);
    expect((await M3PostgresBackend.describeCollection({ connectionString: server.url, table }))!.schemaVersion).toBe(2);
    const q = { ...docs[2]!.encoding, tokenCount: 1 };
    const hits = await search(b, q, { k: 3 });
    expect(hits[0]!.id).toBe(docs[2]!.id);
    const scored = await b.scoreCandidates(q, [docs[2]!.id], new Set(["colbert"] as const));
    expect(scored.scores[0]!.colbert).toBeCloseTo(modeScores(q, docs[2]!.encoding, ["colbert"]).colbert!, 2);
  });

  it("close() ends the backend's own pool but leaves a caller's pool open", async () => {
    const pool = new pg.Pool({ connectionString: server.url, max: 2 });
    pools.push(pool);
    const b = await M3PostgresBackend.connect({ pool, table: freshTable("callerpool"), fingerprint: corpus.fingerprint });
    await b.upsert(corpus.docs.slice(0, 2));
    await b.close();
    expect(await codeOf(b.count())).toBe("DISPOSED");
    expect((await pool.query("SELECT 1 AS one")).rows[0]).toEqual({ one: 1 });
    const own = await open();
    await own.close();
    expect((own as unknown as { router: { primary: { pool: pg.Pool } } }).router.primary.pool.ended).toBe(true);
  });
});

describe("postgres backend: pgvector missing", () => {
  let bare: PgServer;
  beforeAll(async () => {
    bare = await startPgServer({ vector: false });
  });
  afterAll(async () => {
    await bare?.stop();
  });

  it("CREATE EXTENSION refused → BACKEND_ERROR naming pgvector; create: false → BACKEND_ERROR", async () => {
    const fingerprint = generateSyntheticCorpus({ docs: 1, dim: 8 }).fingerprint;
    const err = await errorOf(M3PostgresBackend.connect({ connectionString: bare.url, fingerprint }));
    expect(err.code).toBe("BACKEND_ERROR");
    expect(err.message).toMatch(/pgvector.*CREATE EXTENSION vector/);
    const err2 = await errorOf(M3PostgresBackend.connect({ connectionString: bare.url, fingerprint, create: false }));
    expect(err2.code).toBe("BACKEND_ERROR");
    expect(err2.message).toMatch(/pgvector extension is not installed/);
  });
});

async function errorOf(p: Promise<unknown>): Promise<M3Error> {
  try {
    await p;
  } catch (err) {
    if (isM3Error(err)) return err;
    throw err;
  }
  throw new Error("expected an error");
}
