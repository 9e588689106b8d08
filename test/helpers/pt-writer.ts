/**
 * Writes small `torch.save`-style archives byte by byte, so tests can build hostile `.pt`
 * files (lying zip headers, deflate bombs, absurd shapes, negative offsets, NaN weights)
 * without Python. The pickle is what torch writes for a state_dict: a dict of
 * `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())`.
 */
import { constants, deflateRawSync } from "node:zlib";

export type StorageType = "FloatStorage" | "HalfStorage" | "DoubleStorage" | "BFloat16Storage";

export interface PtTensor {
  key: string;
  storage: string;
  type?: StorageType;
  /** Any number (tests pass negative, fractional, NaN). */
  offset: number;
  size: number[];
  stride: number[];
}

export interface PtEntry {
  name: string;
  data: Buffer;
  /** 0 stored, 8 deflate. @default 0 */
  method?: 0 | 8;
  /** The uncompressed size written in the headers. @default the real one */
  declaredSize?: number;
  /** Deflate bytes to store instead of compressing `data` (method 8). */
  compressed?: Buffer;
}

const ascii = (s: string): Buffer => Buffer.from(s, "latin1");

function pickleInt(n: number): Buffer {
  if (Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31) {
    const b = Buffer.alloc(5);
    b[0] = 0x4a; // BININT
    b.writeInt32LE(n, 1);
    return b;
  }
  if (Number.isInteger(n) && Math.abs(n) < 2 ** 63) {
    const b = Buffer.alloc(10);
    b[0] = 0x8a; // LONG1
    b[1] = 8;
    b.writeBigInt64LE(BigInt(n), 2);
    return b;
  }
  const b = Buffer.alloc(9);
  b[0] = 0x47; // BINFLOAT (big-endian)
  b.writeDoubleBE(n, 1);
  return b;
}

function pickleStr(s: string): Buffer {
  const u = Buffer.from(s, "utf8");
  const len = Buffer.alloc(4);
  len.writeUInt32LE(u.length);
  return Buffer.concat([Buffer.from([0x58]), len, u]); // BINUNICODE
}

const global = (module: string, name: string): Buffer => ascii(`c${module}\n${name}\n`);
const MARK = Buffer.from([0x28]);
const TUPLE = Buffer.from([0x74]);
const REDUCE = Buffer.from([0x52]);

const tuple = (items: Buffer[]): Buffer => Buffer.concat([MARK, ...items, TUPLE]);

/** The data.pkl of a state_dict holding `tensors`. */
export function statePickle(tensors: readonly PtTensor[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0x80, 0x02, 0x7d]), MARK]; // PROTO 2, EMPTY_DICT, MARK
  for (const t of tensors) {
    const numel = t.size.reduce((a, b) => a * Math.max(0, b), 1);
    const pid = tuple([pickleStr("storage"), global("torch", t.type ?? "FloatStorage"), pickleStr(t.storage), pickleStr("cpu"), pickleInt(Number.isSafeInteger(numel) ? numel : 0)]);
    const args = tuple([
      Buffer.concat([pid, Buffer.from([0x51])]), // BINPERSID
      pickleInt(t.offset),
      tuple(t.size.map(pickleInt)),
      tuple(t.stride.map(pickleInt)),
      Buffer.from([0x89]), // False
      global("collections", "OrderedDict"),
      Buffer.from([0x29]), // EMPTY_TUPLE
      REDUCE,
    ]);
    parts.push(pickleStr(t.key), global("torch._utils", "_rebuild_tensor_v2"), args, REDUCE);
  }
  parts.push(Buffer.from([0x75, 0x2e])); // SETITEMS, STOP
  return Buffer.concat(parts);
}

/** A zip archive (no CRC check is made by the reader; CRCs are written as 0). */
export function zip(entries: readonly PtEntry[]): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const method = e.method ?? 0;
    const body = method === 8 ? (e.compressed ?? deflateRawSync(e.data)) : e.data;
    const size = e.declaredSize ?? e.data.length;
    const name = Buffer.from(e.name, "utf8");
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(method, 8);
    lh.writeUInt32LE(body.length, 18);
    lh.writeUInt32LE(size, 22);
    lh.writeUInt16LE(name.length, 26);
    locals.push(lh, name, body);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(20, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(method, 10);
    ch.writeUInt32LE(body.length, 20);
    ch.writeUInt32LE(size, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(offset, 42);
    central.push(ch, name);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

/** A `.pt` archive: `m/data.pkl` for `tensors` and one `m/data/<key>` entry per storage given. */
export function ptFile(tensors: readonly PtTensor[], storages: Record<string, Buffer | Omit<PtEntry, "name">>): Buffer {
  const entries: PtEntry[] = [{ name: "m/data.pkl", data: statePickle(tensors) }];
  for (const [key, s] of Object.entries(storages)) {
    entries.push(Buffer.isBuffer(s) ? { name: `m/data/${key}`, data: s } : { name: `m/data/${key}`, ...s });
  }
  entries.push({ name: "m/version", data: Buffer.from("3\n") });
  return zip(entries);
}

/** Little-endian float32 bytes. */
export const f32 = (values: ArrayLike<number>): Buffer => Buffer.from(new Float32Array(Array.from(values)).buffer);

/**
 * A raw deflate stream that inflates to `mib` MiB of zeros while being ~1 KiB per MiB: one
 * flushed block of 1 MiB of zeros, repeated, then an empty final block. Cheap to build.
 */
export function deflateBomb(mib: number): Buffer {
  const block = deflateRawSync(Buffer.alloc(1 << 20), { finishFlush: constants.Z_FULL_FLUSH });
  return Buffer.concat([...Array.from({ length: mib }, () => block), Buffer.from([0x03, 0x00])]);
}

/** A valid head pair for hidden size `h`: sparse [1, h] + [1], colbert [h, h] + [h], float32, values from `seed`. */
export function headFiles(h: number, seed = 1): { sparse: Buffer; colbert: Buffer } {
  const vals = (n: number, k: number) => Array.from({ length: n }, (_, i) => Math.sin(seed * 7 + k * 13 + i) / 4);
  const lin = (outF: number): Buffer =>
    ptFile(
      [
        { key: "weight", storage: "0", offset: 0, size: [outF, h], stride: [h, 1] },
        { key: "bias", storage: "1", offset: 0, size: [outF], stride: [1] },
      ],
      { "0": f32(vals(outF * h, 1)), "1": f32(vals(outF, 2)) },
    );
  return { sparse: lin(1), colbert: lin(h) };
}
