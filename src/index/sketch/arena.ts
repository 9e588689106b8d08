/**
 * Slot → the int8 payload of a document's sketched ColBERT rows (the int8 codec's layout:
 * `rows` float32 scales, then `rows · sketchDim` codes), kept in memory in pages (64 KiB
 * doubling up to PAGE_BYTES; a payload never spans pages, a larger one gets a page of its own),
 * so growing never copies what is stored. Replaced and removed payloads leave dead bytes; the pages are
 * rewritten when dead bytes exceed both COMPACT_MIN_BYTES and the live bytes.
 *
 * File layout (little-endian), written by `write` and read by `readSketchArena`:
 * header (32 bytes): magic "M3SK", version, slots, pages, sketchDim, 12 reserved;
 * u32 rows[slots] (0xffffffff = no payload), u32 page[slots], u32 offset[slots],
 * u32 pageBytes[pages], padding to 8, then each page's bytes in order.
 */
import type { FileHandle } from "node:fs/promises";
import { ErrorCodes, M3Error } from "../../errors.js";
import { crc32 } from "../../util/crc32.js";
import { crcHex } from "../../util/fs.js";

export const PAGE_BYTES = 64 * 1024 * 1024;
const COMPACT_MIN_BYTES = 16 * 1024 * 1024;
const MAGIC = 0x4b53334d; // "M3SK"
const VERSION = 1;
const HEADER = 32;
const NONE = 0xffffffff;

const align8 = (n: number): number => (n + 7) & ~7;

export class SketchArena {
  private pages: Uint8Array[] = [];
  /** The page being filled (-1: none) and its bytes in use. */
  private open = -1;
  private used = 0;
  private rowsOf: Uint32Array;
  private pageOf: Uint32Array;
  private offsetOf: Uint32Array;
  liveSlots = 0;
  liveBytes = 0;
  deadBytes = 0;

  constructor(readonly sketchDim: number, capacity = 1024) {
    this.rowsOf = new Uint32Array(capacity).fill(NONE);
    this.pageOf = new Uint32Array(capacity);
    this.offsetOf = new Uint32Array(capacity);
  }

  payloadBytes(rows: number): number {
    return rows * (this.sketchDim + 4);
  }

  has(slot: number): boolean {
    return slot < this.rowsOf.length && this.rowsOf[slot] !== NONE;
  }

  /** Rows and payload view of `slot`, or undefined. */
  view(slot: number): { rows: number; payload: Uint8Array } | undefined {
    if (!this.has(slot)) return undefined;
    const rows = this.rowsOf[slot]!;
    const off = this.offsetOf[slot]!;
    return { rows, payload: this.pages[this.pageOf[slot]!]!.subarray(off, off + this.payloadBytes(rows)) };
  }

  /** Room for the payload of `slot` (`rows` rows), replacing any earlier one; write into the returned view. */
  put(slot: number, rows: number): Uint8Array {
    this.remove(slot);
    if (slot >= this.rowsOf.length) this.grow(slot + 1);
    const bytes = this.payloadBytes(rows);
    const { page, offset } = this.allocate(bytes);
    this.rowsOf[slot] = rows;
    this.pageOf[slot] = page;
    this.offsetOf[slot] = offset;
    this.liveSlots++;
    this.liveBytes += bytes;
    return this.pages[page]!.subarray(offset, offset + bytes);
  }

  remove(slot: number): void {
    if (!this.has(slot)) return;
    const bytes = this.payloadBytes(this.rowsOf[slot]!);
    this.rowsOf[slot] = NONE;
    this.liveSlots--;
    this.liveBytes -= bytes;
    this.deadBytes += bytes;
    if (this.deadBytes > COMPACT_MIN_BYTES && this.deadBytes > this.liveBytes) this.compact();
  }

  /**
   * Bytes in use: the pages up to the open page's last payload, and the slot tables. (The open
   * page's tail, at most PAGE_BYTES, is allocated but never written, so it is not resident.)
   */
  residentBytes(): number {
    let bytes = this.rowsOf.byteLength * 3;
    this.pages.forEach((p, i) => (bytes += i === this.open ? this.used : p.byteLength));
    return bytes;
  }

  /** Writes the file (compacted, slots [0, slots)) to `fh`; returns its size and CRC-32 (hex). */
  async write(fh: FileHandle, slots: number): Promise<{ size: number; crc32: string }> {
    const layout = this.layout(slots);
    let crc = 0;
    let pos = 0;
    const emit = async (b: Uint8Array): Promise<void> => {
      crc = crc32(b, crc);
      let done = 0;
      while (done < b.byteLength) done += (await fh.write(b, done, b.byteLength - done, pos + done)).bytesWritten;
      pos += b.byteLength;
    };
    await emit(layout.head);
    for (let p = 0; p < layout.pageBytes.length; p++) {
      const page = new Uint8Array(layout.pageBytes[p]!);
      for (let s = 0; s < slots; s++) {
        if (layout.rows[s] === NONE || layout.page[s] !== p) continue;
        page.set(this.view(s)!.payload, layout.offset[s]!);
      }
      await emit(page);
    }
    return { size: pos, crc32: crcHex(crc) };
  }

  /** Where each live slot's payload goes in a compact rewrite, and the head of the file. */
  private layout(slots: number): { head: Uint8Array; rows: Uint32Array; page: Uint32Array; offset: Uint32Array; pageBytes: number[] } {
    const rows = new Uint32Array(slots).fill(NONE);
    const page = new Uint32Array(slots);
    const offset = new Uint32Array(slots);
    const pageBytes: number[] = [];
    let used = PAGE_BYTES;
    for (let s = 0; s < slots; s++) {
      if (!this.has(s)) continue;
      const r = this.rowsOf[s]!;
      const bytes = align8(this.payloadBytes(r));
      if (pageBytes.length === 0 || used + bytes > Math.max(PAGE_BYTES, bytes)) {
        pageBytes.push(0);
        used = 0;
      }
      rows[s] = r;
      page[s] = pageBytes.length - 1;
      offset[s] = used;
      used += bytes;
      pageBytes[pageBytes.length - 1] = used;
    }
    const tableBytes = 12 * slots + 4 * pageBytes.length;
    const head = new Uint8Array(align8(HEADER + tableBytes));
    const dv = new DataView(head.buffer);
    dv.setUint32(0, MAGIC, true);
    dv.setUint32(4, VERSION, true);
    dv.setUint32(8, slots, true);
    dv.setUint32(12, pageBytes.length, true);
    dv.setUint32(16, this.sketchDim, true);
    const u32 = new Uint32Array(head.buffer, HEADER, 3 * slots + pageBytes.length);
    u32.set(rows, 0);
    u32.set(page, slots);
    u32.set(offset, 2 * slots);
    u32.set(pageBytes, 3 * slots);
    return { head, rows, page, offset, pageBytes };
  }

  private allocate(bytes: number): { page: number; offset: number } {
    const need = align8(bytes);
    if (need > PAGE_BYTES) {
      // A payload larger than a page gets a page of its own; the open page stays open.
      this.pages.push(new Uint8Array(need));
      return { page: this.pages.length - 1, offset: 0 };
    }
    const openBytes = this.open < 0 ? 0 : this.pages[this.open]!.byteLength;
    if (this.open < 0 || this.used + need > openBytes) {
      // Pages grow geometrically from 64 KiB, so a small index holds little.
      this.pages.push(new Uint8Array(Math.max(need, Math.min(PAGE_BYTES, Math.max(64 * 1024, 2 * openBytes)))));
      this.open = this.pages.length - 1;
      this.used = 0;
    }
    const offset = this.used;
    this.used += need;
    return { page: this.open, offset };
  }

  private grow(min: number): void {
    const cap = Math.max(min, this.rowsOf.length * 2);
    const rows = new Uint32Array(cap).fill(NONE);
    rows.set(this.rowsOf);
    const page = new Uint32Array(cap);
    page.set(this.pageOf);
    const offset = new Uint32Array(cap);
    offset.set(this.offsetOf);
    this.rowsOf = rows;
    this.pageOf = page;
    this.offsetOf = offset;
  }

  /** Rewrites the live payloads into fresh pages (synchronous: views taken earlier keep the old pages alive). */
  private compact(): void {
    const next = new SketchArena(this.sketchDim, this.rowsOf.length);
    for (let s = 0; s < this.rowsOf.length; s++) {
      const v = this.view(s);
      if (v !== undefined) next.put(s, v.rows).set(v.payload);
    }
    this.pages = next.pages;
    this.open = next.open;
    this.used = next.used;
    this.rowsOf = next.rowsOf;
    this.pageOf = next.pageOf;
    this.offsetOf = next.offsetOf;
    this.liveSlots = next.liveSlots;
    this.liveBytes = next.liveBytes;
    this.deadBytes = 0;
  }

  /**
   * Reads a file written by `write` (`size` bytes, checked against its CRC-32); throws INDEX_CORRUPT
   * on any mismatch. Pages are read straight into their final buffers.
   */
  static async read(fh: FileHandle, file: string, expected: { size: number; crc32: string; sketchDim: number; slots: number }): Promise<SketchArena> {
    const fail = (what: string): never => {
      throw new M3Error(ErrorCodes.INDEX_CORRUPT, `Index file ${file} is corrupt: ${what}. Restore the index directory from a backup or rebuild it.`, { details: { file } });
    };
    let crc = 0;
    let pos = 0;
    const take = async (n: number): Promise<Uint8Array> => {
      if (pos + n > expected.size) fail(`it is shorter than its table says (needs ${pos + n} bytes, the manifest says ${expected.size})`);
      const b = new Uint8Array(n);
      let done = 0;
      while (done < n) {
        const { bytesRead } = await fh.read(b, done, n - done, pos + done);
        if (bytesRead === 0) fail(`it ends at byte ${pos + done}, expected ${expected.size}`);
        done += bytesRead;
      }
      crc = crc32(b, crc);
      pos += n;
      return b;
    };
    const header = await take(HEADER);
    const dv = new DataView(header.buffer);
    if (dv.getUint32(0, true) !== MAGIC) fail("no valid header");
    if (dv.getUint32(4, true) !== VERSION) fail(`format version ${dv.getUint32(4, true)}, expected ${VERSION}`);
    const slots = dv.getUint32(8, true);
    const pages = dv.getUint32(12, true);
    if (dv.getUint32(16, true) !== expected.sketchDim || slots !== expected.slots) {
      fail(`it holds ${slots} slots of sketch dimension ${dv.getUint32(16, true)}, the manifest says ${expected.slots} of ${expected.sketchDim}`);
    }
    const tableBytes = align8(HEADER + 12 * slots + 4 * pages) - HEADER;
    const table = await take(tableBytes);
    const u32 = new Uint32Array(table.buffer, 0, 3 * slots + pages);
    const arena = new SketchArena(expected.sketchDim, Math.max(slots, 16));
    const pageBytes = u32.subarray(3 * slots);
    for (let p = 0; p < pages; p++) arena.pages.push(await take(pageBytes[p]!));
    if (pos !== expected.size) fail(`it has ${expected.size} bytes, its table accounts for ${pos}`);
    if (crcHex(crc) !== expected.crc32) fail("CRC-32 does not match the manifest");
    for (let s = 0; s < slots; s++) {
      const rows = u32[s]!;
      if (rows === NONE) continue;
      const page = u32[slots + s]!;
      const offset = u32[2 * slots + s]!;
      const bytes = arena.payloadBytes(rows);
      if (page >= pages || offset % 8 !== 0 || offset + bytes > pageBytes[page]!) fail(`slot ${s} points outside its page`);
      arena.rowsOf[s] = rows;
      arena.pageOf[s] = page;
      arena.offsetOf[s] = offset;
      arena.liveSlots++;
      arena.liveBytes += bytes;
    }
    return arena;
  }
}
