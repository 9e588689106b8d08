/**
 * Where the records live: an in-memory image of the data file, or the data file itself
 * (append-only, positional reads). Both use the same byte layout (record.ts), so persisting an
 * in-memory store is writing its image.
 */
import type { FileHandle } from "node:fs/promises";
import { ErrorCodes, M3Error } from "../../errors.js";

/** A byte range of the data file. */
export interface ByteRange {
  offset: number;
  length: number;
}

export interface Backing {
  readonly kind: "memory" | "file";
  /** Bytes of the image (header + records), i.e. where the next record goes. */
  readonly end: number;
  /** Appends a record (its length a multiple of 8); returns its offset. */
  append(bytes: Uint8Array): Promise<number>;
  /**
   * One buffer per range, each starting at its range's offset (so 8-aligned offsets stay aligned).
   * With `into`, a file backing reads into that buffer instead of fresh ones (range k at the sum of
   * the earlier ranges' lengths rounded up to 8; see {@link packedBytes}), so the views stay valid
   * only until the caller reuses it.
   */
  read(ranges: readonly ByteRange[], into?: Uint8Array): Promise<Uint8Array[]>;
  /** Bytes this backing keeps in memory. */
  residentBytes(): number;
  close(): Promise<void>;
}

/** `n` rounded up to a multiple of 8 (where the next range starts in a packed read buffer). */
const pad8 = (n: number): number => (n + 7) & ~7;

/** Bytes `read(ranges, into)` needs in `into`: each range's length rounded up to 8, summed. */
export function packedBytes(ranges: readonly ByteRange[]): number {
  let n = 0;
  for (const r of ranges) n += pad8(r.length);
  return n;
}

/** The largest Uint8Array V8 allocates here (2^32 - 1 bytes on Node 20, 64-bit): the in-memory image's limit. */
const MAX_MEMORY_IMAGE = 2 ** 32 - 1;

export class MemoryBacking implements Backing {
  readonly kind = "memory";
  private buf: Uint8Array;
  end: number;

  constructor(header: Uint8Array) {
    this.buf = new Uint8Array(Math.max(1 << 16, header.byteLength));
    this.buf.set(header);
    this.end = header.byteLength;
  }

  append(bytes: Uint8Array): Promise<number> {
    return Promise.resolve(this.appendSync(bytes));
  }

  appendSync(bytes: Uint8Array): number {
    const need = this.end + bytes.byteLength;
    if (need > this.buf.byteLength) {
      if (need > MAX_MEMORY_IMAGE) {
        throw new M3Error(
          ErrorCodes.OUT_OF_RANGE,
          `An in-memory ColBERT store holds at most ${MAX_MEMORY_IMAGE} bytes of records (about ${Math.floor(MAX_MEMORY_IMAGE / 164_000)} documents of 160 int8 rows at dim 1024); this append needs ${need}. Save the index to a directory early in the build (save(dir) after the first batches): from then on records are appended to the data file on disk.`,
        );
      }
      const next = new Uint8Array(Math.min(MAX_MEMORY_IMAGE, Math.max(need, this.buf.byteLength * 2)));
      next.set(this.buf.subarray(0, this.end));
      this.buf = next;
    }
    const offset = this.end;
    this.buf.set(bytes, offset);
    this.end += bytes.byteLength;
    return offset;
  }

  /** Views, not copies (valid even after the buffer grows: they keep the old buffer alive). */
  read(ranges: readonly ByteRange[]): Promise<Uint8Array[]> {
    return Promise.resolve(ranges.map((r) => this.view(r)));
  }

  view(r: ByteRange): Uint8Array {
    return this.buf.subarray(r.offset, r.offset + r.length);
  }

  residentBytes(): number {
    return this.buf.byteLength;
  }

  close(): Promise<void> {
    this.buf = new Uint8Array(0);
    this.end = 0;
    return Promise.resolve();
  }
}

/** Writes all of `bytes` at `position`. */
export async function writeFully(fh: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) {
    const { bytesWritten } = await fh.write(bytes, done, bytes.byteLength - done, position + done);
    done += bytesWritten;
  }
}

export class FileBacking implements Backing {
  readonly kind = "file";
  private truncatePending: boolean;

  /**
   * @param path absolute path of the data file; `end` = committed bytes. When the file is longer
   *   (a crashed append), the tail is ignored and truncated before the next append.
   */
  constructor(readonly dir: string, readonly name: string, readonly path: string, private readonly fh: FileHandle, public end: number, fileSize: number) {
    this.truncatePending = fileSize > end;
  }

  async append(bytes: Uint8Array): Promise<number> {
    if (this.truncatePending) {
      await this.fh.truncate(this.end);
      this.truncatePending = false;
    }
    const offset = this.end;
    await writeFully(this.fh, bytes, offset);
    this.end += bytes.byteLength;
    return offset;
  }

  async read(ranges: readonly ByteRange[], into?: Uint8Array): Promise<Uint8Array[]> {
    if (into !== undefined && into.byteLength < packedBytes(ranges)) throw new Error(`unreachable: read buffer of ${into.byteLength} bytes for ${packedBytes(ranges)}`);
    let at = 0;
    return Promise.all(ranges.map(async (r) => {
      // Fresh buffers cost a page fault per 4 KiB on first touch (several times the read itself on
      // VMs); a caller-kept buffer is already resident.
      const buf = into === undefined ? new Uint8Array(r.length) : into.subarray(at, at + r.length);
      at += pad8(r.length);
      let done = 0;
      while (done < r.length) {
        const { bytesRead } = await this.fh.read(buf, done, r.length - done, r.offset + done);
        if (bytesRead === 0) {
          throw new M3Error(
            ErrorCodes.INDEX_CORRUPT,
            `ColBERT data file ${this.path} ends at byte ${r.offset + done}, but a record needs bytes up to ${r.offset + r.length}. The file was truncated: restore the index from a backup or rebuild it.`,
            { details: { file: this.path } },
          );
        }
        done += bytesRead;
      }
      return buf;
    }));
  }

  /** Flushes appended records to stable storage. */
  async sync(): Promise<void> {
    await this.fh.datasync();
  }

  residentBytes(): number {
    return 0;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

/**
 * A read buffer kept between reads of one owner (a store), lent through a `Scratch`
 * (src/util/scratch.ts): `read(ranges, into)` then touches no fresh memory. Grows geometrically;
 * never shrinks below what was needed.
 */
export class ReadBuffer {
  private buf = new Uint8Array(0);

  /** The buffer with room for `bytes` (grown when needed). */
  room(bytes: number): Uint8Array {
    if (this.buf.byteLength < bytes) this.buf = new Uint8Array(Math.max(bytes, 2 * this.buf.byteLength));
    return this.buf;
  }
}
