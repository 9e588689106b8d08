/**
 * A bulk load in the caller's transaction: into an empty collection the secondary indexes are dropped (under
 * an ACCESS EXCLUSIVE lock, so other sessions wait rather than see a collection without them), every batch is
 * written with the multi-row statements of writes.ts, and the indexes are built once at the end with a larger
 * `maintenance_work_mem` (pgvector builds an HNSW graph in memory far faster than it inserts into one).
 */
import type pg from "pg";
import type { BackendEntry } from "../backend/types.js";
import { checkSignal } from "../backend/validate.js";
import type { Shape } from "./candidates-sql.js";
import type { PgColbert } from "./colbert.js";
import { dropSecondaryIndexSql, secondaryIndexSql } from "./schema.js";
import { checkEntries, chunksOf, writeChunk } from "./writes.js";

export interface BulkLoadResult {
  added: number;
  replaced: number;
  /** True when the collection was empty and its indexes were built after the load. */
  indexesRebuilt: boolean;
  /** Milliseconds spent building the indexes (0 when they were kept up to date). */
  indexMs: number;
}

export async function bulkLoad(
  c: pg.PoolClient,
  s: Shape,
  colbert: PgColbert,
  batches: Iterable<BackendEntry[]> | AsyncIterable<BackendEntry[]>,
  o: { signal: AbortSignal | undefined; maintenanceWorkMem: string },
): Promise<BulkLoadResult> {
  const n = s.names;
  await c.query(`LOCK TABLE ${n.docs}, ${n.sparse}, ${n.colbert} IN ACCESS EXCLUSIVE MODE`);
  const empty = (await c.query<{ e: boolean }>(`SELECT NOT EXISTS (SELECT 1 FROM ${n.docs}) AS e`)).rows[0]!.e;
  const h = (await c.query<{ h: string }>(`SELECT hnsw::text AS h FROM ${n.meta} WHERE id = 1`)).rows[0]!.h;
  if (empty) await c.query(dropSecondaryIndexSql(n));
  let added = 0;
  let replaced = 0;
  for await (const batch of batches) {
    checkSignal(o.signal, "bulkLoad");
    for (const chunk of chunksOf(checkEntries(batch, s, colbert), s.denseDim)) {
      const r = await writeChunk(c, s, chunk);
      added += r.added;
      replaced += r.replaced;
    }
  }
  checkSignal(o.signal, "bulkLoad");
  let indexMs = 0;
  if (empty) {
    const t = performance.now();
    await c.query(`SET LOCAL maintenance_work_mem = '${o.maintenanceWorkMem}'`);
    for (const sql of secondaryIndexSql(n, { denseDim: s.denseDim, denseType: s.denseType, hnsw: JSON.parse(h) as { m: number; efConstruction: number } })) await c.query(sql);
    indexMs = performance.now() - t;
  }
  return { added, replaced, indexesRebuilt: empty, indexMs };
}
