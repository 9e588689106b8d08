/**
 * A real Postgres for the tests: PGlite (Postgres 18 compiled to WASM) with pgvector, served on 127.0.0.1 at a free
 * port, so the backend reaches it through `pg` over TCP exactly as it reaches any server. `M3_PG_URL`
 * (e.g. postgres://user:pass@host:5432/db) points the same tests at another server as well.
 *
 * Connections. PGlite is one single-threaded database session. @electric-sql/pglite-socket's server accepts
 * `maxConnections` clients (default 1; more are refused with "Too many connections") and multiplexes them onto that
 * session one protocol *message* at a time, holding other clients back only while one is inside an explicit
 * transaction. Two clients' extended-protocol queries (Parse, Bind, Execute, Sync) can then interleave in the one
 * session and clobber each other's unnamed statement and portal: with 0.2.17 a scoring query of one pool returned
 * 0 rows while another pool was deleting (test "two backends ..."). With `maxConnections: 1` it is safe, but then
 * two pools cannot be open at once. So this helper serves PGlite itself with the same PGlite calls
 * (`execProtocolRawStream` under `runExclusive`) and a coarser rule: a client holds the session from its first
 * message to the end of a Sync or simple Query, and for as long as it stays inside a transaction; a client that
 * disconnects inside a transaction is rolled back (as a real server does when a backend's connection drops). Any
 * number of clients may connect; their statements run one at a time. Session state (SET, prepared statements) is
 * still shared by all clients, which the backend does not rely on (its settings are transaction-local).
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

const ROOT = path.resolve(fileURLToPath(new URL(".", import.meta.url)), "../..");

export interface PgServer {
  url: string;
  host: string;
  port: number;
  /** Clients connected now. */
  readonly connections: number;
  stop(): Promise<void>;
}

const SSL_REQUEST = 80877103;
const GSS_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const SYNC = Buffer.from([0x53, 0, 0, 0, 4]);

/** Who holds the one PGlite session. */
class SessionGate {
  private owner: number | undefined;
  private waiters: (() => void)[] = [];
  async acquire(id: number): Promise<void> {
    while (this.owner !== undefined && this.owner !== id) await new Promise<void>((r) => this.waiters.push(r));
    this.owner = id;
  }
  release(id: number): void {
    if (this.owner !== id) return;
    this.owner = undefined;
    for (const w of this.waiters.splice(0)) w();
  }
  holds(id: number): boolean {
    return this.owner === id;
  }
}

function serve(db: PGlite): net.Server {
  const gate = new SessionGate();
  let nextId = 1;
  const exec = (msg: Uint8Array, out: (d: Uint8Array) => void) => db.runExclusive(() => db.execProtocolRawStream(msg, { onRawData: out }));
  return net.createServer((socket) => {
    const id = nextId++;
    let buf = Buffer.alloc(0);
    let typed = false; // framing: length-prefixed packets until the startup message, then typed messages
    let chain = Promise.resolve();
    const write = (d: Uint8Array) => {
      if (socket.writable) socket.write(Buffer.from(d));
    };
    const handle = async (msg: Buffer, startup: boolean) => {
      if (startup) {
        const code = msg.readInt32BE(4);
        if (code === SSL_REQUEST || code === GSS_REQUEST) return void write(Buffer.from("N"));
        if (code === CANCEL_REQUEST) return void socket.end();
      } else if (msg[0] === 0x58 /* X: Terminate */) {
        return void socket.end();
      }
      await gate.acquire(id);
      await exec(msg, write);
      const unitEnds = startup || msg[0] === 0x53 /* S: Sync */ || msg[0] === 0x51; /* Q: simple Query */
      if (unitEnds && !db.isInTransaction()) gate.release(id);
    };
    socket.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        let len: number;
        if (!typed) {
          if (buf.length < 8) break;
          len = buf.readInt32BE(0);
        } else {
          if (buf.length < 5) break;
          len = 1 + buf.readInt32BE(1);
        }
        if (buf.length < len) break;
        const msg = Buffer.from(buf.subarray(0, len));
        buf = buf.subarray(len);
        const startup = !typed;
        if (startup && msg.readInt32BE(4) !== SSL_REQUEST && msg.readInt32BE(4) !== GSS_REQUEST) typed = true;
        chain = chain.then(() => handle(msg, startup)).catch(() => void socket.destroy());
      }
    });
    socket.on("error", () => socket.destroy());
    socket.on("close", () => {
      chain = chain.then(async () => {
        if (!gate.holds(id)) return;
        await exec(SYNC, () => undefined).catch(() => undefined);
        if (db.isInTransaction()) await db.exec("ROLLBACK").catch(() => undefined);
        gate.release(id);
      });
    });
  });
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
  const server = serve(db);
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
