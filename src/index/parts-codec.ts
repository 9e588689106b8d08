/**
 * Binary layouts of the index files (little-endian, 4-byte aligned). Vectors are raw
 * float32; document records are length-prefixed UTF-8 JSON (text and metadata, no vectors).
 *
 * docs:   "M3DC" u32 version, u32 slots, then per slot u32 byteLength (0xffffffff = free) + JSON [id, pageContent, metadata], padded to 4
 * dense:  "M3DV" u32 version, u32 slots, u32 dim, then f32[slots * dim]
 * sparse: "M3SP" u32 version, u32 slots, u32 nnzTotal, u32 nnz[slots], u32 indices[nnzTotal], f32 values[nnzTotal]
 */
import { ErrorCodes, M3Error } from "../errors.js";
import type { SparseVector } from "../types.js";
import type { IndexedDocument } from "./docs.js";

const VERSION = 1;
const FREE = 0xffffffff;
/** "M3DC", "M3DV", "M3SP" read as little-endian u32. */
const MAGIC = { docs: 0x4344334d, dense: 0x5644334d, sparse: 0x5053334d } as const;

function corrupt(file: string, what: string): M3Error {
  return new M3Error(ErrorCodes.INDEX_CORRUPT, `Index file ${file} is corrupt: ${what}. Restore the index directory from a backup or rebuild it.`, { details: { file } });
}

function header(magic: number, ...fields: number[]): Uint32Array {
  return Uint32Array.from([magic, VERSION, ...fields]);
}

function u8(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Copies `len` u32/f32 values out of `buf` at `off` (copy keeps alignment independent of the Buffer pool). */
function u32At(buf: Uint8Array, off: number, len: number): Uint32Array {
  return new Uint32Array(buf.slice(off, off + len * 4).buffer);
}
function f32At(buf: Uint8Array, off: number, len: number): Float32Array {
  return new Float32Array(buf.slice(off, off + len * 4).buffer);
}

export function encodeDocs(bySlot: (IndexedDocument | undefined)[]): Uint8Array {
  const parts: Uint8Array[] = [u8(header(MAGIC.docs, bySlot.length))];
  const enc = new TextEncoder();
  for (const d of bySlot) {
    if (d === undefined) {
      parts.push(u8(Uint32Array.of(FREE)));
      continue;
    }
    const json = enc.encode(JSON.stringify([d.id, d.pageContent, d.metadata]));
    const padded = new Uint8Array(4 + Math.ceil(json.length / 4) * 4);
    new DataView(padded.buffer).setUint32(0, json.length, true);
    padded.set(json, 4);
    parts.push(padded);
  }
  return concat(parts);
}

export function decodeDocs(buf: Uint8Array, file: string): (IndexedDocument | undefined)[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.byteLength < 12 || dv.getUint32(0, true) !== MAGIC.docs) throw corrupt(file, "bad header");
  if (dv.getUint32(4, true) !== VERSION) throw corrupt(file, `unsupported version ${dv.getUint32(4, true)}`);
  const slots = dv.getUint32(8, true);
  const out: (IndexedDocument | undefined)[] = new Array(slots);
  const dec = new TextDecoder("utf-8", { fatal: true });
  let off = 12;
  for (let s = 0; s < slots; s++) {
    if (off + 4 > buf.byteLength) throw corrupt(file, "truncated");
    const len = dv.getUint32(off, true);
    off += 4;
    if (len === FREE) {
      out[s] = undefined;
      continue;
    }
    if (off + len > buf.byteLength) throw corrupt(file, "truncated");
    let rec: unknown;
    try {
      rec = JSON.parse(dec.decode(buf.subarray(off, off + len)));
    } catch {
      throw corrupt(file, `record of slot ${s} is not valid JSON`);
    }
    if (!Array.isArray(rec) || typeof rec[0] !== "string" || typeof rec[1] !== "string" || typeof rec[2] !== "object" || rec[2] === null) {
      throw corrupt(file, `record of slot ${s} has the wrong shape`);
    }
    out[s] = { id: rec[0], pageContent: rec[1], metadata: rec[2] as Record<string, unknown> };
    off += Math.ceil(len / 4) * 4;
  }
  if (off !== buf.byteLength) throw corrupt(file, "trailing bytes");
  return out;
}

export function encodeDense(vectors: Float32Array, slots: number, dim: number): Uint8Array {
  return concat([u8(header(MAGIC.dense, slots, dim)), u8(vectors.subarray(0, slots * dim))]);
}

export function decodeDense(buf: Uint8Array, file: string): { slots: number; dim: number; vectors: Float32Array } {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.byteLength < 16 || dv.getUint32(0, true) !== MAGIC.dense || dv.getUint32(4, true) !== VERSION) throw corrupt(file, "bad header");
  const slots = dv.getUint32(8, true);
  const dim = dv.getUint32(12, true);
  if (buf.byteLength !== 16 + slots * dim * 4) throw corrupt(file, "size does not match its header");
  // A view when aligned (the buffer came from one file read and nothing else holds it), else a copy.
  const at = buf.byteOffset + 16;
  const vectors = at % 4 === 0 ? new Float32Array(buf.buffer, at, slots * dim) : f32At(buf, 16, slots * dim);
  return { slots, dim, vectors };
}

export function encodeSparse(bySlot: (SparseVector | undefined)[], slots: number): Uint8Array {
  const nnz = new Uint32Array(slots);
  let total = 0;
  for (let s = 0; s < slots; s++) total += nnz[s] = bySlot[s]?.indices.length ?? 0;
  const indices = new Uint32Array(total);
  const values = new Float32Array(total);
  let o = 0;
  for (let s = 0; s < slots; s++) {
    const v = bySlot[s];
    if (v === undefined) continue;
    indices.set(v.indices, o);
    values.set(v.values, o);
    o += v.indices.length;
  }
  return concat([u8(header(MAGIC.sparse, slots, total)), u8(nnz), u8(indices), u8(values)]);
}

export function decodeSparse(buf: Uint8Array, file: string): { slots: number; vectors: SparseVector[] } {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.byteLength < 16 || dv.getUint32(0, true) !== MAGIC.sparse || dv.getUint32(4, true) !== VERSION) throw corrupt(file, "bad header");
  const slots = dv.getUint32(8, true);
  const total = dv.getUint32(12, true);
  if (buf.byteLength !== 16 + slots * 4 + total * 8) throw corrupt(file, "size does not match its header");
  const nnz = u32At(buf, 16, slots);
  const indices = u32At(buf, 16 + slots * 4, total);
  const values = f32At(buf, 16 + slots * 4 + total * 4, total);
  const vectors: SparseVector[] = new Array(slots);
  let o = 0;
  for (let s = 0; s < slots; s++) {
    const n = nnz[s]!;
    if (o + n > total) throw corrupt(file, "postings counts exceed the total");
    vectors[s] = { indices: indices.subarray(o, o + n), values: values.subarray(o, o + n) };
    o += n;
  }
  if (o !== total) throw corrupt(file, "postings counts do not add up");
  return { slots, vectors };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const n = parts.reduce((a, p) => a + p.byteLength, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}
