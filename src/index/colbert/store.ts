/**
 * The ColBERT store: one encoded record per slot in an append-only image (memory or file),
 * an OffsetTable slot -> (offset, length), and a byte-bounded LRU of raw records for the
 * disk-backed mode. Mutations (put, persist, compact, close) run one at a time on a queue;
 * reads run concurrently and capture the backing and table entries synchronously.
 */
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { ErrorCodes, M3Error } from "../../errors.js";
import type { MultiVector, RowScorer } from "../../types.js";
import type { Backing, ByteRange } from "./backing.js";
import { FileBacking, MemoryBacking, ReadBuffer, packedBytes, writeFully } from "./backing.js";
import type { ColbertCodec } from "../../multivector/codec/codec.js";
import { createCodec } from "../../multivector/codec/codecs.js";
import { syncDir, writeFileSynced } from "../../util/fs.js";
import { SerialQueue } from "../../util/serial.js";
import { dataFileName, io, offsetsFileName } from "./files.js";
import { ByteLru } from "./lru.js";
import { OffsetTable } from "./offset-table.js";
import { poolTokens } from "../../multivector/pool.js";
import { MaxSim } from "../../multivector/maxsim/maxsim.js";
import { Scratch } from "../../util/scratch.js";
import { FORMAT_VERSION, newRecord, openRecord, RECORD_HEADER_BYTES, recordBytes, recordIn, sealRecord, writeFileHeader } from "./record.js";
import type { ColbertCodecName, ColbertCompaction, ColbertKernel, ColbertManifestPart, ColbertStore } from "./types.js";
import { checkGeneration, checkMatrix, checkSlot, checkSlots } from "./validate.js";

/** Bytes of records `putMany` encodes into one buffer and appends with one write. */
const PUT_BATCH_BYTES = 32 * 1024 * 1024;
/** Bytes of records one `score` call reads before scoring them (bounds transient memory). */
export const READ_BATCH_BYTES = 16 * 1024 * 1024;
/** Nearby records closer than this are read with one positional read. */
const COALESCE_GAP = 64 * 1024;
/** Largest single positional read. */
const MAX_READ = 8 * 1024 * 1024;
/** An in-memory store rewrites its image when dead bytes exceed both this and the live bytes. */
const MEMORY_COMPACT_MIN = 4 * 1024 * 1024;

interface Pending { index: number; slot: number; offset: number; length: number }
/** A record's payload, for the `index`-th requested slot. */
interface Item { index: number; tokens: number; payload: Uint8Array }
/** Receives the payloads of one batch: views into the memory image, the cache or a read buffer (read-only). */
type VisitBatch = (items: Item[]) => Promise<void>;

export interface StoreInit {
  codec: ColbertCodecName;
  dim: number;
  poolFactor: number;
  cacheBytes: number;
  kernel: ColbertKernel;
  kernelThreads: number;
  /** A row scorer shared with the index's sketch (released by its owner); undefined: the store's own. */
  rowScorer?: RowScorer | undefined;
  table: OffsetTable;
  backing: Backing;
  offsetsFile?: string;
}

export class ColbertStoreImpl implements ColbertStore {
  readonly codec: ColbertCodecName;
  readonly dim: number;
  readonly poolFactor: number;
  private readonly impl: ColbertCodec;
  private readonly cache: ByteLru;
  private table: OffsetTable;
  private backing: Backing;
  private offsetsFile: string | undefined;
  /** Writes, persists, compaction and close, one at a time (src/util/serial.ts: a failure does not block the next). */
  private readonly queue = new SerialQueue();
  private readonly reads = new Set<Promise<unknown>>();
  private closed = false;
  private readonly maxSim: MaxSim;
  private readonly readBuffer = new Scratch(new ReadBuffer());

  constructor(init: StoreInit) {
    this.codec = init.codec;
    this.dim = init.dim;
    this.poolFactor = init.poolFactor;
    this.impl = createCodec(init.codec, init.dim);
    this.cache = new ByteLru(init.cacheBytes);
    this.table = init.table;
    this.backing = init.backing;
    this.offsetsFile = init.offsetsFile;
    this.maxSim = new MaxSim(init.kernel, init.kernelThreads, init.rowScorer);
  }

  get size(): number {
    return this.table.liveSlots;
  }

  has(slot: number): boolean {
    return this.table.has(slot);
  }

  async put(slot: number, matrix: MultiVector): Promise<void> {
    this.checkOpen();
    checkSlot(slot);
    checkMatrix("matrix", matrix, this.dim);
    const m = this.poolFactor > 1 ? poolTokens(matrix, this.poolFactor) : matrix;
    const { bytes, payload } = newRecord(slot, m.tokens, this.impl.payloadBytes(m.tokens));
    this.impl.encode(m.data, m.tokens, payload);
    sealRecord(bytes);
    await this.queue.run(async () => {
      const offset = await io("append a ColBERT record", () => this.backing.append(bytes));
      this.table.set(slot, offset, bytes.byteLength);
      this.cache.delete(slot);
      this.maybeCompactMemory();
    });
  }

  async putMany(entries: readonly { slot: number; matrix: MultiVector }[]): Promise<void> {
    this.checkOpen();
    if (!Array.isArray(entries)) throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `putMany expects an array of { slot, matrix }; got ${typeof entries}.`);
    const plans = entries.map((e, i) => {
      if (e === null || typeof e !== "object") throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `entries[${i}] must be { slot, matrix }.`);
      checkSlot(e.slot);
      checkMatrix(`entries[${i}].matrix`, e.matrix, this.dim);
      const m = this.poolFactor > 1 ? poolTokens(e.matrix, this.poolFactor) : e.matrix;
      const payloadBytes = this.impl.payloadBytes(m.tokens);
      return { slot: e.slot, m, payloadBytes, length: recordBytes(payloadBytes) };
    });
    for (let start = 0; start < plans.length;) {
      // One buffer (and one write) per PUT_BATCH_BYTES of records.
      let end = start;
      let bytes = 0;
      while (end < plans.length && (end === start || bytes + plans[end]!.length <= PUT_BATCH_BYTES)) bytes += plans[end++]!.length;
      const batch = plans.slice(start, end);
      const buf = new Uint8Array(bytes);
      let at = 0;
      for (const p of batch) {
        const rec = recordIn(buf.subarray(at, at + p.length), p.slot, p.m.tokens, p.payloadBytes);
        this.impl.encode(p.m.data, p.m.tokens, rec.payload);
        sealRecord(rec.bytes);
        at += p.length;
      }
      await this.queue.run(async () => {
        let offset = await io("append ColBERT records", () => this.backing.append(buf));
        for (const p of batch) {
          this.table.set(p.slot, offset, p.length);
          this.cache.delete(p.slot);
          offset += p.length;
        }
        this.maybeCompactMemory();
      });
      start = end;
    }
  }

  remove(slot: number): void {
    this.checkOpen();
    checkSlot(slot);
    this.table.remove(slot);
    this.cache.delete(slot);
    this.maybeCompactMemory();
  }

  async get(slot: number): Promise<MultiVector | undefined> {
    this.checkOpen();
    checkSlot(slot);
    let result: MultiVector | undefined;
    await this.visit(Uint32Array.of(slot), async ([item]) => {
      if (item === undefined) return;
      const data = new Float32Array(item.tokens * this.dim);
      this.impl.decode(item.payload, item.tokens, data);
      result = { data, tokens: item.tokens, dim: this.dim };
    });
    return result;
  }

  async score(query: MultiVector, slots: Uint32Array): Promise<Float32Array> {
    this.checkOpen();
    checkMatrix("query", query, this.dim);
    checkSlots(slots);
    const out = new Float32Array(slots.length).fill(NaN);
    const inv = query.tokens === 0 ? 0 : 1 / query.tokens;
    const codec = this.codec;
    if (this.maxSim.usesBlocks(codec, query)) {
      let rows = 0;
      for (const slot of slots) if (this.table.has(slot)) rows += Math.floor((this.table.lengths[slot]! - RECORD_HEADER_BYTES) / this.impl.bytesPerToken);
      await this.maxSim.blocks(codec, this.dim, query, rows, (i, sum) => (out[i] = sum * inv), (blocks) =>
        this.visit(slots, async (items) => {
          for (const it of items) await blocks.add(it.index, it.tokens, it.payload);
          await blocks.flush();
        }),
      );
      return out;
    }
    const q = this.impl.prepare(query.data, query.tokens);
    await this.visit(slots, async (items) => {
      for (const it of items) out[it.index] = this.impl.maxSimSum(q, it.payload, it.tokens) * inv;
    });
    return out;
  }

  stats(): { liveBytes: number; totalBytes: number; residentBytes: number; liveSlots: number } {
    return {
      liveBytes: this.table.liveBytes,
      totalBytes: this.backing.end,
      residentBytes: this.backing.residentBytes() + this.cache.bytes,
      liveSlots: this.table.liveSlots,
    };
  }

  async persist(dir: string, generation: number): Promise<ColbertManifestPart> {
    this.checkOpen();
    checkGeneration(generation);
    return this.queue.run(async () => {
      const target = path.resolve(dir);
      const b = this.backing;
      if (b instanceof FileBacking && b.dir === target) {
        // Re-using a generation (a retried save whose manifest was never committed) rewrites
        // that generation's offsets file; committed generations are never passed again.
        await io(`fsync ${b.path}`, () => b.sync());
      } else {
        await this.rewrite(target, generation);
      }
      return this.writeOffsets(generation);
    });
  }

  async compact(dir: string, generation: number): Promise<ColbertCompaction> {
    this.checkOpen();
    checkGeneration(generation);
    return this.queue.run(async () => {
      const old = this.backing;
      const oldOffsets = this.offsetsFile;
      const target = path.resolve(dir);
      if (old instanceof FileBacking && old.path === path.join(target, dataFileName(generation))) {
        // A retried compaction (its manifest was not committed): the data file is already the
        // compacted one of this generation; persist it as is.
        await io(`fsync ${old.path}`, () => old.sync());
        return { part: await this.writeOffsets(generation), obsoleteFiles: [] };
      }
      await this.rewrite(target, generation);
      const part = await this.writeOffsets(generation);
      const obsoleteFiles: string[] = [];
      if (old instanceof FileBacking && old.dir === target) {
        obsoleteFiles.push(old.name);
        if (oldOffsets !== undefined && oldOffsets !== part.offsetsFile) obsoleteFiles.push(oldOffsets);
      }
      return { part, obsoleteFiles };
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.queue.run(async () => {
      this.closed = true;
      await this.drainReads();
      this.cache.clear();
      await this.backing.close();
      await this.maxSim.close();
    });
  }

  // ---- internals ----

  private checkOpen(): void {
    if (this.closed) throw new M3Error(ErrorCodes.DISPOSED, "This ColBERT store is closed; open it again with openColbertStore(dir, part).");
  }

  private generationError(generation: number): M3Error {
    return new M3Error(
      ErrorCodes.INVALID_ARGUMENT,
      `generation ${generation} was already used by this ColBERT store's files; pass a generation greater than every committed one.`,
      { details: { generation } },
    );
  }

  private async drainReads(): Promise<void> {
    while (this.reads.size > 0) await Promise.allSettled([...this.reads]);
  }

  /**
   * Calls `fn` with the payloads of the listed slots (missing slots skipped), reading only those
   * records: first the ones in memory or in the cache, then one batch per read of at most
   * READ_BATCH_BYTES. Each payload's `index` is its position in `slots`.
   */
  private async visit(slots: Uint32Array, fn: VisitBatch): Promise<void> {
    const backing = this.backing;
    const table = this.table;
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
      if (this.backing === backing && this.table.offsets[p.slot] === p.offset && this.table.lengths[p.slot] === p.length) {
        // A view into the read buffer, or into a coalesced range, is copied: the cache keeps its own.
        if (this.cache.capacity > 0) this.cache.set(p.slot, whole && into === undefined ? bytes : bytes.slice());
      }
    });
    return items;
  }

  /** Writes the live records into `dir/colbert-data.<generation>.bin` and switches to that file. */
  private async rewrite(dir: string, generation: number): Promise<void> {
    const name = dataFileName(generation);
    const file = path.join(dir, name);
    const old = this.backing;
    if (old instanceof FileBacking && old.path === file) throw this.generationError(generation);
    const next = new OffsetTable(Math.max(16, this.table.lengths.length));
    const header = writeFileHeader({ codec: this.codec, dim: this.dim, poolFactor: this.poolFactor });
    const fh = await io(`create ${file}`, () => fs.open(file, "w+"));
    let end = 0;
    try {
      await io(`write ${file}`, async () => {
        await writeFully(fh, header, 0);
        end = header.byteLength;
        const slots = this.table.slotsByOffset();
        const chunk: Uint8Array[] = [];
        let chunkBytes = 0;
        let chunkStart = end;
        const flush = async (): Promise<void> => {
          if (chunkBytes === 0) return;
          const buf = new Uint8Array(chunkBytes);
          let o = 0;
          for (const c of chunk) { buf.set(c, o); o += c.byteLength; }
          await writeFully(fh, buf, chunkStart);
          chunk.length = 0;
          chunkStart += chunkBytes;
          chunkBytes = 0;
        };
        await this.visitRecords(slots, async (slot, bytes) => {
          next.set(slot, end, bytes.byteLength);
          end += bytes.byteLength;
          chunk.push(bytes);
          chunkBytes += bytes.byteLength;
          if (chunkBytes >= MAX_READ) await flush();
        });
        await flush();
        await fh.datasync();
      });
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
    await syncDir(dir);
    // `remove` is synchronous and may have run while records were being copied.
    for (const slot of next.slotsByOffset()) if (!this.table.has(slot)) next.remove(slot);
    this.backing = new FileBacking(dir, name, file, fh, end, end);
    this.table = next;
    this.offsetsFile = undefined;
    await this.drainReads();
    await old.close();
  }

  /** Visits whole verified records of `slots` (in offset order), reading in bounded batches. */
  private async visitRecords(slots: Uint32Array, fn: (slot: number, bytes: Uint8Array) => Promise<void>): Promise<void> {
    const backing = this.backing;
    const file = backing instanceof FileBacking ? backing.path : "memory";
    for (let start = 0; start < slots.length;) {
      const ranges: ByteRange[] = [];
      let bytes = 0;
      let end = start;
      while (end < slots.length && (end === start || bytes + this.table.lengths[slots[end]!]! <= MAX_READ)) {
        const s = slots[end++]!;
        ranges.push({ offset: this.table.offsets[s]!, length: this.table.lengths[s]! });
        bytes += this.table.lengths[s]!;
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

  private async writeOffsets(generation: number): Promise<ColbertManifestPart> {
    const b = this.backing;
    if (!(b instanceof FileBacking)) throw new Error("unreachable: persist without a data file");
    const name = offsetsFileName(generation);
    const file = path.join(b.dir, name);
    await io(`write ${file}`, () => writeFileSynced(file, this.table.serialize(b.end)));
    await syncDir(b.dir);
    this.offsetsFile = name;
    return {
      codec: this.codec,
      poolFactor: this.poolFactor,
      dim: this.dim,
      dataFile: b.name,
      committedBytes: b.end,
      offsetsFile: name,
      liveSlots: this.table.liveSlots,
      liveBytes: this.table.liveBytes,
      formatVersion: FORMAT_VERSION,
    };
  }

  /** In-memory mode: rewrite the image when dead records dominate (synchronous, so reads stay consistent). */
  private maybeCompactMemory(): void {
    const b = this.backing;
    if (!(b instanceof MemoryBacking)) return;
    const dead = b.end - this.table.liveBytes;
    if (dead <= MEMORY_COMPACT_MIN || dead <= this.table.liveBytes) return;
    const next = new MemoryBacking(writeFileHeader({ codec: this.codec, dim: this.dim, poolFactor: this.poolFactor }));
    const table = new OffsetTable(Math.max(16, this.table.lengths.length));
    for (const slot of this.table.slotsByOffset()) {
      const bytes = b.view({ offset: this.table.offsets[slot]!, length: this.table.lengths[slot]! });
      table.set(slot, next.appendSync(bytes), bytes.byteLength);
    }
    this.backing = next;
    this.table = table;
  }
}
