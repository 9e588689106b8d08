/**
 * A PGlite + pgvector server in its own process, for bench/postgres.ts (so the server's work runs beside the
 * client's, as with a real server). Prints "listening postgres://..." once ready; SIGTERM closes it.
 *
 *   npx tsx bench/pglite-serve.ts [--data-dir <dir>]   (no --data-dir: in memory)
 */
import net from "node:net";
import { PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite-pgvector";
import { parseArgs } from "./lib/machine.js";
import { servePGlite } from "./lib/pglite-server.js";

const args = parseArgs(process.argv.slice(2));
const dataDir = typeof args["data-dir"] === "string" ? args["data-dir"] : undefined;
const db = await PGlite.create({ ...(dataDir ? { dataDir } : {}), extensions: { vector } });
const server = servePGlite(db);
await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
const port = (server.address() as net.AddressInfo).port;
process.stdout.write(`listening postgres://postgres:postgres@127.0.0.1:${port}/postgres\n`);
const stop = async () => {
  server.close();
  await db.close();
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());
