/** Connecting: pools, pgvector, the collection (created, checked or migrated), and the read replica's checks. */
import pg from "pg";
import { ErrorCodes, M3Error } from "../errors.js";
import { PgColbert } from "./colbert.js";
import type { Shape } from "./candidates-sql.js";
import { extensionError, pgError } from "./errors.js";
import { migrateV1 } from "./migrate.js";
import { resolvePgOptions, type M3PostgresOptions, type ResolvedPgOptions } from "./options.js";
import { checkReplica, ReadRouter } from "./replica.js";
import { namesOf } from "./names.js";
import { openCollection } from "./schema.js";
import { Session } from "./session.js";

export function locationOf(connectionString: string | undefined, pool: pg.Pool): string {
  const opts = (pool as unknown as { options?: { connectionString?: string; host?: string; port?: number; database?: string } }).options ?? {};
  const cs = connectionString ?? opts.connectionString;
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

/** Returns pgvector's version, creating the extension when it is missing and allowed. */
async function ensureVector(client: pg.PoolClient, o: ResolvedPgOptions, where: string): Promise<string> {
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
  if (v === undefined || !versionAtLeast(v, 0, 7)) {
    throw new M3Error(ErrorCodes.BACKEND_ERROR, `pgvector ${v ?? "(unknown version)"} at ${where} is too old: the backend needs 0.7 or newer (halfvec). Run ALTER EXTENSION vector UPDATE after upgrading pgvector on the server.`);
  }
  return v;
}

export interface Parts {
  o: ResolvedPgOptions;
  shape: Shape;
  router: ReadRouter;
  colbert: PgColbert;
  /** Pools the backend made (ended by close). */
  owned: { primary: boolean; replica: boolean };
}

async function connectClient(pool: pg.Pool, where: string, what: string): Promise<pg.PoolClient> {
  try {
    return await pool.connect();
  } catch (err) {
    throw pgError(err, what, where);
  }
}

export async function connectParts(options: M3PostgresOptions): Promise<Parts> {
  const o = resolvePgOptions(options);
  const owned = { primary: options.pool === undefined, replica: options.readPool === undefined && options.readConnectionString !== undefined };
  const pool = options.pool ?? new pg.Pool({ connectionString: options.connectionString, max: o.poolSize });
  const warnIdle = (err: unknown) => o.logger.warn?.("postgres: an idle connection failed", { error: String(err) });
  if (owned.primary) pool.on("error", warnIdle);
  const readPool = options.readPool ?? (options.readConnectionString === undefined ? undefined : new pg.Pool({ connectionString: options.readConnectionString, max: o.poolSize }));
  if (owned.replica) readPool!.on("error", warnIdle);
  const where = locationOf(options.connectionString, pool);
  const readWhere = readPool === undefined ? undefined : locationOf(options.readConnectionString, readPool);
  try {
    const client = await connectClient(pool, where, "Connecting");
    let shape: Shape;
    let seed: number;
    try {
      const ext = await ensureVector(client, o, where);
      const names = namesOf(o.table);
      const meta = await openCollection(client, names, o, (c, m) => migrateV1(c, names, o, m)).catch((err) => {
        throw pgError(err, `Opening the collection "${o.table}"`, where);
      });
      seed = meta.sketchSeed;
      if (meta.created) o.logger.info?.(`postgres: created the collection "${o.table}"`, { where });
      const server = (await client.query<{ v: string; wasm: boolean }>("SELECT to_regtype('vector')::oid::text AS v, version() ~* 'emscripten|wasm' AS wasm")).rows[0]!;
      const oid = server.v;
      shape = {
        names, denseDim: meta.denseDim, colbertDim: meta.colbertDim, denseType: meta.denseType, colbertCodec: meta.colbertCodec,
        sketchDim: meta.sketchDim, vectorOid: Number(oid), iterative: versionAtLeast(ext, 0, 8),
        // PGlite is one session however many connections its socket server takes: names would collide there.
        prepare: o.preparedStatements && !server.wasm,
      };
      if (readPool !== undefined) {
        const rc = await connectClient(readPool, readWhere!, "Connecting to the read replica");
        try {
          await checkReplica(client, rc, names.meta, o.table, readWhere!).catch((err) => {
            throw pgError(err, "Checking the read replica", readWhere!);
          });
          rc.release();
        } catch (err) {
          rc.release(true);
          throw err;
        }
      }
      client.release();
    } catch (err) {
      client.release(true);
      throw pgError(err, "Connecting", where);
    }
    const primary = new Session(pool, where, `collection "${o.table}"`, o.logger);
    const replica = readPool === undefined ? undefined : new Session(readPool, readWhere!, `collection "${o.table}", read replica`, o.logger);
    const router = new ReadRouter(primary, replica, o);
    return { o, shape, router, colbert: new PgColbert(shape.colbertDim, shape.colbertCodec, shape.sketchDim, seed), owned };
  } catch (err) {
    if (owned.primary) await pool.end().catch(() => undefined);
    if (owned.replica) await readPool!.end().catch(() => undefined);
    throw err;
  }
}
