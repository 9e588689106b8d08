/**
 * Byte layouts of the data file (little-endian):
 *
 * file header (32 bytes): magic "M3CD", format version, codec id, dim, poolFactor (f64), 8 reserved.
 * record (8-byte aligned): magic "M3CR", slot, tokens, payloadBytes, crc32(payload), reserved,
 *   then the codec payload, zero-padded to a multiple of 8 bytes.
 *
 * Every record starts on an 8-byte boundary and its header is 24 bytes, so payloads are
 * 8-aligned in the file and in any buffer read from an 8-aligned file offset: typed-array views
 * (Float32Array, Uint16Array) work on them without copying.
 */
import { ErrorCodes, M3Error } from "../../errors.js";
import { CODEC_NAMES } from "../../multivector/codec/codec.js";
import { crc32 } from "../../util/crc32.js";
import type { ColbertCodecName } from "./types.js";

export const FILE_MAGIC = 0x4443334d; // "M3CD"
export const RECORD_MAGIC = 0x5243334d; // "M3CR"
export const FORMAT_VERSION = 1;
export const FILE_HEADER_BYTES = 32;
export const RECORD_HEADER_BYTES = 24;

export const align8 = (n: number): number => (n + 7) & ~7;

/** Total bytes of a record with a payload of `payloadBytes`. */
export const recordBytes = (payloadBytes: number): number => RECORD_HEADER_BYTES + align8(payloadBytes);

export interface FileHeader {
  codec: ColbertCodecName;
  dim: number;
  poolFactor: number;
}

export function writeFileHeader(h: FileHeader): Uint8Array {
  const b = new Uint8Array(FILE_HEADER_BYTES);
  const v = new DataView(b.buffer);
  v.setUint32(0, FILE_MAGIC, true);
  v.setUint32(4, FORMAT_VERSION, true);
  v.setUint32(8, CODEC_NAMES.indexOf(h.codec), true);
  v.setUint32(12, h.dim, true);
  v.setFloat64(16, h.poolFactor, true);
  return b;
}

/** Checks a data file header against what the manifest says; throws INDEX_CORRUPT on any difference. */
export function checkFileHeader(b: Uint8Array, expected: FileHeader, file: string): void {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const fail = (what: string): never => {
    throw new M3Error(
      ErrorCodes.INDEX_CORRUPT,
      `ColBERT data file ${file} ${what}. The index is damaged: restore it from a backup or rebuild it.`,
      { details: { file } },
    );
  };
  if (b.byteLength < FILE_HEADER_BYTES || v.getUint32(0, true) !== FILE_MAGIC) fail("has no valid header");
  if (v.getUint32(4, true) !== FORMAT_VERSION) fail(`has format version ${v.getUint32(4, true)}, expected ${FORMAT_VERSION}`);
  const codec = CODEC_NAMES[v.getUint32(8, true)];
  if (codec !== expected.codec || v.getUint32(12, true) !== expected.dim || v.getFloat64(16, true) !== expected.poolFactor) {
    fail(`holds codec ${String(codec)}/dim ${v.getUint32(12, true)}/poolFactor ${v.getFloat64(16, true)} but the manifest says ${expected.codec}/${expected.dim}/${expected.poolFactor}`);
  }
}

/** A record buffer (header + zeroed payload); the caller encodes into `payload` and then calls `sealRecord`. */
export function newRecord(slot: number, tokens: number, payloadBytes: number): { bytes: Uint8Array; payload: Uint8Array } {
  return recordIn(new Uint8Array(recordBytes(payloadBytes)), slot, tokens, payloadBytes);
}

/** Writes a record header into `bytes` (zeroed, recordBytes(payloadBytes) long, 8-aligned in its buffer) and returns the payload view. */
export function recordIn(bytes: Uint8Array, slot: number, tokens: number, payloadBytes: number): { bytes: Uint8Array; payload: Uint8Array } {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  v.setUint32(0, RECORD_MAGIC, true);
  v.setUint32(4, slot, true);
  v.setUint32(8, tokens, true);
  v.setUint32(12, payloadBytes, true);
  return { bytes, payload: bytes.subarray(RECORD_HEADER_BYTES, RECORD_HEADER_BYTES + payloadBytes) };
}

/** Writes the payload's crc32 into the header. */
export function sealRecord(bytes: Uint8Array): void {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = v.getUint32(12, true);
  v.setUint32(16, crc32(bytes.subarray(RECORD_HEADER_BYTES, RECORD_HEADER_BYTES + n)), true);
}

/**
 * Checks a record read from `offset` (magic, slot, length and, when `verifyCrc`, the payload's
 * crc32) and returns its token count and payload view; throws INDEX_CORRUPT on any mismatch.
 */
export function openRecord(bytes: Uint8Array, slot: number, offset: number, file: string, verifyCrc: boolean): { tokens: number; payload: Uint8Array } {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (what: string): never => {
    throw new M3Error(
      ErrorCodes.INDEX_CORRUPT,
      `ColBERT record of slot ${slot} at byte ${offset} of ${file} ${what}. The file is damaged: restore the index from a backup or rebuild it.`,
      { details: { slot, offset, file } },
    );
  };
  if (bytes.byteLength < RECORD_HEADER_BYTES || v.getUint32(0, true) !== RECORD_MAGIC) fail("has no valid header");
  if (v.getUint32(4, true) !== slot) fail(`belongs to slot ${v.getUint32(4, true)}`);
  const n = v.getUint32(12, true);
  if (recordBytes(n) !== bytes.byteLength) fail(`has length ${recordBytes(n)}, expected ${bytes.byteLength}`);
  const payload = bytes.subarray(RECORD_HEADER_BYTES, RECORD_HEADER_BYTES + n);
  if (verifyCrc && crc32(payload) !== v.getUint32(16, true)) fail("fails its crc32 check");
  return { tokens: v.getUint32(8, true), payload };
}
