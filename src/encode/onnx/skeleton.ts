/**
 * The structure of an ONNX file without its large inline weights, read with positional reads.
 * Every initializer whose inline `raw_data` holds at least `minBytes` becomes an external-data
 * reference to the same file (location = the file's name, offset = where those bytes already
 * lie, length), so a graph rewritten from the skeleton and loaded from bytes (with the model's
 * folder as onnxruntime's external-initializer folder) reads its weights from the file: the
 * process never holds a second copy of them. Tensors already external are kept as they are.
 *
 * onnxruntime refuses external data whose real path leaves the folder it is given, and a
 * Hugging Face cache folder is symlinks into `blobs/`. So the locations are made relative to
 * the file's real folder (`folder`): the file's own real name, and for tensors already external
 * their files' real names, when those lie in that folder too (as all blobs do).
 */
import { open, realpath, type FileHandle } from "node:fs/promises";
import { basename, dirname, isAbsolute, relative, resolve } from "node:path";
import { ErrorCodes, M3Error } from "../../errors.js";
import { ProtoWriter } from "./proto.js";
import { readFields } from "./reader.js";

/** Inline tensors at least this large are left in the file and referenced. */
export const REFERENCE_MIN_BYTES = 64 * 1024;

export interface ModelSkeleton {
  /** The ModelProto with the large inline tensors referenced instead of copied. */
  bytes: Uint8Array;
  /** Initializers turned into references to the file, and their bytes. */
  referenced: number;
  referencedBytes: number;
  /** The folder every external-data location in `bytes` is relative to (the file's real folder). */
  folder: string;
}

const WINDOW = 1 << 20;

function corrupt(file: string, what: string): never {
  throw new M3Error(ErrorCodes.MODEL_INVALID, `Cannot parse the ONNX graph ${file}: ${what}. The file is truncated or not an ONNX model; re-download it.`, {
    details: { file },
  });
}

/** Positional reads through a 1 MiB window. */
class FileCursor {
  private win = new Uint8Array(0);
  private winStart = 0;
  constructor(
    private readonly fh: FileHandle,
    readonly size: number,
    private readonly file: string,
  ) {}

  /** `len` bytes at `pos`: a view into the window (copy it to keep it). */
  async at(pos: number, len: number): Promise<Uint8Array> {
    if (pos < 0 || pos + len > this.size) corrupt(this.file, `a field at byte ${pos} runs past the end`);
    if (pos >= this.winStart && pos + len <= this.winStart + this.win.length) return this.win.subarray(pos - this.winStart, pos - this.winStart + len);
    const n = Math.min(Math.max(len, WINDOW), this.size - pos);
    const b = new Uint8Array(n);
    let o = 0;
    while (o < n) {
      const { bytesRead } = await this.fh.read(b, o, n - o, pos + o);
      if (bytesRead === 0) corrupt(this.file, "it ended while being read");
      o += bytesRead;
    }
    this.win = b;
    this.winStart = pos;
    return b.subarray(0, len);
  }
}

interface FieldAt {
  field: number;
  wire: number;
  /** Where the field (tag) starts, and where its payload starts and ends. */
  start: number;
  payload: number;
  end: number;
  int: bigint;
}

async function varintAt(c: FileCursor, pos: number, end: number, file: string): Promise<[bigint, number]> {
  const b = await c.at(pos, Math.min(10, end - pos));
  let x = 0n;
  let shift = 0n;
  for (let i = 0; i < b.length; i++) {
    x |= BigInt(b[i]! & 0x7f) << shift;
    if ((b[i]! & 0x80) === 0) return [x, pos + i + 1];
    shift += 7n;
  }
  return corrupt(file, `a varint at byte ${pos} does not end`);
}

/** The fields of the message in [start, end), in order, without reading their payloads. */
async function fieldsIn(c: FileCursor, start: number, end: number, file: string): Promise<FieldAt[]> {
  const out: FieldAt[] = [];
  let p = start;
  while (p < end) {
    const [tag, q] = await varintAt(c, p, end, file);
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    let int = 0n;
    let payload = q;
    let e: number;
    if (wire === 0) [int, e] = await varintAt(c, q, end, file);
    else if (wire === 1 || wire === 5) e = q + (wire === 1 ? 8 : 4);
    else if (wire === 2) {
      const [len, r] = await varintAt(c, q, end, file);
      payload = r;
      e = r + Number(len);
    } else corrupt(file, `unsupported wire type ${wire} (field ${field})`);
    if (e > end) corrupt(file, `field ${field} at byte ${p} runs past its message`);
    out.push({ field, wire, start: p, payload, end: e, int });
    p = e;
  }
  return out;
}

const copy = async (c: FileCursor, f: FieldAt): Promise<Uint8Array> => (await c.at(f.start, f.end - f.start)).slice();

/** ModelProto.graph = 7; GraphProto.initializer = 5; TensorProto.raw_data = 9, external_data = 13, data_location = 14. */
export async function readModelSkeleton(file: string, minBytes = REFERENCE_MIN_BYTES): Promise<ModelSkeleton> {
  const real = await realpath(file);
  const folder = dirname(real);
  // Through a symlink, locations written relative to the link's folder must be re-expressed.
  const relink = real !== resolve(file);
  const relocate = async (loc: string): Promise<string> => {
    const target = await realpath(resolve(dirname(file), loc)).catch(() => undefined);
    const rel = target === undefined ? "" : relative(folder, target);
    return rel === "" || rel.startsWith("..") || isAbsolute(rel) ? loc : rel;
  };
  /** An external_data entry (key = 1, value = 2) with a location key re-expressed. */
  const relinked = async (entry: Uint8Array): Promise<Uint8Array> => {
    const kv = readFields(entry);
    const key = new TextDecoder().decode(kv.find((f) => f.field === 1)?.bytes ?? new Uint8Array());
    if (key !== "location") return new ProtoWriter().bytes(13, entry).finish();
    const value = new TextDecoder().decode(kv.find((f) => f.field === 2)?.bytes ?? new Uint8Array());
    return new ProtoWriter().message(13, new ProtoWriter().string(1, key).string(2, await relocate(value))).finish();
  };
  const fh = await open(real, "r");
  try {
    const c = new FileCursor(fh, (await fh.stat()).size, file);
    const location = basename(real);
    let referenced = 0;
    let referencedBytes = 0;
    const model = new ProtoWriter();
    for (const f of await fieldsIn(c, 0, c.size, file)) {
      if (f.field !== 7 || f.wire !== 2) {
        model.raw(await copy(c, f));
        continue;
      }
      const graph = new ProtoWriter();
      for (const g of await fieldsIn(c, f.payload, f.end, file)) {
        const rewrite = g.field === 5 && g.wire === 2 && (relink || g.end - g.payload >= minBytes);
        if (!rewrite) {
          graph.raw(await copy(c, g));
          continue;
        }
        const tensor = new ProtoWriter();
        let data: FieldAt | undefined;
        for (const t of await fieldsIn(c, g.payload, g.end, file)) {
          if (t.field === 9 && t.wire === 2 && t.end - t.payload >= minBytes) data = t;
          else if (t.field === 13 && t.wire === 2 && relink) tensor.raw(await relinked((await c.at(t.payload, t.end - t.payload)).slice()));
          else tensor.raw(await copy(c, t));
        }
        if (data !== undefined) {
          const entry = (k: string, v: string) => new ProtoWriter().string(1, k).string(2, v);
          tensor.message(13, entry("location", location));
          tensor.message(13, entry("offset", String(data.payload)));
          tensor.message(13, entry("length", String(data.end - data.payload)));
          tensor.int(14, 1);
          referenced++;
          referencedBytes += data.end - data.payload;
        }
        graph.embed(5, tensor);
      }
      model.embed(7, graph);
    }
    return { bytes: model.finish(), referenced, referencedBytes, folder };
  } finally {
    await fh.close();
  }
}
