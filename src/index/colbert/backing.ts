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
  /** One buffer per range, each starting at its range's offset (so 8-aligned offsets stay aligned). */
  read(ranges: readonly ByteRange[]): Promise<Uint8Array[]>;
  /** Bytes this backing keeps in memory. */
  residentBytes(): number;
  close(): Promise<void>;
}

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
    if (this.end + bytes.byteLength > this.buf.byteLength) {
      const next = new Uint8Array(Math.max(this.end + bytes.byteLength, this.buf.byteLength * 2));
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

  async read(ranges: readonly ByteRange[]): Promise<Uint8Array[]> {
    return Promise.all(ranges.map(async (r) => {
      const buf = new Uint8Array(r.length);
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
