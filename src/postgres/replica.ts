/**
 * Read routing: with a read replica, reads run there and writes on the primary. A caller that asks for
 * read-your-writes gets reads that first wait (bounded) until the replica has replayed the WAL position of this
 * backend's last write. When the replica cannot serve a read (unreachable, or still behind past the bound) the
 * read runs on the primary with a logged warning, or rejects with BACKEND_UNAVAILABLE, by option.
 */
import type pg from "pg";
import { ErrorCodes, M3Error, isM3Error } from "../errors.js";
import type { Logger } from "../types.js";
import type { Measured, Session } from "./session.js";

export interface RouterOptions {
  readYourWrites: boolean;
  replicaWaitMs: number;
  replicaFailover: "primary" | "error";
  logger: Logger;
}

/** How often a read-your-writes read asks the replica how far it has replayed. */
const POLL_MS = 2;

export class ReadRouter {
  /** The primary's WAL position after this backend's last write (read-your-writes only). */
  private lastWrite: string | undefined;

  constructor(
    readonly primary: Session,
    readonly replica: Session | undefined,
    private readonly o: RouterOptions,
  ) {}

  /** Whether writes must report their WAL position (a replica and read-your-writes). */
  get tracksWrites(): boolean {
    return this.replica !== undefined && this.o.readYourWrites;
  }

  /** After a committed write (on its client): remembers the primary's WAL position. */
  async noteWrite(c: pg.PoolClient): Promise<void> {
    if (!this.tracksWrites) return;
    const r = await c.query<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn");
    this.lastWrite = r.rows[0]!.lsn;
  }

  /** Runs a read on the replica (waiting for this backend's writes when asked), failing over as configured. */
  async read<T>(what: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<Measured<T>> {
    const replica = this.replica;
    if (replica === undefined) return this.primary.withClient(what, fn);
    const lsn = this.o.readYourWrites ? this.lastWrite : undefined;
    try {
      return await replica.withClient(what, async (c) => {
        if (lsn !== undefined) await this.waitForReplay(c, lsn, what, replica.where);
        return fn(c);
      });
    } catch (err) {
      if (!isM3Error(err, ErrorCodes.BACKEND_UNAVAILABLE) || this.o.replicaFailover === "error") throw err;
      this.o.logger.warn?.(`postgres: the read replica cannot serve "${what}"; running it on the primary`, {
        replica: replica.where, primary: this.primary.where, reason: (err as M3Error).message,
      });
      return this.primary.withClient(what, fn);
    }
  }

  private async waitForReplay(c: pg.PoolClient, lsn: string, what: string, where: string): Promise<void> {
    const deadline = performance.now() + this.o.replicaWaitMs;
    for (;;) {
      const r = await c.query<{ ok: boolean; at: string | null }>("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok, pg_last_wal_replay_lsn()::text AS at", [lsn]);
      if (r.rows[0]!.ok === true) return;
      if (performance.now() >= deadline) {
        throw new M3Error(
          ErrorCodes.BACKEND_UNAVAILABLE,
          `${what}: the read replica at ${where} has replayed the primary's WAL up to ${r.rows[0]!.at ?? "nothing"}, short of this backend's last write (${lsn}), after ${this.o.replicaWaitMs} ms. ` +
            "Check the replica's replication (pg_stat_replication on the primary), raise replicaWaitMs, or use replicaFailover \"primary\" to read from the primary meanwhile.",
          { details: { reason: "replica-lag", replayed: r.rows[0]!.at, wanted: lsn, waitedMs: this.o.replicaWaitMs } },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
}

/** A replica must be a hot standby of the primary's cluster that holds the collection; else a typed error. */
export async function checkReplica(primary: pg.PoolClient, replica: pg.PoolClient, metaTable: string, table: string, where: string): Promise<void> {
  const r = (await replica.query<{ rec: boolean; sys: string | null; meta: string | null }>(
    "SELECT pg_is_in_recovery() AS rec, (SELECT system_identifier::text FROM pg_control_system()) AS sys, to_regclass($1::text)::text AS meta",
    [metaTable],
  )).rows[0]!;
  if (r.rec !== true) {
    throw new M3Error(
      ErrorCodes.INVALID_ARGUMENT,
      `The read replica at ${where} is not a replica: the server is a primary (pg_is_in_recovery() is false). Point readConnectionString/readPool at a hot standby of the primary, or leave it unset to read from the primary.`,
    );
  }
  const sys = (await primary.query<{ sys: string }>("SELECT system_identifier::text AS sys FROM pg_control_system()")).rows[0]!.sys;
  if (r.sys !== sys) {
    throw new M3Error(
      ErrorCodes.INVALID_ARGUMENT,
      `The read replica at ${where} replicates another cluster (system identifier ${r.sys ?? "unknown"}, the primary's is ${sys}). Point readConnectionString/readPool at a standby of this primary.`,
    );
  }
  if (r.meta === null) {
    throw new M3Error(
      ErrorCodes.NOT_FOUND,
      `The read replica at ${where} has no collection "${table}" (it may not have replayed its creation yet, or it serves another database). Check that the replica streams from this primary and database, then connect again.`,
    );
  }
}
