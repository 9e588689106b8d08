/**
 * A minimal ZIP reader for PyTorch's `torch.save` archives: central directory, stored and
 * deflated entries, zip64 sizes and offsets. Throws plain `Error`s; the caller wraps them.
 */
import { inflateRawSync } from "node:zlib";

const EOCD_SIG = 0x06054b50;
const EOCD64_LOCATOR_SIG = 0x07064b50;
const EOCD64_SIG = 0x06064b50;
const CDIR_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const U32_MAX = 0xffffffff;

/** One file of the archive. */
export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

/** A parsed archive over an in-memory buffer. */
export class ZipArchive {
  readonly entries: ReadonlyMap<string, ZipEntry>;

  constructor(private readonly buf: Buffer) {
    this.entries = readCentralDirectory(buf);
  }

  /**
   * The uncompressed bytes of `name` (a view into the archive for stored entries). A deflated
   * entry may inflate to at most `maxBytes`: a larger declared size is refused before inflating,
   * and inflating stops as soon as the output passes the cap (a zip bomb costs `maxBytes`, not
   * what it would inflate to).
   */
  read(name: string, maxBytes: number): Buffer {
    const e = this.entries.get(name);
    if (e === undefined) throw new Error(`the archive has no entry "${name}"`);
    const b = this.buf;
    const h = e.localHeaderOffset;
    if (h + 30 > b.length || b.readUInt32LE(h) !== LOCAL_SIG) throw new Error(`bad local header for "${name}"`);
    const start = h + 30 + b.readUInt16LE(h + 26) + b.readUInt16LE(h + 28);
    const end = start + e.compressedSize;
    if (end > b.length) throw new Error(`entry "${name}" runs past the end of the file (truncated download?)`);
    const raw = b.subarray(start, end);
    if (e.method === 0) return raw;
    if (e.method === 8) {
      const cap = Math.max(1, maxBytes);
      if (e.size > cap) throw new Error(`entry "${name}" declares ${e.size} bytes uncompressed, more than the ${cap} its contents can need`);
      let out: Buffer;
      try {
        out = inflateRawSync(raw, { maxOutputLength: cap });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE" || err instanceof RangeError) {
          throw new Error(`entry "${name}" inflates to more than ${cap} bytes, more than its contents can need (a zip bomb?)`);
        }
        throw new Error(`entry "${name}" is not a valid deflate stream (${(err as Error).message})`);
      }
      if (out.length !== e.size) throw new Error(`entry "${name}" inflated to ${out.length} bytes, expected ${e.size}`);
      return out;
    }
    throw new Error(`entry "${name}" uses unsupported compression method ${e.method}`);
  }
}

function findEocd(b: Buffer): number {
  const min = Math.max(0, b.length - 22 - 0xffff);
  for (let i = b.length - 22; i >= min; i--) if (b.readUInt32LE(i) === EOCD_SIG) return i;
  throw new Error("no end-of-central-directory record (not a zip file, or truncated)");
}

function readCentralDirectory(b: Buffer): Map<string, ZipEntry> {
  if (b.length < 22) throw new Error(`file is only ${b.length} bytes (not a zip file)`);
  const eocd = findEocd(b);
  let count = b.readUInt16LE(eocd + 10);
  let cdOffset = b.readUInt32LE(eocd + 16);
  const loc = eocd - 20;
  if (loc >= 0 && b.readUInt32LE(loc) === EOCD64_LOCATOR_SIG) {
    const e64 = num64(b, loc + 8);
    if (e64 + 56 > b.length || b.readUInt32LE(e64) !== EOCD64_SIG) throw new Error("bad zip64 end record");
    count = num64(b, e64 + 32);
    cdOffset = num64(b, e64 + 48);
  }
  const entries = new Map<string, ZipEntry>();
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > b.length || b.readUInt32LE(p) !== CDIR_SIG) throw new Error("corrupt central directory");
    const method = b.readUInt16LE(p + 10);
    let compressedSize = b.readUInt32LE(p + 20);
    let size = b.readUInt32LE(p + 24);
    const nameLen = b.readUInt16LE(p + 28);
    const extraLen = b.readUInt16LE(p + 30);
    const commentLen = b.readUInt16LE(p + 32);
    let localHeaderOffset = b.readUInt32LE(p + 42);
    const name = b.toString("utf8", p + 46, p + 46 + nameLen);
    // zip64 extra field (id 1): the 0xffffffff fields follow in this order.
    let x = p + 46 + nameLen;
    const xEnd = x + extraLen;
    while (x + 4 <= xEnd) {
      const id = b.readUInt16LE(x);
      const len = b.readUInt16LE(x + 2);
      if (id === 1) {
        let q = x + 4;
        if (size === U32_MAX) { size = num64(b, q); q += 8; }
        if (compressedSize === U32_MAX) { compressedSize = num64(b, q); q += 8; }
        if (localHeaderOffset === U32_MAX) localHeaderOffset = num64(b, q);
      }
      x += 4 + len;
    }
    entries.set(name, { name, method, compressedSize, size, localHeaderOffset });
    p = xEnd + commentLen;
  }
  return entries;
}

function num64(b: Buffer, off: number): number {
  const v = b.readBigUInt64LE(off);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error("zip offset too large");
  return Number(v);
}
