/**
 * PGlite (Postgres compiled to WASM) served over TCP, for the tests and the Postgres benchmark: clients reach it with
 * `pg` like any server.
 *
 * PGlite is one single-threaded database session. @electric-sql/pglite-socket's server (0.2.17) multiplexes its
 * clients onto that session one protocol *message* at a time, holding the others back only while one is inside an
 * explicit transaction, so two clients' extended-protocol queries (Parse, Bind, Execute, Sync) can interleave and
 * clobber each other's unnamed statement and portal (seen: a scoring query of one pool returned 0 rows while another
 * pool was deleting, 3 runs out of 3). This server uses the same PGlite calls (`execProtocolRawStream` under
 * `runExclusive`) with a coarser rule: a client holds the session from its first message to the end of a Sync or
 * simple Query, and for as long as it stays inside a transaction; a client that disconnects inside a transaction
 * is rolled back (as a real server does when a backend's connection drops). Any number of clients may connect;
 * their statements run one at a time. Session state (SET, prepared statements) is shared by all clients.
 */
import net from "node:net";
import type { PGlite } from "@electric-sql/pglite";

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

/** A TCP server (not yet listening) for `db`. */
export function servePGlite(db: PGlite): net.Server {
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

