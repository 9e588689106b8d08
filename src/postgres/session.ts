/**
 * Pool plumbing shared by the primary and a read replica: a pooled client per call with its received / sent
 * byte counts, statements with raw text results (whatever type parsers the application installed on `pg`) and
 * node-postgres' per-connection prepared statements, and transactions retried whole on deadlock / serialization
 * failure.
 */
import { createHash } from "node:crypto";
import pg from "pg";
import { checkSignal } from "../backend/validate.js";
import { ErrorCodes, M3Error } from "../errors.js";
import type { Logger } from "../types.js";
import type { Statement } from "./candidates-sql.js";
import { isRetryable, pgError } from "./errors.js";

/** Results come back as the server's text, whatever type parsers the application installed on `pg`. */
const RAW_TYPES = { getTypeParser: () => (v: string) => v };
const RETRIES = 3;

export interface Row {
  [column: string]: string | null;
}

/** Counts bytes a pooled client's socket received and sent (node-postgres keeps the socket at `connection.stream`). */
function socketOf(client: pg.PoolClient): { bytesRead: number; bytesWritten: number } | undefined {
  const s = (client as unknown as { connection?: { stream?: { bytesRead?: unknown; bytesWritten?: unknown } } }).connection?.stream;
  return s !== undefined && typeof s.bytesRead === "number" && typeof s.bytesWritten === "number" ? (s as { bytesRead: number; bytesWritten: number }) : undefined;
}

/** A prepared-statement name for a statement text (node-postgres prepares a named statement once per connection). */
export function preparedName(text: string): string {
  return `m3-${createHash("sha1").update(text).digest("hex").slice(0, 24)}`;
}

export function runStatement(c: pg.PoolClient, s: Statement): Promise<pg.QueryResult<Row>> {
  const config: pg.QueryConfig & { types: unknown } = { text: s.text, values: s.values, types: RAW_TYPES };
  if (s.name !== undefined) config.name = s.name;
  return c.query<Row>(config as pg.QueryConfig);
}

export interface Measured<T> {
  value: T;
  received?: number;
  sent?: number;
}

export class Session {
  private readonly inflight = new Set<Promise<unknown>>();
  closed = false;

  constructor(
    readonly pool: pg.Pool,
    readonly where: string,
    private readonly label: string,
    private readonly logger: Logger,
  ) {}

  checkOpen(): void {
    if (this.closed) throw new M3Error(ErrorCodes.DISPOSED, `This Postgres backend (${this.label}) was closed; connect again to use it.`);
  }

  /** Runs `fn` on a pooled client; returns its value and the bytes the socket received / sent meanwhile. */
  async withClient<T>(what: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<Measured<T>> {
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

  /** One statement on a pooled client. */
  run(what: string, s: Statement): Promise<Measured<pg.QueryResult<Row>>> {
    return this.withClient(what, (c) => runStatement(c, s));
  }

  /** One transaction; retried whole on deadlock / serialization failure. The signal is checked before COMMIT. */
  async transaction<T>(what: string, signal: AbortSignal | undefined, fn: (c: pg.PoolClient) => Promise<T>, after?: (c: pg.PoolClient) => Promise<void>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return (
          await this.withClient(what, async (c) => {
            await c.query("BEGIN");
            let v: T;
            try {
              v = await fn(c);
              checkSignal(signal, what);
              await c.query("COMMIT");
            } catch (err) {
              await c.query("ROLLBACK").catch(() => undefined);
              throw err;
            }
            if (after !== undefined) await after(c);
            return v;
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

  /** Waits for calls in flight; ends the pool when `own`. */
  async close(own: boolean): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.inflight]);
    if (own) await this.pool.end().catch(() => undefined);
  }
}
