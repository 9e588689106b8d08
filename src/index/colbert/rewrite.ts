/**
 * Rewriting the ColBERT store's image: the live records copied into a new data file of a generation (for a save to
 * another folder or a compaction), and the in-memory image compacted when dead records dominate.
 */
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { ErrorCodes, M3Error } from "../../errors.js";
import { syncDir } from "../../util/fs.js";
import { FileBacking, MemoryBacking, writeFully } from "./backing.js";
import { dataFileName, io } from "./files.js";
import { OffsetTable } from "./offset-table.js";
import { MAX_READ, type RecordReader, type StoreImage } from "./reads.js";

/** An in-memory store rewrites its image when dead bytes exceed both this and the live bytes. */
const MEMORY_COMPACT_MIN = 4 * 1024 * 1024;

/**
 * Writes the live records of `image` into `dir/colbert-data.<generation>.bin` (synced, then the folder) and
 * switches `image` to that file; the old backing is closed once the reads in flight are done.
 */
export async function rewriteImage(image: StoreImage, reader: RecordReader, header: Uint8Array, dir: string, generation: number): Promise<void> {
  const name = dataFileName(generation);
  const file = path.join(dir, name);
  const old = image.backing;
  if (old instanceof FileBacking && old.path === file) throw generationError(generation);
  const next = new OffsetTable(Math.max(16, image.table.lengths.length));
  const fh = await io(`create ${file}`, () => fs.open(file, "w+"));
  let end = 0;
  try {
    await io(`write ${file}`, async () => {
      await writeFully(fh, header, 0);
      end = header.byteLength;
      const slots = image.table.slotsByOffset();
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
      await reader.visitRecords(slots, async (slot, bytes) => {
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
  for (const slot of next.slotsByOffset()) if (!image.table.has(slot)) next.remove(slot);
  image.backing = new FileBacking(dir, name, file, fh, end, end);
  image.table = next;
      await reader.drain();
  await old.close();
}

/** A generation already used by the store's files. */
export function generationError(generation: number): M3Error {
  return new M3Error(
    ErrorCodes.INVALID_ARGUMENT,
    `generation ${generation} was already used by this ColBERT store's files; pass a generation greater than every committed one.`,
    { details: { generation } },
  );
}

/** In-memory mode: rewrite the image when dead records dominate (synchronous, so reads stay consistent). */
export function maybeCompactMemory(image: StoreImage, header: () => Uint8Array): void {
  const b = image.backing;
  if (!(b instanceof MemoryBacking)) return;
  const dead = b.end - image.table.liveBytes;
  if (dead <= MEMORY_COMPACT_MIN || dead <= image.table.liveBytes) return;
  const next = new MemoryBacking(header());
  const table = new OffsetTable(Math.max(16, image.table.lengths.length));
  for (const slot of image.table.slotsByOffset()) {
    const bytes = b.view({ offset: image.table.offsets[slot]!, length: image.table.lengths[slot]! });
    table.set(slot, next.appendSync(bytes), bytes.byteLength);
  }
  image.backing = next;
  image.table = table;
}
