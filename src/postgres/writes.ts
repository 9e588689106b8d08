/**
 * The write statements: documents, postings and ColBERT payloads of a chunk in three multi-row statements with
 * binary array parameters (one `unnest` each), in a transaction the caller holds. Rows are locked in id order
 * (the same in every process), so two writers cannot deadlock on each other.
 */
import type pg from "pg";
import type { BackendEntry, UpsertResult } from "../backend/types.js";
import { checkDocEncoding, checkId, checkMetadata } from "../backend/validate.js";
import { ErrorCodes, M3Error } from "../errors.js";
import type { SparseVector } from "../types.js";
import { describe } from "../util/validate.js";
import type { Shape } from "./candidates-sql.js";
import type { EncodedColbert, PgColbert } from "./colbert.js";
import { runStatement } from "./session.js";
import { encodeByteaArray, encodeNumberArray, encodeVectorBlocks } from "./wire.js";

/** A batch statement carries at most this many bytes (one upsert call may hold several). */
const CHUNK_BYTES = 16 << 20;
const CHUNK_DOCS = 500;

export interface CheckedEntry {
  id: string;
  pageContent: string;
  metadata: string;
  dense: Float32Array;
  sparse: SparseVector;
  colbert: EncodedColbert;
}

function normalised(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  const n = Math.max(Math.sqrt(s), 1e-12);
  return Float32Array.from(v, (x) => x / n);
}

/** Checks entries (a repeated id keeps the last), encodes their ColBERT rows; sorted by id. */
export function checkEntries(entries: BackendEntry[], s: Shape, colbert: PgColbert): CheckedEntry[] {
  if (!Array.isArray(entries)) throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `upsert expects an array of entries; got ${describe(entries)}.`);
  const last = new Map<string, BackendEntry & { json: string; at: string }>();
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
    last.delete(id);
    last.set(id, { ...e, id, json, at: where });
  });
  const out: CheckedEntry[] = [];
  for (const e of last.values()) {
    const enc = checkDocEncoding(e.encoding, s.denseDim, s.colbertDim, `${e.at}.encoding`);
    const terms = enc.sparse.indices;
    if (terms.length > 0 && terms[terms.length - 1]! > 0x7fffffff) {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `${e.at}.encoding.sparse has token id ${terms[terms.length - 1]}; the postgres backend stores ids up to 2147483647.`);
    }
    out.push({ id: e.id, pageContent: e.pageContent, metadata: e.json, dense: normalised(enc.dense), sparse: enc.sparse, colbert: colbert.encode(enc.colbert) });
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Entries in chunks of at most CHUNK_DOCS documents and about CHUNK_BYTES bytes. */
export function chunksOf(checked: CheckedEntry[], denseDim: number): CheckedEntry[][] {
  const chunks: CheckedEntry[][] = [];
  let cur: CheckedEntry[] = [];
  let bytes = 0;
  for (const e of checked) {
    const b = 4 * denseDim + 12 * e.sparse.indices.length + e.colbert.rows.length + e.colbert.sketch.length + 2 * (e.pageContent.length + e.metadata.length);
    if (cur.length > 0 && (bytes + b > CHUNK_BYTES || cur.length >= CHUNK_DOCS)) {
      chunks.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(e);
    bytes += b;
  }
  if (cur.length > 0) chunks.push(cur);
  return chunks;
}

/** Upserts one chunk: documents (keeping a replaced document's key), then its postings and ColBERT payloads. */
export async function writeChunk(c: pg.PoolClient, s: Shape, chunk: CheckedEntry[]): Promise<UpsertResult> {
  const n = s.names;
  const D = s.denseDim;
  const S = s.sketchDim;
  const dense = encodeVectorBlocks("vector", s.vectorOid, chunk.map((e) => ({ data: e.dense, rows: 1 })), D);
  const mean = encodeVectorBlocks("vector", s.vectorOid, chunk.map((e) => ({ data: e.colbert.mean, rows: 1 })), S);
  const ins = await runStatement(c, {
    text:
      `INSERT INTO ${n.docs} (id, content, metadata, dense, mean) ` +
      `SELECT u.id, u.content, u.metadata, u.dense, u.mean FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::vector(${D})[], $5::vector(${S})[]) AS u(id, content, metadata, dense, mean) ` +
      "ON CONFLICT (id) DO UPDATE SET content = EXCLUDED.content, metadata = EXCLUDED.metadata, dense = EXCLUDED.dense, mean = EXCLUDED.mean " +
      "RETURNING id, key::text AS key, (xmax = 0)::text AS inserted",
    values: [chunk.map((e) => e.id), chunk.map((e) => e.pageContent), chunk.map((e) => e.metadata), dense, mean],
  });
  const keyOf = new Map<string, number>();
  const old: number[] = [];
  for (const row of ins.rows) {
    keyOf.set(row.id!, Number(row.key));
    if (row.inserted !== "true") old.push(Number(row.key));
  }
  if (old.length > 0) await c.query({ text: `DELETE FROM ${n.sparse} WHERE key = ANY($1::int8[])`, values: [encodeNumberArray("int8", old)] });
  let postings = 0;
  for (const e of chunk) postings += e.sparse.indices.length;
  if (postings > 0) {
    const pk = new Float64Array(postings);
    const pt = new Int32Array(postings);
    const pw = new Float32Array(postings);
    let o = 0;
    for (const e of chunk) {
      pk.fill(keyOf.get(e.id)!, o, o + e.sparse.indices.length);
      pt.set(e.sparse.indices, o);
      pw.set(e.sparse.values, o);
      o += e.sparse.indices.length;
    }
    await c.query({
      text: `INSERT INTO ${n.sparse} (key, term, weight) SELECT * FROM unnest($1::int8[], $2::int4[], $3::float4[])`,
      values: [encodeNumberArray("int8", pk), encodeNumberArray("int4", pt), encodeNumberArray("float4", pw)],
    });
  }
  await c.query({
    text:
      `INSERT INTO ${n.colbert} (key, tokens, sketch, rows) SELECT * FROM unnest($1::int8[], $2::int4[], $3::bytea[], $4::bytea[]) ` +
      "ON CONFLICT (key) DO UPDATE SET tokens = EXCLUDED.tokens, sketch = EXCLUDED.sketch, rows = EXCLUDED.rows",
    values: [
      encodeNumberArray("int8", chunk.map((e) => keyOf.get(e.id)!)),
      encodeNumberArray("int4", chunk.map((e) => e.colbert.tokens)),
      encodeByteaArray(chunk.map((e) => e.colbert.sketch)),
      encodeByteaArray(chunk.map((e) => e.colbert.rows)),
    ],
  });
  return { added: chunk.length - old.length, replaced: old.length };
}
