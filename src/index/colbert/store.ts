/**
 * The ColBERT store: one encoded record per slot in an append-only image (memory or file),
 * an OffsetTable slot -> (offset, length), and a byte-bounded LRU of raw records for the
 * disk-backed mode. Mutations (put, persist, compact, close) run one at a time on a queue;
 * reads (reads.ts) run concurrently and capture the backing and table entries synchronously;
 * rewrites of the image (a save elsewhere, a compaction, the in-memory compaction) are rewrite.ts.
 */
import * as path from "node:path";
import { ErrorCodes, M3Error } from "../../errors.js";
import type { MultiVector, RowScorer } from "../../types.js";
import type { Backing } from "./backing.js";
import { FileBacking } from "./backing.js";
import type { ColbertCodec } from "../../multivector/codec/codec.js";
import { createCodec } from "../../multivector/codec/codecs.js";
import { syncDir, writeFileSynced } from "../../util/fs.js";
import { SerialQueue } from "../../util/serial.js";
import { dataFileName, io, offsetsFileName } from "./files.js";
import { ByteLru } from "./lru.js";
import type { OffsetTable } from "./offset-table.js";
import { poolTokens } from "../../multivector/pool.js";
import { MaxSim } from "../../multivector/maxsim/maxsim.js";
import { FORMAT_VERSION, newRecord, RECORD_HEADER_BYTES, recordBytes, recordIn, sealRecord, writeFileHeader } from "./record.js";
import { RecordReader, type StoreImage } from "./reads.js";
import { maybeCompactMemory, rewriteImage } from "./rewrite.js";
import type { ColbertCodecName, ColbertCompaction, ColbertKernel, ColbertManifestPart, ColbertStore } from "./types.js";
import { checkGeneration, checkMatrix, checkSlot, checkSlots } from "./validate.js";

/** Bytes of records `putMany` encodes into one buffer and appends with one write. */
const PUT_BATCH_BYTES = 32 * 1024 * 1024;

export { READ_BATCH_BYTES } from "./reads.js";

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
  /** The backing and offset table now (a rewrite replaces both; reads capture them synchronously). */
  private readonly image: StoreImage;
  private readonly reader: RecordReader;
  private offsetsFile: string | undefined;
  /** Writes, persists, compaction and close, one at a time (src/util/serial.ts: a failure does not block the next). */
  private readonly queue = new SerialQueue();
  private closed = false;
  private readonly maxSim: MaxSim;

  constructor(init: StoreInit) {
    this.codec = init.codec;
    this.dim = init.dim;
    this.poolFactor = init.poolFactor;
    this.impl = createCodec(init.codec, init.dim);
    this.cache = new ByteLru(init.cacheBytes);
    this.image = { table: init.table, backing: init.backing };
    this.reader = new RecordReader(this.image, this.cache);
    this.offsetsFile = init.offsetsFile;
    this.maxSim = new MaxSim(init.kernel, init.kernelThreads, init.rowScorer);
  }

  get size(): number {
    return this.image.table.liveSlots;
  }

  has(slot: number): boolean {
    return this.image.table.has(slot);
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
      const offset = await io("append a ColBERT record", () => this.image.backing.append(bytes));
      this.image.table.set(slot, offset, bytes.byteLength);
      this.cache.delete(slot);
      maybeCompactMemory(this.image, () => this.fileHeader());
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
        let offset = await io("append ColBERT records", () => this.image.backing.append(buf));
        for (const p of batch) {
          this.image.table.set(p.slot, offset, p.length);
          this.cache.delete(p.slot);
          offset += p.length;
        }
        maybeCompactMemory(this.image, () => this.fileHeader());
      });
      start = end;
    }
  }

  remove(slot: number): void {
    this.checkOpen();
    checkSlot(slot);
    this.image.table.remove(slot);
    this.cache.delete(slot);
    maybeCompactMemory(this.image, () => this.fileHeader());
  }

  async get(slot: number): Promise<MultiVector | undefined> {
    this.checkOpen();
    checkSlot(slot);
    let result: MultiVector | undefined;
    await this.reader.visit(Uint32Array.of(slot), async ([item]) => {
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
      for (const slot of slots) if (this.image.table.has(slot)) rows += Math.floor((this.image.table.lengths[slot]! - RECORD_HEADER_BYTES) / this.impl.bytesPerToken);
      await this.maxSim.blocks(codec, this.dim, query, rows, (i, sum) => (out[i] = sum * inv), (blocks) =>
        this.reader.visit(slots, async (items) => {
          for (const it of items) await blocks.add(it.index, it.tokens, it.payload);
          await blocks.flush();
        }),
      );
      return out;
    }
    const q = this.impl.prepare(query.data, query.tokens);
    await this.reader.visit(slots, async (items) => {
      for (const it of items) out[it.index] = this.impl.maxSimSum(q, it.payload, it.tokens) * inv;
    });
    return out;
  }

  stats(): { liveBytes: number; totalBytes: number; residentBytes: number; liveSlots: number } {
    return {
      liveBytes: this.image.table.liveBytes,
      totalBytes: this.image.backing.end,
      residentBytes: this.image.backing.residentBytes() + this.cache.bytes,
      liveSlots: this.image.table.liveSlots,
    };
  }

  async persist(dir: string, generation: number): Promise<ColbertManifestPart> {
    this.checkOpen();
    checkGeneration(generation);
    return this.queue.run(async () => {
      const target = path.resolve(dir);
      const b = this.image.backing;
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
      const old = this.image.backing;
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
      await this.reader.drain();
      this.cache.clear();
      await this.image.backing.close();
      await this.maxSim.close();
    });
  }

  // ---- internals ----

  private checkOpen(): void {
    if (this.closed) throw new M3Error(ErrorCodes.DISPOSED, "This ColBERT store is closed; open it again with openColbertStore(dir, part).");
  }

  private fileHeader(): Uint8Array {
    return writeFileHeader({ codec: this.codec, dim: this.dim, poolFactor: this.poolFactor });
  }

  /** Copies the live records into a new data file of `generation` in `dir` and switches to it. */
  private async rewrite(dir: string, generation: number): Promise<void> {
    await rewriteImage(this.image, this.reader, this.fileHeader(), dir, generation);
    this.offsetsFile = undefined;
  }

  private async writeOffsets(generation: number): Promise<ColbertManifestPart> {
    const b = this.image.backing;
    if (!(b instanceof FileBacking)) throw new Error("unreachable: persist without a data file");
    const name = offsetsFileName(generation);
    const file = path.join(b.dir, name);
    await io(`write ${file}`, () => writeFileSynced(file, this.image.table.serialize(b.end)));
    await syncDir(b.dir);
    this.offsetsFile = name;
    return {
      codec: this.codec,
      poolFactor: this.poolFactor,
      dim: this.dim,
      dataFile: b.name,
      committedBytes: b.end,
      offsetsFile: name,
      liveSlots: this.image.table.liveSlots,
      liveBytes: this.image.table.liveBytes,
      formatVersion: FORMAT_VERSION,
    };
  }
}
