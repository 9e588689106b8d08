/**
 * CRC-32 (IEEE 802.3, as zlib/PNG: reflected polynomial 0xEDB88320, init and xorout
 * 0xFFFFFFFF). Uses node:zlib's native crc32 when present (Node >= 20.15); otherwise a
 * slicing-by-8 table implementation (8 tables of 256 entries, built once).
 */
import * as zlib from "node:zlib";

type NativeCrc = (data: Uint8Array, value?: number) => number;
const native = (zlib as unknown as { crc32?: NativeCrc }).crc32;

let tables: Int32Array | undefined;

/** Slicing-by-8 tables: `t[k * 256 + b]` is the CRC of byte b followed by k zero bytes. */
function crcTables(): Int32Array {
  if (tables === undefined) {
    const t = new Int32Array(8 * 256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      t[n] = c;
    }
    for (let n = 0; n < 256; n++) {
      let c = t[n]!;
      for (let k = 1; k < 8; k++) {
        c = t[c & 0xff]! ^ (c >>> 8);
        t[k * 256 + n] = c;
      }
    }
    tables = t;
  }
  return tables;
}

/** Pure-JS CRC-32, exported for tests and benchmarks (must equal the native one). `previous` continues a running CRC. */
export function crc32Js(data: Uint8Array, previous = 0): number {
  const t = crcTables();
  const n = data.length;
  let c = ~previous;
  let i = 0;
  // Eight bytes per step: the running CRC is xor-ed into the first four, then each byte is
  // looked up in the table for its distance from the end of the step.
  for (const end8 = n - (n & 7); i < end8; i += 8) {
    const lo = c ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24));
    c = t[1792 + (lo & 0xff)]! ^ t[1536 + ((lo >>> 8) & 0xff)]! ^ t[1280 + ((lo >>> 16) & 0xff)]! ^ t[1024 + (lo >>> 24)]!
      ^ t[768 + data[i + 4]!]! ^ t[512 + data[i + 5]!]! ^ t[256 + data[i + 6]!]! ^ t[data[i + 7]!]!;
  }
  for (; i < n; i++) c = t[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/** CRC-32 of `data` as an unsigned 32-bit integer; `previous` continues the CRC of earlier bytes. */
export function crc32(data: Uint8Array, previous = 0): number {
  return native !== undefined ? native(data, previous) >>> 0 : crc32Js(data, previous);
}
