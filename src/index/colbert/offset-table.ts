/**
 * slot -> (offset, length) of its record, in two growable typed arrays (no per-slot objects).
 * A length of 0 means "no record". Serialised as the offsets file:
 * header (32 bytes: magic "M3CO", version, count, crc32 of the body, committedBytes f64,
 * 8 reserved), then `count` float64 offsets, then `count` uint32 lengths.
 */
import { ErrorCodes, M3Error } from "../../errors.js";
import { crc32 } from "../../util/crc32.js";
import { FORMAT_VERSION } from "./record.js";

const OFFSETS_MAGIC = 0x4f43334d; // "M3CO"
const HEADER = 32;

export class OffsetTable {
  offsets: Float64Array;
  lengths: Uint32Array;
  /** Live slots and the bytes of their records. */
  liveSlots = 0;
  liveBytes = 0;

  constructor(capacity = 1024) {
    this.offsets = new Float64Array(capacity);
    this.lengths = new Uint32Array(capacity);
  }

  has(slot: number): boolean {
    return slot < this.lengths.length && this.lengths[slot]! > 0;
  }

  /** Sets the record of `slot`; returns the length of the record it replaced (0 if none). */
  set(slot: number, offset: number, length: number): number {
    if (slot >= this.lengths.length) this.grow(slot + 1);
    const old = this.remove(slot);
    this.offsets[slot] = offset;
    this.lengths[slot] = length;
    this.liveSlots++;
    this.liveBytes += length;
    return old;
  }

  /** Forgets `slot`; returns the length of its record (0 if none). */
  remove(slot: number): number {
    if (!this.has(slot)) return 0;
    const old = this.lengths[slot]!;
    this.lengths[slot] = 0;
    this.offsets[slot] = 0;
    this.liveSlots--;
    this.liveBytes -= old;
    return old;
  }

  /** Live slots in ascending record offset order (for sequential rewrites). */
  slotsByOffset(): Uint32Array {
    const slots = new Uint32Array(this.liveSlots);
    let n = 0;
    for (let s = 0; s < this.lengths.length; s++) if (this.lengths[s]! > 0) slots[n++] = s;
    return slots.sort((a, b) => this.offsets[a]! - this.offsets[b]!);
  }

  private grow(min: number): void {
    const cap = Math.max(min, this.lengths.length * 2);
    const o = new Float64Array(cap);
    o.set(this.offsets);
    const l = new Uint32Array(cap);
    l.set(this.lengths);
    this.offsets = o;
    this.lengths = l;
  }

  /** The offsets file bytes. */
  serialize(committedBytes: number): Uint8Array {
    let count = this.lengths.length;
    while (count > 0 && this.lengths[count - 1] === 0) count--;
    const out = new Uint8Array(HEADER + count * 12);
    new Float64Array(out.buffer, HEADER, count).set(this.offsets.subarray(0, count));
    new Uint32Array(out.buffer, HEADER + count * 8, count).set(this.lengths.subarray(0, count));
    const v = new DataView(out.buffer);
    v.setUint32(0, OFFSETS_MAGIC, true);
    v.setUint32(4, FORMAT_VERSION, true);
    v.setUint32(8, count, true);
    v.setUint32(12, crc32(out.subarray(HEADER)), true);
    v.setFloat64(16, committedBytes, true);
    return out;
  }

  /** Parses an offsets file; every record must lie in [dataStart, committedBytes). Throws INDEX_CORRUPT. */
  static parse(bytes: Uint8Array, committedBytes: number, dataStart: number, file: string): OffsetTable {
    const fail = (what: string): never => {
      throw new M3Error(
        ErrorCodes.INDEX_CORRUPT,
        `ColBERT offsets file ${file} ${what}. The index is damaged: restore it from a backup or rebuild it.`,
        { details: { file } },
      );
    };
    if (bytes.byteLength < HEADER) fail("is truncated");
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (v.getUint32(0, true) !== OFFSETS_MAGIC) fail("has no valid header");
    if (v.getUint32(4, true) !== FORMAT_VERSION) fail(`has format version ${v.getUint32(4, true)}, expected ${FORMAT_VERSION}`);
    const count = v.getUint32(8, true);
    if (bytes.byteLength !== HEADER + count * 12) fail(`has ${bytes.byteLength} bytes, expected ${HEADER + count * 12}`);
    if (crc32(bytes.subarray(HEADER)) !== v.getUint32(12, true)) fail("fails its crc32 check");
    if (v.getFloat64(16, true) !== committedBytes) fail(`was written for ${v.getFloat64(16, true)} data bytes, the manifest says ${committedBytes}`);
    const body = new Uint8Array(bytes.byteLength - HEADER); // an aligned copy (Buffer#slice would be a view)
    body.set(bytes.subarray(HEADER));
    const table = new OffsetTable(Math.max(count, 16));
    table.offsets.set(new Float64Array(body.buffer, 0, count));
    table.lengths.set(new Uint32Array(body.buffer, count * 8, count));
    for (let s = 0; s < count; s++) {
      const len = table.lengths[s]!;
      if (len === 0) continue;
      const off = table.offsets[s]!;
      if (off < dataStart || off % 8 !== 0 || off + len > committedBytes) fail(`points slot ${s} outside the committed data`);
      table.liveSlots++;
      table.liveBytes += len;
    }
    return table;
  }
}
