/**
 * A real Postgres for the tests: PGlite (Postgres 18 compiled to WASM) with pgvector, served on 127.0.0.1 at a free
 * port, so the backend reaches it through `pg` over TCP exactly as it reaches any server. `M3_PG_URL`
 * (e.g. postgres://user:pass@host:5432/db) points the same tests at another server as well.
 *
 * Connections: PGlite is one single-threaded session; bench/lib/pglite-server.ts serves it so that any number of
 * clients can connect, each client's protocol units (up to Sync) and transactions running whole, one at a time
 * (@electric-sql/pglite-socket interleaves concurrent extended queries; see there). Session state (SET, prepared
 * statements) is shared by all clients, which the backend does not rely on (its settings are transaction-local).
 *
 * `startCutProxy` sits between a client and the server and can drop every connection once a number of bytes has
 * gone from the clients to the server: a connection lost in the middle of a statement.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite-pgvector";
import pg from "pg";
import { servePGlite } from "../../bench/lib/pglite-server.js";

const ROOT = path.resolve(fileURLToPath(new URL(".", import.meta.url)), "../..");

export interface PgServer {
  url: string;
  host: string;
  port: number;
  /** Clients connected now. */
  readonly connections: number;
  stop(): Promise<void>;
}

/**
 * A fresh PGlite. Creating one runs initdb (10-20 s on a busy 2-core machine); the freshly initialised data
 * directory is kept as a tarball in the OS temp folder (keyed by the PGlite version) and later servers start
 * from it (a few seconds).
 */
async function freshPGlite(withVector: boolean): Promise<PGlite> {
  const extensions = withVector ? { extensions: { vector } } : {};
  const version = (JSON.parse(readFileSync(path.join(ROOT, "node_modules/@electric-sql/pglite/package.json"), "utf8")) as { version: string }).version;
  const cache = path.join(tmpdir(), `langchain-m3-pglite-${version}-initdb.tar`);
  if (existsSync(cache)) {
    try {
      return await PGlite.create({ ...extensions, loadDataDir: new Blob([readFileSync(cache)]) });
    } catch {
      // a damaged cache: start from initdb below
    }
  }
  const db = await PGlite.create(extensions);
  try {
    const dump = await db.dumpDataDir("none");
    const tmp = `${cache}.${process.pid}`;
    writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()));
    renameSync(tmp, cache);
  } catch {
    // no cache this time
  }
  return db;
}

/** Starts PGlite (with pgvector unless `vector: false`) served on 127.0.0.1:<free port>. */
export async function startPgServer(options: { vector?: boolean } = {}): Promise<PgServer> {
  const db = await freshPGlite(options.vector !== false);
  const server = servePGlite(db);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const sockets = new Set<net.Socket>();
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  return {
    host: "127.0.0.1",
    port,
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    get connections() {
      return sockets.size;
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await db.close();
    },
  };
}

/** The external server of `M3_PG_URL`, when set. */
export function externalPgUrl(): string | undefined {
  const u = process.env.M3_PG_URL;
  return u !== undefined && u.length > 0 ? u : undefined;
}

let tableSeq = 0;
/** A collection name no other test (or earlier run against M3_PG_URL) uses. */
export function freshTable(prefix = "t"): string {
  tableSeq++;
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${tableSeq}`.slice(0, 48);
}

/** Drops a collection's tables (for runs against a persistent server). */
export async function dropCollection(url: string, table: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    for (const suffix of ["_sparse", "_colbert", "_meta", ""]) await c.query(`DROP TABLE IF EXISTS "${table}${suffix}" CASCADE`);
  } finally {
    await c.end();
  }
}

/** A port with nothing listening on it (a server that is down). */
export async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface CutProxy {
  url: string;
  /** Drops every open connection once `bytes` more bytes have gone from the clients to the server. */
  cutAfter(bytes: number): void;
  /** Bytes the clients sent so far. */
  readonly sent: number;
  close(): Promise<void>;
}

/** A TCP proxy to `target` that can cut the connections mid-stream. */
export async function startCutProxy(target: PgServer): Promise<CutProxy> {
  const sockets = new Set<net.Socket>();
  let sent = 0;
  let cutAt = Infinity;
  const cutAll = () => {
    for (const s of sockets) s.destroy();
    sockets.clear();
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
    client.on("data", (chunk: Buffer) => {
      if (sent + chunk.length >= cutAt) {
        const keep = Math.max(0, cutAt - sent);
        sent = cutAt;
        cutAt = Infinity;
        upstream.write(chunk.subarray(0, keep), () => cutAll());
        return;
      }
      sent += chunk.length;
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("close", end);
    upstream.on("close", end);
    client.on("error", end);
    upstream.on("error", end);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    cutAfter(bytes) {
      cutAt = sent + bytes;
    },
    get sent() {
      return sent;
    },
    async close() {
      cutAll();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
