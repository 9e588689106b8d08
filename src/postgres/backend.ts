/**
 * The Postgres + pgvector backend: a `RetrievalBackend` over a `pg.Pool` (and, optionally, a read replica's).
 * A thin adapter: each stage is its own module — candidates-sql.ts (dense, sparse and multi-vector first stages,
 * one statement), scores-sql.ts (scores-only, sketch and documents statements), colbert.ts (the package's codecs
 * and MaxSim kernels, in this process), writes.ts / bulk.ts (writes), schema*.ts / migrate.ts (tables),
 * replica.ts (read routing), session.ts (pool plumbing).
 *
 * Concurrency model: each write call is one transaction (READ COMMITTED): the documents' rows are upserted in id
 * order (so two writers lock rows in the same order), their side rows replaced, and everything becomes visible at
 * COMMIT, or nothing does (a failure, an abort or a dropped connection rolls it back). Deadlocks and serialization
 * failures retry the whole transaction (3 times). Each read is one statement, so it sees one snapshot: a document
 * is never seen half-written. Between two statements of one search another process may delete a candidate (it is
 * left out) or replace it (it is scored as it now is). Any number of processes may read and write one collection.
 */
import pg from "pg";
import { hasPredicate, parseFilter, type Filter } from "../backend/filter.js";
import type {
  AnyFilter, BackendCapabilities, BackendEntry, BackendInfo, CallOptions, CandidatePool, CandidateRequest, DeleteResult,
  FetchedDocuments, RetrievalBackend, ScoredCandidates, SearchMode, StoredDocument, UpsertResult,
} from "../backend/types.js";
import { checkIds, checkQuery, checkSignal } from "../backend/validate.js";
import { ErrorCodes, M3Error } from "../errors.js";
import type { ModelFingerprint } from "../types.js";
import { checkInt, describe } from "../util/validate.js";
import { bulkLoad, type BulkLoadResult } from "./bulk.js";
import { candidatesStatement, type Shape } from "./candidates-sql.js";
import type { PgColbert, PgColbertCodec } from "./colbert.js";
import { connectParts, locationOf } from "./connect.js";
import { pgError } from "./errors.js";
import { filterSql, Params } from "./filter-sql.js";
import { checkTableName, resolvePgOptions, type M3PostgresOptions, type PgVectorType, type ResolvedPgOptions } from "./options.js";
import type { ReadRouter } from "./replica.js";
import { describeCollectionWith, type CollectionDescription } from "./schema-meta.js";
import { namesOf, type Names } from "./names.js";
import { documentsWith, scoreCandidatesWith, prescoreWith } from "./score.js";
import { preparedName, runStatement } from "./session.js";
import { checkEntries, chunksOf, writeChunk } from "./writes.js";

export class M3PostgresBackend implements RetrievalBackend {
  readonly kind = "postgres";
  readonly capabilities: BackendCapabilities = Object.freeze({ predicateFilters: false, save: false, multiVectorStage: true, approximateColbert: true, colbertTiers: true });
  readonly fingerprint: ModelFingerprint;
  readonly denseDim: number;
  readonly colbertDim: number;
  /** The collection (documents table) name. */
  readonly table: string;
  readonly denseType: PgVectorType;
  /** How full ColBERT rows are stored. */
  readonly colbertCodec: PgColbertCodec;
  /** `postgres://host:port/database` (no credentials) of the primary. */
  readonly where: string;
  /** Same, of the read replica, when there is one. */
  readonly readWhere: string | undefined;
  private readonly names: Names;
  private readonly shape: Shape;
  private readonly o: ResolvedPgOptions;
  private readonly router: ReadRouter;
  private readonly colbert: PgColbert;
  private readonly owned: { primary: boolean; replica: boolean };

  private constructor(p: Awaited<ReturnType<typeof connectParts>>) {
    this.o = p.o;
    this.shape = p.shape;
    this.router = p.router;
    this.colbert = p.colbert;
    this.owned = p.owned;
    this.fingerprint = { ...p.o.fingerprint };
    this.denseDim = p.shape.denseDim;
    this.colbertDim = p.shape.colbertDim;
    this.denseType = p.shape.denseType;
    this.colbertCodec = p.shape.colbertCodec;
    this.table = p.o.table;
    this.names = p.shape.names;
    this.where = p.router.primary.where;
    this.readWhere = p.router.replica?.where;
  }

  /**
   * Connects, makes sure pgvector (0.7+) is there (creating the extension when `create` and allowed), and opens the
   * collection: creates its tables when missing (and `create`), otherwise checks its schema version (migrating a
   * schema v1 collection when `migrate`), model fingerprint and dimensions; with a read replica, checks that it is
   * a standby of this primary holding the collection. With `connectionString` the backend owns its pool and
   * `close()` ends it; with `pool` the caller's pool is used and left open (the same for the replica's).
   */
  static async connect(options: M3PostgresOptions): Promise<M3PostgresBackend> {
    return new M3PostgresBackend(await connectParts(options));
  }

  /**
   * Reads what a collection is (model fingerprint, dimensions, storage, properties) without opening it and
   * without a model; undefined when the database has no such collection. Uses one connection and closes it.
   */
  static async describeCollection(options: { connectionString?: string; pool?: pg.Pool; table?: string }): Promise<CollectionDescription | undefined> {
    const o = resolvePgOptions({ ...options, fingerprint: { layout: "", hiddenSize: 1, vocabSize: 1, tokenizerSha256: "" } });
    const pool = options.pool ?? new pg.Pool({ connectionString: options.connectionString, max: 1 });
    const where = locationOf(options.connectionString, pool);
    try {
      const client = await pool.connect().catch((err: unknown) => {
        throw pgError(err, "Connecting", where);
      });
      try {
        return await describeCollectionWith(client, namesOf(checkTableName(o.table)));
      } catch (err) {
        throw pgError(err, `Reading the collection "${o.table}"`, where);
      } finally {
        client.release();
      }
    } finally {
      if (options.pool === undefined) await pool.end().catch(() => undefined);
    }
  }

  /** The application properties stored with the collection (a JSON object; the CLI keeps its settings under "cli"). */
  async properties(): Promise<Record<string, unknown>> {
    const { value } = await this.router.primary.run("properties", { text: `SELECT properties::text AS p FROM ${this.names.meta} WHERE id = 1`, values: [] });
    return JSON.parse(value.rows[0]!.p!) as Record<string, unknown>;
  }

  /** Merges `patch` into the collection's properties (top-level keys replaced). */
  async setProperties(patch: Record<string, unknown>): Promise<void> {
    if (patch === null || typeof patch !== "object" || Array.isArray(patch)) {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `setProperties expects a plain object; got ${describe(patch)}.`);
    }
    await this.router.primary.run("setProperties", { text: `UPDATE ${this.names.meta} SET properties = properties || $1::jsonb WHERE id = 1`, values: [JSON.stringify(patch)] });
  }

  private checkOpen(): void {
    this.router.primary.checkOpen();
  }

  private parseFilterChecked(filter: unknown): Filter | undefined {
    const f = parseFilter(filter);
    if (f !== undefined && hasPredicate(f)) {
      throw new M3Error(
        ErrorCodes.INVALID_ARGUMENT,
        "The postgres backend cannot run a JavaScript predicate filter; write the filter as an object ({ key: value }, $in, $gt, $and, ...), which it translates to SQL.",
      );
    }
    return f;
  }

  private write<T>(what: string, signal: AbortSignal | undefined, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.router.primary.transaction(what, signal, fn, (c) => this.router.noteWrite(c));
  }

  // ---- writes ---------------------------------------------------------------------------------------------

  /** Adds or replaces documents, all in one transaction (all or nothing). */
  async upsert(entries: BackendEntry[], options: CallOptions = {}): Promise<UpsertResult> {
    this.checkOpen();
    checkSignal(options.signal, "upsert");
    const chunks = chunksOf(checkEntries(entries, this.shape, this.colbert), this.denseDim);
    if (chunks.length === 0) return { added: 0, replaced: 0 };
    return this.write("upsert", options.signal, async (c) => {
      let added = 0;
      let replaced = 0;
      for (const chunk of chunks) {
        checkSignal(options.signal, "upsert");
        const r = await writeChunk(c, this.shape, chunk);
        added += r.added;
        replaced += r.replaced;
      }
      return { added, replaced };
    });
  }

  /**
   * Loads many batches in one transaction (all or nothing). When the collection is empty, its secondary indexes
   * (the two HNSW graphs, the metadata GIN and the term index) are dropped first and built once after the rows are
   * in, which is several times faster than keeping them up to date; meanwhile other sessions' reads and writes of
   * the collection wait. Into a collection with documents, the batches are upserted as by `upsert`.
   */
  async bulkLoad(batches: Iterable<BackendEntry[]> | AsyncIterable<BackendEntry[]>, options: CallOptions = {}): Promise<BulkLoadResult> {
    this.checkOpen();
    checkSignal(options.signal, "bulkLoad");
    return this.write("bulkLoad", options.signal, (c) => bulkLoad(c, this.shape, this.colbert, batches, { signal: options.signal, maintenanceWorkMem: this.o.maintenanceWorkMem }));
  }

  /** Removes documents by id (all their parts, in one statement); unknown ids are ignored and reported. */
  async delete(ids: string[], options: CallOptions = {}): Promise<DeleteResult> {
    this.checkOpen();
    checkSignal(options.signal, "delete");
    checkIds(ids, "ids");
    if (ids.length === 0) return { deleted: 0, notFound: [] };
    const gone = await this.write("delete", options.signal, async (c) => {
      const r = await runStatement(c, { text: `DELETE FROM ${this.names.docs} WHERE id = ANY($1::text[]) RETURNING id`, values: [ids] });
      return new Set(r.rows.map((x) => x.id!));
    });
    let deleted = 0;
    const notFound: string[] = [];
    for (const id of ids) {
      if (gone.delete(id)) deleted++;
      else notFound.push(id);
    }
    return { deleted, notFound };
  }

  async deleteWhere(filter: AnyFilter, options: CallOptions = {}): Promise<number> {
    this.checkOpen();
    checkSignal(options.signal, "deleteWhere");
    const f = this.parseFilterChecked(filter);
    if (f === undefined) throw new M3Error(ErrorCodes.INVALID_ARGUMENT, "deleteWhere needs a filter; to delete every document call clear().");
    return this.write("deleteWhere", options.signal, async (c) => {
      const p = new Params();
      const where = filterSql(f, p, "d.metadata");
      const r = await c.query({ text: `DELETE FROM ${this.names.docs} AS d WHERE ${where}`, values: p.values });
      return r.rowCount ?? 0;
    });
  }

  /** Removes every document (TRUNCATE: it briefly locks the collection against other readers and writers). */
  async clear(options: CallOptions = {}): Promise<void> {
    this.checkOpen();
    checkSignal(options.signal, "clear");
    const n = this.names;
    await this.write("clear", options.signal, async (c) => {
      await c.query(`TRUNCATE ${n.sparse}, ${n.colbert}, ${n.docs}`);
    });
  }

  // ---- reads (on the replica when there is one) ----------------------------------------------------------

  async getDocuments(ids: string[], options: CallOptions & { dense?: boolean } = {}): Promise<((StoredDocument & { dense?: Float32Array }) | undefined)[]> {
    this.checkOpen();
    return (await documentsWith(this.router, this.shape, ids, options.dense === true, options, "getDocuments")).docs;
  }

  /** The documents of a search's final results, one statement (see backend/types.ts). */
  async fetchDocuments(ids: string[], options: CallOptions = {}): Promise<FetchedDocuments> {
    this.checkOpen();
    return documentsWith(this.router, this.shape, ids, false, options, "fetchDocuments");
  }

  async count(filter?: AnyFilter): Promise<number> {
    this.checkOpen();
    const f = this.parseFilterChecked(filter);
    const p = new Params();
    const where = filterSql(f, p, "d.metadata");
    const { value } = await this.router.read("count", (c) => runStatement(c, { text: `SELECT count(*)::text AS n FROM ${this.names.docs} d WHERE ${where}`, values: p.values }));
    return Number(value.rows[0]!.n);
  }

  /** Every (matching) document, in id order, `pageSize` (default 256) per statement (keyset pagination). */
  async *documents(options: { filter?: AnyFilter; pageSize?: number } = {}): AsyncIterable<StoredDocument> {
    this.checkOpen();
    const f = this.parseFilterChecked(options.filter);
    const pageSize = checkInt("pageSize", options.pageSize ?? 256, 1, 100_000);
    let after: string | undefined;
    for (;;) {
      const p = new Params();
      const where = filterSql(f, p, "d.metadata");
      const from = after === undefined ? "" : `AND d.id > ${p.add(after)}::text`;
      const text = `SELECT d.id, d.content, d.metadata::text AS metadata FROM ${this.names.docs} d WHERE ${where} ${from} ORDER BY d.id LIMIT ${p.add(pageSize)}::int`;
      const { value } = await this.router.read("documents", (c) => runStatement(c, { text, values: p.values }));
      for (const r of value.rows) yield { id: r.id!, pageContent: r.content!, metadata: JSON.parse(r.metadata!) as Record<string, unknown> };
      if (value.rows.length < pageSize) return;
      after = value.rows[value.rows.length - 1]!.id!;
    }
  }

  /**
   * Candidates from the dense, sparse and multi-vector (ColBERT sketch means) first stages in one statement (one
   * round trip). When the deepest asked depth covers every matching document, that is every matching id, with
   * `exhaustive: true`. The statement's time is reported under `denseMs` (or `sparseMs` when only sparse was
   * asked); `wireBytes` counts the bytes received.
   */
  async candidates(query: Parameters<RetrievalBackend["candidates"]>[0], request: CandidateRequest): Promise<CandidatePool> {
    this.checkOpen();
    if (request === null || typeof request !== "object" || request.depth === null || typeof request.depth !== "object") {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `candidates needs { depth: { dense?, sparse? }, colbertDepth?, filter? }; got ${describe(request)}.`);
    }
    checkSignal(request.signal, "The candidate search");
    const depth = {
      dense: checkInt("depth.dense", request.depth.dense ?? 0, 0, 1_000_000_000),
      sparse: checkInt("depth.sparse", request.depth.sparse ?? 0, 0, 1_000_000_000),
      colbert: checkInt("colbertDepth", request.colbertDepth ?? 0, 0, 1_000_000_000),
    };
    const need = new Set<string>();
    if (depth.dense > 0) need.add("dense");
    if (depth.sparse > 0) need.add("sparse");
    if (depth.colbert > 0) need.add("colbert");
    const q = checkQuery(query, need, this.denseDim, this.colbertDim);
    const f = this.parseFilterChecked(request.filter);
    const mean = depth.colbert > 0 ? this.colbert.sketchQuery(q.colbert!).mean : undefined;
    const st = candidatesStatement(this.shape, q, depth, f, this.o.efSearch, mean);
    if (f === undefined && this.shape.prepare) st.name = preparedName(st.text);
    const t0 = performance.now();
    const { value, received } = await this.router.read("The candidate search", (c) => runStatement(c, st));
    const ms = performance.now() - t0;
    checkSignal(request.signal, "The candidate search");
    const matching = Number(value.rows[0]!.n);
    const deep = Math.max(depth.dense, depth.sparse, depth.colbert);
    const ids = value.rows.slice(1).map((r) => r.id!);
    const stats: CandidatePool["stats"] = { filterMs: 0, denseMs: depth.dense > 0 ? ms : 0, sparseMs: depth.dense > 0 ? 0 : ms };
    if (received !== undefined) stats.wireBytes = received;
    if (matching <= deep) return { ids, exhaustive: true, matching, stats };
    return { ids, exhaustive: false, stats };
  }

  /** Exact dense and sparse scores (in the database) and ColBERT MaxSim (over the fetched rows, in this process) of `ids`. */
  async scoreCandidates(query: Parameters<RetrievalBackend["scoreCandidates"]>[0], ids: string[], modes: ReadonlySet<SearchMode>, options: CallOptions = {}): Promise<ScoredCandidates> {
    this.checkOpen();
    return scoreCandidatesWith(this.router, this.shape, this.colbert, query, ids, modes, options);
  }

  /** Approximate ColBERT scores (MaxSim over the sketched rows, in this process) of `ids`; NaN for an id not stored. */
  async prescoreColbert(query: Parameters<RetrievalBackend["scoreCandidates"]>[0], ids: string[], options: CallOptions = {}): Promise<Float32Array> {
    this.checkOpen();
    return prescoreWith(this.router, this.shape, this.colbert, query, ids, options);
  }

  /** Counts and sizes: `bytes` has docs (table, TOAST and indexes but the HNSW ones), dense and sketch means (their HNSW indexes), sparse, colbert. */
  async info(): Promise<BackendInfo> {
    this.checkOpen();
    const n = this.names;
    const { value } = await this.router.read("info", (c) =>
      runStatement(c, {
        text:
          `SELECT (SELECT count(*) FROM ${n.docs})::text AS n, pg_total_relation_size(to_regclass($1::text))::text AS docs, ` +
          "pg_relation_size(to_regclass($2::text))::text AS hnsw, coalesce(pg_relation_size(to_regclass($5::text)), 0)::text AS mhnsw, " +
          "pg_total_relation_size(to_regclass($3::text))::text AS sparse, pg_total_relation_size(to_regclass($4::text))::text AS colbert",
        values: [n.docs, n.hnsw, n.sparse, n.colbert, n.meanHnsw],
      }),
    );
    const r = value.rows[0]!;
    const hnsw = Number(r.hnsw ?? 0);
    const mhnsw = Number(r.mhnsw ?? 0);
    return {
      kind: this.kind,
      fingerprint: { ...this.fingerprint },
      documents: Number(r.n),
      denseDim: this.denseDim,
      colbertDim: this.colbertDim,
      location: `${this.where} table ${this.table}${this.readWhere === undefined ? "" : ` (reads: ${this.readWhere})`}`,
      bytes: { docs: Number(r.docs) - hnsw - mhnsw, dense: hnsw, sketch: mhnsw, sparse: Number(r.sparse), colbert: Number(r.colbert) },
    };
  }

  /**
   * Waits for calls in flight, then ends the pools the backend made (from `connectionString` /
   * `readConnectionString`). Pools passed in by the caller are left open: the caller ends them.
   */
  async close(): Promise<void> {
    if (this.router.primary.closed) return;
    await Promise.all([this.router.primary.close(this.owned.primary), this.router.replica?.close(this.owned.replica)]);
    await this.colbert.close();
  }
}
