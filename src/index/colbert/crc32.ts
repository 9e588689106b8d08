/** CRC-32 (IEEE, as zlib/PNG). Uses node:zlib's native crc32 when present (Node >= 20.15). */
import * as zlib from "node:zlib";

type NativeCrc = (data: Uint8Array, value?: number) => number;
const native = (zlib as unknown as { crc32?: NativeCrc }).crc32;

let table: Int32Array | undefined;

function crcTable(): Int32Array {
  if (table === undefined) {
    table = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c;
    }
  }
  return table;
}

/** Pure-JS CRC-32, exported for tests (must equal the native one). */
export function crc32Js(data: Uint8Array): number {
  const t = crcTable();
  let c = -1;
  for (let i = 0; i < data.length; i++) c = t[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/** CRC-32 of `data` as an unsigned 32-bit integer. */
export function crc32(data: Uint8Array): number {
  return native !== undefined ? native(data) >>> 0 : crc32Js(data);
}
