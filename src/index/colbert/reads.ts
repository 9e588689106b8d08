/**
 * The ColBERT store's read path: the payloads of listed slots from the memory image, the record
 * cache or the data file, read in batches of at most READ_BATCH_BYTES (nearby records coalesced
 * into one positional read, each record checked, then cached), and whole records in offset order
 * (for a rewrite). Reads capture the image synchronously, so a concurrent rewrite or compaction
 * does not change what one read sees; `drain` waits for the reads in flight.
 */
import type { Backing, ByteRange } from "./backing.js";
import { FileBacking, MemoryBacking, ReadBuffer, packedBytes } from "./backing.js";
import type { ByteLru } from "./lru.js";
import type { OffsetTable } from "./offset-table.js";
import { openRecord } from "./record.js";
import { Scratch } from "../../util/scratch.js";

/** Bytes of records one `score` call reads before scoring them (bounds transient memory). */
export const READ_BATCH_BYTES = 16 * 1024 * 1024;
/** Nearby records closer than this are read with one positional read. */
const COALESCE_GAP = 64 * 1024;
/** Largest single positional read. */
export const MAX_READ = 8 * 1024 * 1024;

/** The store's current image: where the records are and the slot -> (offset, length) table (replaced by rewrites). */
export interface StoreImage {
  backing: Backing;
  table: OffsetTable;
}

interface Pending { index: number; slot: number; offset: number; length: number }
/** A record's payload, for the `index`-th requested slot. */
export interface Item { index: number; tokens: number; payload: Uint8Array }
/** Receives the payloads of one batch: views into the memory image, the cache or a read buffer (read-only). */
export type VisitBatch = (items: Item[]) => Promise<void>;

export class RecordReader {
  private readonly reads = new Set<Promise<unknown>>();
  private readonly readBuffer = new Scratch(new ReadBuffer());

  constructor(private readonly image: StoreImage, private readonly cache: ByteLru) {}

  /**
   * Calls `fn` with the payloads of the listed slots (missing slots skipped), reading only those
   * records: first the ones in memory or in the cache, then one batch per read of at most
   * READ_BATCH_BYTES. Each payload's `index` is its position in `slots`.
   */
  async visit(slots: Uint32Array, fn: VisitBatch): Promise<void> {
    const backing = this.image.backing;
    const table = this.image.table;
    const pending: Pending[] = [];
    const ready: Item[] = [];
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i]!;
      if (!table.has(slot)) continue;
      const offset = table.offsets[slot]!;
      const length = table.lengths[slot]!;
      if (backing instanceof MemoryBacking) {
        const rec = openRecord(backing.view({ offset, length }), slot, offset, "memory", false);
        ready.push({ index: i, tokens: rec.tokens, payload: rec.payload });
        continue;
      }
      const cached = this.cache.get(slot);
      if (cached !== undefined) {
        const rec = openRecord(cached, slot, offset, "cache", false);
        ready.push({ index: i, tokens: rec.tokens, payload: rec.payload });
      } else pending.push({ index: i, slot, offset, length });
    }
    pending.sort((a, b) => a.offset - b.offset);
    const file = backing instanceof FileBacking ? backing.path : "data file";
    const job = (async () => {
      if (ready.length > 0) await fn(ready);
      // Batches are read into the store's read buffer when no other visit holds it; their
      // payloads are used by `fn` before the next batch overwrites them.
      const into = pending.length > 0 ? this.readBuffer.take() : undefined;
      try {
        for (let start = 0; start < pending.length;) {
          let end = start;
          let bytes = 0;
          while (end < pending.length && (end === start || bytes + pending[end]!.length <= READ_BATCH_BYTES)) bytes += pending[end++]!.length;
          await fn(await this.readBatch(backing, pending.slice(start, end), file, into));
          start = end;
        }
      } finally {
        if (into !== undefined) this.readBuffer.release();
      }
    })();
    this.reads.add(job);
    try {
      await job;
    } finally {
      this.reads.delete(job);
    }
  }

  /** Reads one batch of records (coalescing nearby ones), checks them and caches them. */
  private async readBatch(backing: Backing, batch: Pending[], file: string, into: ReadBuffer | undefined): Promise<Item[]> {
    const ranges: ByteRange[] = [];
    const rangeOf: number[] = [];
    for (const p of batch) {
      const last = ranges[ranges.length - 1];
      if (last !== undefined && p.offset >= last.offset + last.length && p.offset - (last.offset + last.length) <= COALESCE_GAP && p.offset + p.length - last.offset <= MAX_READ) {
        last.length = p.offset + p.length - last.offset;
      } else if (last === undefined || p.offset !== last.offset || p.length !== last.length) {
        ranges.push({ offset: p.offset, length: p.length });
      }
      rangeOf.push(ranges.length - 1);
    }
    const bufs = await backing.read(ranges, into?.room(packedBytes(ranges)));
    const items: Item[] = [];
    batch.forEach((p, k) => {
      const r = ranges[rangeOf[k]!]!;
      const buf = bufs[rangeOf[k]!]!;
      const whole = r.offset === p.offset && r.length === p.length;
      const bytes = whole ? buf : buf.subarray(p.offset - r.offset, p.offset - r.offset + p.length);
      const rec = openRecord(bytes, p.slot, p.offset, file, true);
      items.push({ index: p.index, tokens: rec.tokens, payload: rec.payload });
      if (this.image.backing === backing && this.image.table.offsets[p.slot] === p.offset && this.image.table.lengths[p.slot] === p.length) {
        // A view into the read buffer, or into a coalesced range, is copied: the cache keeps its own.
        if (this.cache.capacity > 0) this.cache.set(p.slot, whole && into === undefined ? bytes : bytes.slice());
      }
    });
    return items;
  }

  /** Visits whole verified records of `slots` (in offset order), reading in bounded batches. */
  async visitRecords(slots: Uint32Array, fn: (slot: number, bytes: Uint8Array) => Promise<void>): Promise<void> {
    const backing = this.image.backing;
    const file = backing instanceof FileBacking ? backing.path : "memory";
    for (let start = 0; start < slots.length;) {
      const ranges: ByteRange[] = [];
      let bytes = 0;
      let end = start;
      while (end < slots.length && (end === start || bytes + this.image.table.lengths[slots[end]!]! <= MAX_READ)) {
        const s = slots[end++]!;
        ranges.push({ offset: this.image.table.offsets[s]!, length: this.image.table.lengths[s]! });
        bytes += this.image.table.lengths[s]!;
      }
      const bufs = await backing.read(ranges);
      for (let k = 0; k < bufs.length; k++) {
        const slot = slots[start + k]!;
        openRecord(bufs[k]!, slot, ranges[k]!.offset, file, backing.kind === "file");
        await fn(slot, bufs[k]!);
      }
      start = end;
    }
  }

  async drain(): Promise<void> {
    while (this.reads.size > 0) await Promise.allSettled([...this.reads]);
  }
}
