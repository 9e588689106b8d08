/**
 * Values on the wire. Vectors travel in Postgres' binary format (node-postgres sends a Buffer parameter as
 * binary; the server reads it with the type's receive function), which spares the server parsing decimal text:
 * pgvector's `vector` is int16 dim, int16 0, dim × float4 (big-endian); `halfvec` the same with binary16 values.
 * Arrays use the binary array format (ndim, flags, element type oid, [size, lower bound], then length + bytes).
 */
import { toHalfBits } from "../math/half.js";
import type { PgVectorType } from "./options.js";

export const OID = Object.freeze({ int4: 23, int8: 20, float4: 700, float8: 701, text: 25, bytea: 17 });

/** Bytes of one vector value in binary form (without the array's 4-byte length word). */
export function vectorBytes(type: PgVectorType, dim: number): number {
  return 4 + dim * (type === "vector" ? 4 : 2);
}

function writeVector(buf: Buffer, at: number, type: PgVectorType, v: Float32Array, from: number, dim: number): number {
  buf.writeInt16BE(dim, at);
  buf.writeInt16BE(0, at + 2);
  let o = at + 4;
  if (type === "vector") {
    for (let i = 0; i < dim; i++, o += 4) buf.writeFloatBE(v[from + i]!, o);
  } else {
    for (let i = 0; i < dim; i++, o += 2) buf.writeUInt16BE(toHalfBits(v[from + i]!), o);
  }
  return o;
}

/** One vector parameter (`$n::vector(dim)` / `$n::halfvec(dim)`). */
export function encodeVector(type: PgVectorType, v: Float32Array): Buffer {
  const buf = Buffer.allocUnsafe(vectorBytes(type, v.length));
  writeVector(buf, 0, type, v, 0, v.length);
  return buf;
}

function arrayHeader(buf: Buffer, elemOid: number, n: number): number {
  if (n === 0) {
    buf.writeInt32BE(0, 0);
    buf.writeInt32BE(0, 4);
    buf.writeUInt32BE(elemOid, 8);
    return 12;
  }
  buf.writeInt32BE(1, 0);
  buf.writeInt32BE(0, 4);
  buf.writeUInt32BE(elemOid, 8);
  buf.writeInt32BE(n, 12);
  buf.writeInt32BE(1, 16);
  return 20;
}

function headerBytes(n: number): number {
  return n === 0 ? 12 : 20;
}

/**
 * An array of vectors (`$n::vector(dim)[]`): `rows` rows of `dim` values taken from `data` (row-major), each
 * written as its own element. `elemOid` is the vector type's oid on this server.
 */
export function encodeVectorArray(type: PgVectorType, elemOid: number, data: Float32Array, rows: number, dim: number): Buffer {
  const one = vectorBytes(type, dim);
  const buf = Buffer.allocUnsafe(headerBytes(rows) + rows * (4 + one));
  let o = arrayHeader(buf, elemOid, rows);
  for (let r = 0; r < rows; r++) {
    buf.writeInt32BE(one, o);
    o = writeVector(buf, o + 4, type, data, r * dim, dim);
  }
  return buf;
}

/** Several vector blocks concatenated into one array (each block `rows × dim`, row-major). */
export function encodeVectorBlocks(type: PgVectorType, elemOid: number, blocks: { data: Float32Array; rows: number }[], dim: number): Buffer {
  let rows = 0;
  for (const b of blocks) rows += b.rows;
  const one = vectorBytes(type, dim);
  const buf = Buffer.allocUnsafe(headerBytes(rows) + rows * (4 + one));
  let o = arrayHeader(buf, elemOid, rows);
  for (const b of blocks) {
    for (let r = 0; r < b.rows; r++) {
      buf.writeInt32BE(one, o);
      o = writeVector(buf, o + 4, type, b.data, r * dim, dim);
    }
  }
  return buf;
}

/** `$n::int4[]`, `$n::int8[]`, `$n::float4[]` or `$n::float8[]` in binary form. */
export function encodeNumberArray(kind: "int4" | "int8" | "float4" | "float8", values: ArrayLike<number>): Buffer {
  const size = kind === "int4" || kind === "float4" ? 4 : 8;
  const buf = Buffer.allocUnsafe(headerBytes(values.length) + values.length * (4 + size));
  let o = arrayHeader(buf, OID[kind], values.length);
  for (let i = 0; i < values.length; i++) {
    buf.writeInt32BE(size, o);
    o += 4;
    const v = values[i]!;
    if (kind === "int4") buf.writeInt32BE(v, o);
    else if (kind === "int8") buf.writeBigInt64BE(BigInt(v), o);
    else if (kind === "float4") buf.writeFloatBE(v, o);
    else buf.writeDoubleBE(v, o);
    o += size;
  }
  return buf;
}

/** Parses pgvector's text form "[1,2.5,-3]" (vector or halfvec) into a Float32Array. */
export function parseVectorText(s: string): Float32Array {
  const body = s.trim().slice(1, -1);
  if (body.length === 0) return new Float32Array(0);
  const parts = body.split(",");
  const out = new Float32Array(parts.length);
  for (let i = 0; i < parts.length; i++) out[i] = Number(parts[i]);
  return out;
}

/** `$n::bytea[]` in binary form: each payload as one element. */
export function encodeByteaArray(payloads: readonly Uint8Array[]): Buffer {
  let bytes = headerBytes(payloads.length);
  for (const p of payloads) bytes += 4 + p.length;
  const buf = Buffer.allocUnsafe(bytes);
  let o = arrayHeader(buf, OID.bytea, payloads.length);
  for (const p of payloads) {
    buf.writeInt32BE(p.length, o);
    buf.set(p, o + 4);
    o += 4 + p.length;
  }
  return buf;
}
