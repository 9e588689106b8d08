/**
 * A codec turns a float32 token matrix into the payload bytes of a record and back, and
 * scores a query against a payload without materialising more than it must.
 */
import { ErrorCodes, M3Error } from "../../errors.js";

/** Storage precision of ColBERT matrices. `binary` keeps 1 bit per dimension (sign). */
export type ColbertCodecName = "float32" | "float16" | "int8" | "binary";

/** A query made ready for one codec (e.g. with lookup tables for `binary`). */
export interface PreparedQuery {
  /** Row-major float32 query rows. */
  data: Float32Array;
  rows: number;
  dim: number;
  /** Codec-specific lookup table (binary: per query row, per packed byte, 256 partial sums). */
  lut?: Float32Array;
}

export interface ColbertCodec {
  readonly name: ColbertCodecName;
  readonly dim: number;
  /** Payload bytes per token row: 4·dim, 2·dim, dim+4, ceil(dim/8). */
  readonly bytesPerToken: number;
  /** Payload bytes of a matrix of `tokens` rows (= tokens · bytesPerToken). */
  payloadBytes(tokens: number): number;
  /** Writes the payload of `tokens` rows of `src` into `out` (4-byte aligned, payloadBytes(tokens) long). */
  encode(src: Float32Array, tokens: number, out: Uint8Array): void;
  /** Decodes a payload into `out` (tokens · dim floats; dequantised, binary rows are ±1/sqrt(dim)). */
  decode(payload: Uint8Array, tokens: number, out: Float32Array): void;
  prepare(data: Float32Array, rows: number): PreparedQuery;
  /** `sum_i max_j <q_i, d_j>` of a prepared query against a payload (0 when either is empty). */
  maxSimSum(q: PreparedQuery, payload: Uint8Array, tokens: number): number;
}

/** Codec names in their on-disk id order (the data file header stores the index). */
export const CODEC_NAMES: readonly ColbertCodecName[] = ["float32", "float16", "int8", "binary"];

/** Payload bytes per token of a codec at a dimension. */
export function bytesPerToken(codec: ColbertCodecName, dim: number): number {
  switch (codec) {
    case "float32": return 4 * dim;
    case "float16": return 2 * dim;
    case "int8": return dim + 4;
    case "binary": return Math.ceil(dim / 8);
  }
}

/** Throws OUT_OF_RANGE/INVALID_ARGUMENT unless `name` is a known codec. */
export function checkCodecName(name: unknown): ColbertCodecName {
  if (typeof name !== "string" || !(CODEC_NAMES as readonly string[]).includes(name)) {
    throw new M3Error(
      ErrorCodes.INVALID_ARGUMENT,
      `Unknown ColBERT codec ${JSON.stringify(name)}; expected one of ${CODEC_NAMES.join(", ")}.`,
      { details: { codec: name } },
    );
  }
  return name as ColbertCodecName;
}

/** Views `n` float32 values of a 4-byte aligned payload from byte `off`. */
export function f32View(payload: Uint8Array, off: number, n: number): Float32Array {
  return new Float32Array(payload.buffer, payload.byteOffset + off, n);
}
