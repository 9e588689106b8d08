/**
 * The Postgres + pgvector backend: a `RetrievalBackend` over one `pg.Pool`. Every statement is parameterised
 * (the only identifiers are the collection's checked table names); vectors travel in binary form.
 *
 * Concurrency model: each write call is one transaction (READ COMMITTED): the documents' rows are upserted in id
 * order (so two writers lock rows in the same order), their side rows replaced, and everything becomes visible at
 * COMMIT, or nothing does (a failure, an abort or a dropped connection rolls it back). Deadlocks and serialization
 * failures retry the whole transaction (3 times). Each read is one statement, so it sees one snapshot: a document
 * is never seen half-written. Between the candidates statement and the scores statement of one search another
 * process may delete a candidate (it is left out) or replace it (it is scored as it now is). Any number of
 * processes may read and write one collection at once.
 */
import pg from "pg";
import { hasPredicate, parseFilter, type Filter } from "../backend/filter.js";
import type {
  AnyFilter, BackendCapabilities, BackendEntry, BackendInfo, CallOptions, CandidatePool, CandidateRequest, DeleteResult,
  RetrievalBackend, ScoredCandidates, SearchMode, StoredDocument, UpsertResult,
} from "../backend/types.js";
import { checkDocEncoding, checkId, checkIds, checkMetadata, checkQuery, checkSignal } from "../backend/validate.js";
import { ErrorCodes, M3Error } from "../errors.js";
import type { ModeScores } from "../math/scores.js";
import type { Logger, M3Encoding, ModelFingerprint, MultiVector, SparseVector } from "../types.js";
import { checkInt, describe } from "../util/validate.js";
import { extensionError, isRetryable, pgError } from "./errors.js";
import { filterSql, Params } from "./filter-sql.js";
import { candidatesStatement, scoresStatement, type Shape, type Statement } from "./queries.js";
import { checkTableName, resolvePgOptions, type M3PostgresOptions, type PgVectorType, type ResolvedPgOptions } from "./options.js";
import { describeCollectionWith, namesOf, openCollection, type CollectionDescription, type Names } from "./schema.js";
import { encodeNumberArray, encodeVectorBlocks, parseVectorText, vectorBytes } from "./wire.js";

/** Results come back as the server's text, whatever type parsers the application installed on `pg`. */
const RAW_TYPES = { getTypeParser: () => (v: string) => v };

/** A batch statement carries at most this many bytes of vectors (one upsert call may hold several). */
const CHUNK_BYTES = 16 << 20;
const CHUNK_DOCS = 500;
const RETRIES = 3;

interface Row {
  [column: string]: string | null;
}

interface CheckedEntry {
  id: string;
  pageContent: string;
  metadata: string;
  dense: Float32Array;
  sparse: SparseVector;
  colbert: MultiVector;
}

/** Counts bytes a pooled client's socket received and sent (node-postgres keeps the socket at `connection.stream`). */
function socketOf(client: pg.PoolClient): { bytesRead: number; bytesWritten: number } | undefined {
  const s = (client as unknown as { connection?: { stream?: { bytesRead?: unknown; bytesWritten?: unknown } } }).connection?.stream;
  return s !== undefined && typeof s.bytesRead === "number" && typeof s.bytesWritten === "number" ? (s as { bytesRead: number; bytesWritten: number }) : undefined;
}

function normalised(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  const n = Math.max(Math.sqrt(s), 1e-12);
  return Float32Array.from(v, (x) => x / n);
}

function locationOf(o: M3PostgresOptions, pool: pg.Pool): string {
  const opts = (pool as unknown as { options?: { connectionString?: string; host?: string; port?: number; database?: string } }).options ?? {};
  const cs = o.connectionString ?? opts.connectionString;
  if (cs !== undefined) {
    try {
      const u = new URL(cs);
      return `postgres://${u.hostname}${u.port ? `:${u.port}` : ""}${u.pathname}`;
    } catch {
      return "postgres";
    }
  }
  return `postgres://${opts.host ?? "localhost"}${opts.port ? `:${opts.port}` : ""}/${opts.database ?? ""}`;
}

function versionAtLeast(v: string, major: number, minor: number): boolean {
  const [a, b] = v.split(".").map((x) => Number.parseInt(x, 10));
  return (a ?? 0) > major || ((a ?? 0) === major && (b ?? 0) >= minor);
}

export class M3PostgresBackend implements RetrievalBackend {
  readonly kind = "postgres";
  readonly capabilities: BackendCapabilities = Object.freeze({ predicateFilters: false, save: false });
  readonly fingerprint: ModelFingerprint;
  readonly denseDim: number;
  readonly colbertDim: number;
  /** The collection (documents table) name. */
  readonly table: string;
  readonly denseType: PgVectorType;
  readonly colbertType: PgVectorType;
  /** `postgres://host:port/database` (no credentials). */
  readonly where: string;
  private readonly pool: pg.Pool;
  private readonly ownsPool: boolean;
  private readonly names: Names;
  private readonly shape: Shape;
  private readonly efSearch: number;
  private readonly logger: Logger;
  private closed = false;
  private readonly inflight = new Set<Promise<unknown>>();

  private constructor(init: { pool: pg.Pool; ownsPool: boolean; o: ResolvedPgOptions; where: string; shape: Shape }) {
    this.pool = init.pool;
    this.ownsPool = init.ownsPool;
    this.fingerprint = { ...init.o.fingerprint };
    this.denseDim = init.shape.denseDim;
    this.colbertDim = init.shape.colbertDim;
    this.denseType = init.shape.denseType;
    this.colbertType = init.shape.colbertType;
    this.table = init.o.table;
    this.names = init.shape.names;
    this.shape = init.shape;
    this.efSearch = init.o.efSearch;
    this.logger = init.o.logger;
    this.where = init.where;
  }

  /**
   * Connects, makes sure pgvector (0.7+) is there (creating the extension when `create` and allowed), and opens the
   * collection: creates its tables when missing (and `create`), otherwise checks its schema version, model
   * fingerprint and dimensions. With `connectionString` the backend owns its pool and `close()` ends it; with `pool`
   * the caller's pool is used and left open.
   */
  static async connect(options: M3PostgresOptions): Promise<M3PostgresBackend> {
    const o = resolvePgOptions(options);
    const ownsPool = options.pool === undefined;
    const pool = options.pool ?? new pg.Pool({ connectionString: options.connectionString, max: o.poolSize });
    if (ownsPool) pool.on("error", (err) => o.logger.warn?.("postgres: an idle connection failed", { error: String(err) }));
    const where = locationOf(options, pool);
    try {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw pgError(err, "Connecting", where);
      }
      try {
        const ext = await M3PostgresBackend.ensureVector(client, o, where);
        const names = namesOf(o.table);
        const meta = await openCollection(client, names, o).catch((err) => {
          throw pgError(err, `Opening the collection "${o.table}"`, where);
        });
        if (meta.created) o.logger.info?.(`postgres: created the collection "${o.table}"`, { where });
        const oids = (await client.query<{ v: string; h: string }>("SELECT to_regtype('vector')::oid::text AS v, to_regtype('halfvec')::oid::text AS h")).rows[0]!;
        const shape: Shape = {
          names,
          denseDim: meta.denseDim,
          colbertDim: meta.colbertDim,
          denseType: meta.denseType,
          colbertType: meta.colbertType,
          colbertOid: Number(meta.colbertType === "vector" ? oids.v : oids.h),
          vectorOid: Number(oids.v),
          iterative: versionAtLeast(ext, 0, 8),
        };
        client.release();
        return new M3PostgresBackend({ pool, ownsPool, o, where, shape });
      } catch (err) {
        client.release(true);
        throw pgError(err, "Connecting", where);
      }
    } catch (err) {
      if (ownsPool) await pool.end().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Reads what a collection is (model fingerprint, dimensions, storage types, properties) without opening it and
   * without a model; undefined when the database has no such collection. Uses one connection and closes it.
   */
  static async describeCollection(options: { connectionString?: string; pool?: pg.Pool; table?: string }): Promise<CollectionDescription | undefined> {
    const o = resolvePgOptions({ ...options, fingerprint: { layout: "", hiddenSize: 1, vocabSize: 1, tokenizerSha256: "" } });
    const pool = options.pool ?? new pg.Pool({ connectionString: options.connectionString, max: 1 });
    const where = locationOf({ ...options, fingerprint: o.fingerprint }, pool);
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
    const { value } = await this.withClient("properties", (c) =>
      M3PostgresBackend.query(c, { text: `SELECT properties::text AS p FROM ${this.names.meta} WHERE id = 1`, values: [] }),
    );
    return JSON.parse(value.rows[0]!.p!) as Record<string, unknown>;
  }

  /** Merges `patch` into the collection's properties (top-level keys replaced). */
  async setProperties(patch: Record<string, unknown>): Promise<void> {
    if (patch === null || typeof patch !== "object" || Array.isArray(patch)) {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `setProperties expects a plain object; got ${describe(patch)}.`);
    }
    await this.withClient("setProperties", (c) =>
      c.query({ text: `UPDATE ${this.names.meta} SET properties = properties || $1::jsonb WHERE id = 1`, values: [JSON.stringify(patch)] }),
    );
  }

  /** Returns pgvector's version, creating the extension when it is missing and allowed. */
  private static async ensureVector(client: pg.PoolClient, o: ResolvedPgOptions, where: string): Promise<string> {
    const version = async () => (await client.query<{ v: string }>("SELECT extversion AS v FROM pg_extension WHERE extname = 'vector'")).rows[0]?.v;
    let v: string | undefined = await version();
    if (v === undefined) {
      if (!o.create) {
        throw new M3Error(ErrorCodes.BACKEND_ERROR, `The pgvector extension is not installed in the database at ${where}. Run CREATE EXTENSION vector there (pgvector 0.7 or newer), or connect with create: true as a user allowed to.`);
      }
      try {
        await client.query("CREATE EXTENSION IF NOT EXISTS vector");
      } catch (err) {
        v = await version().catch(() => undefined); // another process may have created it at the same moment
        if (v === undefined) throw extensionError(err, where);
      }
      v ??= await version();
    }
    return M3PostgresBackend.checkVersion(v, where);
  }

  private static checkVersion(v: string | undefined, where: string): string {
    if (v === undefined || !versionAtLeast(v, 0, 7)) {
      throw new M3Error(ErrorCodes.BACKEND_ERROR, `pgvector ${v ?? "(unknown version)"} at ${where} is too old: the backend needs 0.7 or newer (halfvec). Run ALTER EXTENSION vector UPDATE after upgrading pgvector on the server.`);
    }
    return v;
  }

  // ---- plumbing -------------------------------------------------------------------------------------------

  private checkOpen(): void {
    if (this.closed) throw new M3Error(ErrorCodes.DISPOSED, `This Postgres backend (collection "${this.table}") was closed; connect again to use it.`);
  }

  /** Runs `fn` on a pooled client; returns its value and the bytes the socket received / sent meanwhile. */
  private async withClient<T>(what: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<{ value: T; received?: number; sent?: number }> {
    this.checkOpen();
    const run = (async () => {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (err) {
        throw pgError(err, what, this.where);
      }
      // A connection lost between two statements is reported on the client, not on a query: keep a listener
      // while the client is out of the pool (node-postgres would otherwise raise it as an uncaught error).
      let lost: unknown;
      const onError = (err: unknown) => {
        lost ??= err;
      };
      client.on("error", onError);
      const sock = socketOf(client);
      const r0 = sock?.bytesRead ?? 0;
      const w0 = sock?.bytesWritten ?? 0;
      try {
        const value = await fn(client);
        if (lost !== undefined) throw lost;
        const out = { value, received: sock === undefined ? undefined : sock.bytesRead - r0, sent: sock === undefined ? undefined : sock.bytesWritten - w0 };
        client.off("error", onError);
        client.release();
        return out;
      } catch (err) {
        const e = pgError(lost ?? err, what, this.where);
        const broken = e.code === ErrorCodes.BACKEND_UNAVAILABLE;
        if (!broken) client.off("error", onError);
        client.release(broken ? e : undefined);
        throw e;
      }
    })();
    this.inflight.add(run);
    try {
      return await run;
    } finally {
      this.inflight.delete(run);
    }
  }

  private static query(c: pg.PoolClient, s: Statement): Promise<pg.QueryResult<Row>> {
    return c.query<Row>({ text: s.text, values: s.values, types: RAW_TYPES } as pg.QueryConfig);
  }

  /** One transaction; retried whole on deadlock / serialization failure. The signal is checked before COMMIT. */
  private async transaction<T>(what: string, signal: AbortSignal | undefined, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return (
          await this.withClient(what, async (c) => {
            await c.query("BEGIN");
            try {
              const v = await fn(c);
              checkSignal(signal, what);
              await c.query("COMMIT");
              return v;
            } catch (err) {
              await c.query("ROLLBACK").catch(() => undefined);
              throw err;
            }
          })
        ).value;
      } catch (err) {
        const cause = (err as { cause?: unknown }).cause;
        if (attempt < RETRIES && isRetryable(cause)) {
          this.logger.debug?.(`postgres: ${what} hit a transient conflict; retrying`, { attempt });
          continue;
        }
        throw err;
      }
    }
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

  // ---- writes ---------------------------------------------------------------------------------------------

  private checkEntries(entries: BackendEntry[]): CheckedEntry[] {
    if (!Array.isArray(entries)) throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `upsert expects an array of entries; got ${describe(entries)}.`);
    const last = new Map<string, CheckedEntry>();
    entries.forEach((e, i) => {
      const where = `entries[${i}]`;
      if (e === null || typeof e !== "object") throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `${where} must be an object { id, pageContent, metadata, encoding }.`);
      const id = checkId(e.id, `${where}.id`);
      if (typeof e.pageContent !== "string") throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `${where}.pageContent must be a string; got ${describe(e.pageContent)}.`);
      const metadata = checkMetadata(e.metadata, `${where}.metadata`);
      let json: string;
      try {
        json = JSON.stringify(metadata);
      } catch (err) {
        throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `${where}.metadata cannot be written as JSON (${String(err)}); use JSON values only.`);
      }
      const enc = checkDocEncoding(e.encoding, this.denseDim, this.colbertDim, `${where}.encoding`);
      const terms = enc.sparse.indices;
      if (terms.length > 0 && terms[terms.length - 1]! > 0x7fffffff) {
        throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `${where}.encoding.sparse has token id ${terms[terms.length - 1]}; the postgres backend stores ids up to 2147483647.`);
      }
      last.delete(id); // a repeated id keeps the last entry
      last.set(id, { id, pageContent: e.pageContent, metadata: json, dense: normalised(enc.dense), sparse: enc.sparse, colbert: enc.colbert });
    });
    // Rows are locked in id order, the same in every process, so two writers cannot deadlock on each other.
    return [...last.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Adds or replaces documents, all in one transaction (all or nothing). */
  async upsert(entries: BackendEntry[], options: CallOptions = {}): Promise<UpsertResult> {
    this.checkOpen();
    checkSignal(options.signal, "upsert");
    const checked = this.checkEntries(entries);
    if (checked.length === 0) return { added: 0, replaced: 0 };
    const chunks: CheckedEntry[][] = [];
    let cur: CheckedEntry[] = [];
    let bytes = 0;
    const cb = vectorBytes(this.colbertType, this.colbertDim) + 4;
    for (const e of checked) {
      const b = 4 * this.denseDim + 12 * e.sparse.indices.length + cb * e.colbert.tokens + 2 * (e.pageContent.length + e.metadata.length);
      if (cur.length > 0 && (bytes + b > CHUNK_BYTES || cur.length >= CHUNK_DOCS)) {
        chunks.push(cur);
        cur = [];
        bytes = 0;
      }
      cur.push(e);
      bytes += b;
    }
    chunks.push(cur);
    return this.transaction("upsert", options.signal, async (c) => {
      let added = 0;
      let replaced = 0;
      for (const chunk of chunks) {
        checkSignal(options.signal, "upsert");
        const r = await this.writeChunk(c, chunk);
        added += r.added;
        replaced += r.replaced;
      }
      return { added, replaced };
    });
  }

  private async writeChunk(c: pg.PoolClient, chunk: CheckedEntry[]): Promise<UpsertResult> {
    const n = this.names;
    const D = this.denseDim;
    const dense = encodeVectorBlocks("vector", this.shape.vectorOid, chunk.map((e) => ({ data: e.dense, rows: 1 })), D);
    const ins = await M3PostgresBackend.query(c, {
      text:
        `INSERT INTO ${n.docs} (id, content, metadata, dense) ` +
        `SELECT u.id, u.content, u.metadata, u.dense FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::vector(${D})[]) AS u(id, content, metadata, dense) ` +
        "ON CONFLICT (id) DO UPDATE SET content = EXCLUDED.content, metadata = EXCLUDED.metadata, dense = EXCLUDED.dense " +
        "RETURNING id, key::text AS key, (xmax = 0)::text AS inserted",
      values: [chunk.map((e) => e.id), chunk.map((e) => e.pageContent), chunk.map((e) => e.metadata), dense],
    });
    const keyOf = new Map<string, string>();
    const old: string[] = [];
    for (const row of ins.rows) {
      keyOf.set(row.id!, row.key!);
      if (row.inserted !== "true") old.push(row.key!);
    }
    if (old.length > 0) {
      const keys = encodeNumberArray("int8", old.map(Number));
      await c.query({ text: `DELETE FROM ${n.sparse} WHERE key = ANY($1::int8[])`, values: [keys] });
      await c.query({ text: `DELETE FROM ${n.colbert} WHERE key = ANY($1::int8[])`, values: [keys] });
    }
    // sparse postings
    let postings = 0;
    for (const e of chunk) postings += e.sparse.indices.length;
    if (postings > 0) {
      const pk = new Float64Array(postings);
      const pt = new Int32Array(postings);
      const pw = new Float32Array(postings);
      let o = 0;
      for (const e of chunk) {
        const k = Number(keyOf.get(e.id));
        pk.fill(k, o, o + e.sparse.indices.length);
        pt.set(e.sparse.indices, o);
        pw.set(e.sparse.values, o);
        o += e.sparse.indices.length;
      }
      await c.query({
        text: `INSERT INTO ${n.sparse} (key, term, weight) SELECT * FROM unnest($1::int8[], $2::int4[], $3::float4[])`,
        values: [encodeNumberArray("int8", pk), encodeNumberArray("int4", pt), encodeNumberArray("float4", pw)],
      });
    }
    // ColBERT rows: one array per document, assembled in SQL from one flat array of rows
    const withRows = chunk.filter((e) => e.colbert.tokens > 0);
    if (withRows.length > 0) {
      let rows = 0;
      for (const e of withRows) rows += e.colbert.tokens;
      const rk = new Float64Array(rows);
      let o = 0;
      for (const e of withRows) {
        rk.fill(Number(keyOf.get(e.id)), o, o + e.colbert.tokens);
        o += e.colbert.tokens;
      }
      const T = `${this.colbertType}(${this.colbertDim})`;
      await c.query({
        text:
          `INSERT INTO ${n.colbert} (key, rows) SELECT u.k, array_agg(u.v ORDER BY u.i) ` +
          `FROM unnest($1::int8[], $2::${T}[]) WITH ORDINALITY AS u(k, v, i) GROUP BY u.k`,
        values: [encodeNumberArray("int8", rk), encodeVectorBlocks(this.colbertType, this.shape.colbertOid, withRows.map((e) => ({ data: e.colbert.data, rows: e.colbert.tokens })), this.colbertDim)],
      });
    }
    return { added: chunk.length - old.length, replaced: old.length };
  }

  /** Removes documents by id (all their parts, in one statement); unknown ids are ignored and reported. */
  async delete(ids: string[], options: CallOptions = {}): Promise<DeleteResult> {
    this.checkOpen();
    checkSignal(options.signal, "delete");
    checkIds(ids, "ids");
    if (ids.length === 0) return { deleted: 0, notFound: [] };
    const gone = await this.transaction("delete", options.signal, async (c) => {
      const r = await M3PostgresBackend.query(c, { text: `DELETE FROM ${this.names.docs} WHERE id = ANY($1::text[]) RETURNING id`, values: [ids] });
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
    return this.transaction("deleteWhere", options.signal, async (c) => {
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
    await this.transaction("clear", options.signal, async (c) => {
      await c.query(`TRUNCATE ${n.sparse}, ${n.colbert}, ${n.docs}`);
    });
  }

  // ---- reads ----------------------------------------------------------------------------------------------

  async getDocuments(ids: string[], options: CallOptions & { dense?: boolean } = {}): Promise<((StoredDocument & { dense?: Float32Array }) | undefined)[]> {
    this.checkOpen();
    checkSignal(options.signal, "getDocuments");
    checkIds(ids, "ids");
    if (ids.length === 0) return [];
    const withDense = options.dense === true;
    const { value } = await this.withClient("getDocuments", (c) =>
      M3PostgresBackend.query(c, {
        text: `SELECT id, content, metadata::text AS metadata${withDense ? ", dense::text AS dense" : ""} FROM ${this.names.docs} WHERE id = ANY($1::text[])`,
        values: [[...new Set(ids)]],
      }),
    );
    checkSignal(options.signal, "getDocuments");
    const byId = new Map(value.rows.map((r) => [r.id!, r]));
    return ids.map((id) => {
      const r = byId.get(id);
      if (r === undefined) return undefined;
      const d: StoredDocument & { dense?: Float32Array } = { id, pageContent: r.content!, metadata: JSON.parse(r.metadata!) as Record<string, unknown> };
      if (withDense) d.dense = parseVectorText(r.dense!);
      return d;
    });
  }

  async count(filter?: AnyFilter): Promise<number> {
    this.checkOpen();
    const f = this.parseFilterChecked(filter);
    const p = new Params();
    const where = filterSql(f, p, "d.metadata");
    const { value } = await this.withClient("count", (c) =>
      M3PostgresBackend.query(c, { text: `SELECT count(*)::text AS n FROM ${this.names.docs} d WHERE ${where}`, values: p.values }),
    );
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
      const { value } = await this.withClient("documents", (c) => M3PostgresBackend.query(c, { text, values: p.values }));
      for (const r of value.rows) yield { id: r.id!, pageContent: r.content!, metadata: JSON.parse(r.metadata!) as Record<string, unknown> };
      if (value.rows.length < pageSize) return;
      after = value.rows[value.rows.length - 1]!.id!;
    }
  }

  /**
   * Candidates from the dense and sparse first stages in one statement (one round trip). When the deepest asked
   * depth covers every matching document, that is every matching id, with `exhaustive: true`. Timings: the one
   * statement's time is reported under `denseMs` (or `sparseMs` when only sparse was asked); `wireBytes` counts
   * the bytes received.
   */
  async candidates(query: M3Encoding, request: CandidateRequest): Promise<CandidatePool> {
    this.checkOpen();
    if (request === null || typeof request !== "object" || request.depth === null || typeof request.depth !== "object") {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `candidates needs { depth: { dense?, sparse? }, filter? }; got ${describe(request)}.`);
    }
    checkSignal(request.signal, "The candidate search");
    const depth = {
      dense: checkInt("depth.dense", request.depth.dense ?? 0, 0, 1_000_000_000),
      sparse: checkInt("depth.sparse", request.depth.sparse ?? 0, 0, 1_000_000_000),
    };
    const need = new Set<string>();
    if (depth.dense > 0) need.add("dense");
    if (depth.sparse > 0) need.add("sparse");
    const q = checkQuery(query, need, this.denseDim, this.colbertDim);
    const f = this.parseFilterChecked(request.filter);
    const st = candidatesStatement(this.shape, q, depth, f, this.efSearch);
    const t0 = performance.now();
    const { value, received } = await this.withClient("The candidate search", (c) => M3PostgresBackend.query(c, st));
    const ms = performance.now() - t0;
    checkSignal(request.signal, "The candidate search");
    const matching = Number(value.rows[0]!.n);
    const deep = Math.max(depth.dense, depth.sparse);
    const ids = value.rows.slice(1).map((r) => r.id!);
    const stats: CandidatePool["stats"] = { filterMs: 0, denseMs: depth.dense > 0 ? ms : 0, sparseMs: depth.dense > 0 ? 0 : ms };
    if (received !== undefined) stats.wireBytes = received;
    if (matching <= deep) return { ids, exhaustive: true, matching, stats };
    return { ids, exhaustive: false, stats };
  }

  /** Exact dense, sparse and ColBERT scores of `ids`, computed in the database in one statement. */
  async scoreCandidates(query: M3Encoding, ids: string[], modes: ReadonlySet<SearchMode>, options: CallOptions = {}): Promise<ScoredCandidates> {
    this.checkOpen();
    checkSignal(options.signal, "The candidate scoring");
    checkIds(ids, "ids");
    if (modes === null || typeof modes !== "object" || typeof (modes as Set<string>).has !== "function") {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `modes must be a Set of "dense", "sparse", "colbert"; got ${describe(modes)}.`);
    }
    const q = checkQuery(query, modes, this.denseDim, this.colbertDim);
    const want = { dense: modes.has("dense"), sparse: modes.has("sparse"), colbert: modes.has("colbert") };
    const unique = [...new Set(ids)];
    if (unique.length === 0) return { docs: [], scores: [], stats: { scoreMs: 0, colbertMs: 0 } };
    const st = scoresStatement(this.shape, q, unique, want);
    const t0 = performance.now();
    const { value, received } = await this.withClient("The candidate scoring", (c) => M3PostgresBackend.query(c, st));
    const ms = performance.now() - t0;
    checkSignal(options.signal, "The candidate scoring");
    const byId = new Map(value.rows.map((r) => [r.id!, r]));
    const docs: StoredDocument[] = [];
    const scores: ModeScores[] = [];
    const nq = q.colbert?.tokens ?? 0;
    for (const id of unique) {
      const r = byId.get(id);
      if (r === undefined) continue;
      docs.push({ id, pageContent: r.content!, metadata: JSON.parse(r.metadata!) as Record<string, unknown> });
      const s: ModeScores = {};
      if (want.dense) s.dense = Number(r.dense);
      if (want.sparse) s.sparse = r.sparse === undefined || r.sparse === null ? 0 : Number(r.sparse);
      if (want.colbert) s.colbert = r.colbert === undefined || r.colbert === null || nq === 0 ? 0 : Math.fround(Number(r.colbert) / nq);
      scores.push(s);
    }
    const stats: ScoredCandidates["stats"] = { scoreMs: ms, colbertMs: 0 };
    if (received !== undefined) stats.wireBytes = received;
    return { docs, scores, stats };
  }

  /** Counts and sizes: `bytes` has docs (table, TOAST and indexes but the HNSW one), dense (the HNSW index), sparse, colbert. */
  async info(): Promise<BackendInfo> {
    this.checkOpen();
    const n = this.names;
    const { value } = await this.withClient("info", (c) =>
      M3PostgresBackend.query(c, {
        text:
          `SELECT (SELECT count(*) FROM ${n.docs})::text AS n, pg_total_relation_size(to_regclass($1::text))::text AS docs, ` +
          "pg_relation_size(to_regclass($2::text))::text AS hnsw, pg_total_relation_size(to_regclass($3::text))::text AS sparse, " +
          "pg_total_relation_size(to_regclass($4::text))::text AS colbert",
        values: [n.docs, n.hnsw, n.sparse, n.colbert],
      }),
    );
    const r = value.rows[0]!;
    const hnsw = Number(r.hnsw);
    return {
      kind: this.kind,
      fingerprint: { ...this.fingerprint },
      documents: Number(r.n),
      denseDim: this.denseDim,
      colbertDim: this.colbertDim,
      location: `${this.where} table ${this.table}`,
      bytes: { docs: Number(r.docs) - hnsw, dense: hnsw, sparse: Number(r.sparse), colbert: Number(r.colbert) },
    };
  }

  /**
   * Waits for calls in flight, then ends the pool if the backend made it (from `connectionString`). A pool passed
   * in by the caller is left open: the caller ends it.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.inflight]);
    if (this.ownsPool) await this.pool.end().catch(() => undefined);
  }
}
