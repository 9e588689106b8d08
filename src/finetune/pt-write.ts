/**
 * Writes a `torch.save(state_dict)` file of float16 tensors: a stored (uncompressed) zip of
 * `<name>/data.pkl` (a protocol-2 pickle of `{key: torch._utils._rebuild_tensor_v2(...)}`),
 * `<name>/data/<i>` (little-endian half storages) and `<name>/version`, with real CRC-32s, so
 * both `torch.load` and the package's own reader (`loadStateDict`) read it.
 */
import { toHalfBits } from "../math/half.js";

export interface HalfTensor {
  key: string;
  shape: number[];
  values: ArrayLike<number>;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const op = (...b: number[]): Buffer => Buffer.from(b);
function str(s: string): Buffer {
  const u = Buffer.from(s, "utf8");
  const n = Buffer.alloc(4);
  n.writeUInt32LE(u.length);
  return Buffer.concat([op(0x58), n, u]); // BINUNICODE
}
function int(v: number): Buffer {
  const b = Buffer.alloc(5);
  b[0] = 0x4a; // BININT
  b.writeInt32LE(v, 1);
  return b;
}
const glob = (m: string, n: string): Buffer => Buffer.from(`c${m}\n${n}\n`, "latin1"); // GLOBAL
const tup = (items: Buffer[]): Buffer => Buffer.concat([op(0x28), ...items, op(0x74)]); // MARK … TUPLE

function pickle(tensors: readonly HalfTensor[]): Buffer {
  const parts = [op(0x80, 0x02), glob("collections", "OrderedDict"), op(0x29, 0x52), op(0x28)]; // OrderedDict(), MARK
  tensors.forEach((t, i) => {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    const stride = t.shape.map((_, d) => t.shape.slice(d + 1).reduce((a, b) => a * b, 1));
    const pid = tup([str("storage"), glob("torch", "HalfStorage"), str(String(i)), str("cpu"), int(numel)]);
    const args = tup([
      Buffer.concat([pid, op(0x51)]), // BINPERSID
      int(0),
      tup(t.shape.map(int)),
      tup(stride.map(int)),
      op(0x89), // False
      glob("collections", "OrderedDict"),
      op(0x29, 0x52), // ()  REDUCE
    ]);
    parts.push(str(t.key), glob("torch._utils", "_rebuild_tensor_v2"), args, op(0x52));
  });
  parts.push(op(0x75, 0x2e)); // SETITEMS STOP
  return Buffer.concat(parts);
}

function zip(entries: Array<{ name: string; data: Buffer }>): Buffer {
  const out: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, "utf8");
    const crc = crc32(e.data);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(e.data.length, 18);
    lh.writeUInt32LE(e.data.length, 22);
    lh.writeUInt16LE(name.length, 26);
    out.push(lh, name, e.data);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(20, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(e.data.length, 20);
    ch.writeUInt32LE(e.data.length, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(offset, 42);
    central.push(ch, name);
    offset += 30 + name.length + e.data.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...out, cd, end]);
}

/** The bytes of a `.pt` file holding `tensors` as float16; `archive` is the zip's top folder (torch uses the file's stem). */
export function halfStateDict(archive: string, tensors: readonly HalfTensor[]): Buffer {
  const entries = [{ name: `${archive}/data.pkl`, data: pickle(tensors) }];
  tensors.forEach((t, i) => {
    const b = Buffer.alloc(t.values.length * 2);
    for (let k = 0; k < t.values.length; k++) b.writeUInt16LE(toHalfBits(t.values[k]!), k * 2);
    entries.push({ name: `${archive}/data/${i}`, data: b });
  });
  entries.push({ name: `${archive}/version`, data: Buffer.from("3\n") });
  return zip(entries);
}
