/**
 * Reads a PyTorch `torch.save(module.state_dict())` zip file into float32 tensors, without
 * Python: ZIP container -> `data.pkl` (pickle with persistent ids for the storages) ->
 * `data/<key>` raw little-endian storages, upcast from fp16 / bf16 / fp64 to float32.
 *
 * The file is untrusted input: its size, every tensor's shape, offset and strides are checked
 * against limits (derived from the model's hidden size for the BGE-M3 heads) and against the
 * storage's real size before anything is allocated; a compressed storage inflates to at most
 * what its tensors need; every weight must be finite.
 */
import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { basename } from "node:path";
import { ErrorCodes, M3Error } from "../../errors.js";
import { bfloat16ToFloat32, halfToFloat32 } from "../../math/half.js";
import { describe } from "../../util/validate.js";
import { PyGlobal, unpickle } from "./pickle.js";
import { ZipArchive } from "./zip.js";

/** A dense float32 tensor in row-major (contiguous) order. */
export interface FloatTensor {
  shape: number[];
  data: Float32Array;
}

/** What a `.pt` file may hold; anything larger is MODEL_INVALID before it is allocated. */
export interface StateDictLimits {
  /** Largest file read, in bytes. */
  maxFileBytes: number;
  /** Most elements one tensor may have. */
  maxElements: number;
  /** When set, every dimension of every tensor must be one of these sizes (the heads: 1 or the hidden size). */
  dims?: readonly number[];
}

/** Hidden size the limits assume when the model does not say (BGE-M3: 1024). */
export const MAX_HEAD_HIDDEN = 4096;
/** Bytes a `.pt` file may hold besides its tensors' data: zip headers, the pickle, version records. */
const OVERHEAD_BYTES = 1024 * 1024;
/** How far past what its tensors need a compressed storage may inflate. */
const INFLATE_MARGIN = 64 * 1024;
/** Largest `data.pkl` read (a state_dict's pickle is a few hundred bytes per tensor). */
const MAX_PICKLE_BYTES = 16 * 1024 * 1024;
const MAX_RANK = 8;

/**
 * Limits for the BGE-M3 heads of an encoder with hidden size `hidden`: sparse_linear is
 * [1, H] + [1], colbert_linear [H, H] + [H], so every dimension is 1 or H, a tensor has at most
 * H² elements and the file at most 8 bytes (float64) per element plus the zip and pickle.
 * Unknown `hidden`: the bounds of H = MAX_HEAD_HIDDEN, any dimension sizes.
 */
export function headLimits(hidden?: number): StateDictLimits {
  const H = Math.min(hidden ?? MAX_HEAD_HIDDEN, MAX_HEAD_HIDDEN);
  return {
    maxElements: H * H,
    maxFileBytes: 8 * (H * H + H) + OVERHEAD_BYTES,
    ...(hidden === undefined ? {} : { dims: [1, hidden] }),
  };
}

type DType = "float16" | "bfloat16" | "float32" | "float64";

const STORAGE_DTYPES: Record<string, DType> = {
  HalfStorage: "float16",
  BFloat16Storage: "bfloat16",
  FloatStorage: "float32",
  DoubleStorage: "float64",
};
const BYTES: Record<DType, number> = { float16: 2, bfloat16: 2, float32: 4, float64: 8 };

interface StorageRef { dtype: DType | string; key: string }
/** What `_rebuild_tensor_v2` was called with, unchecked. */
interface TensorRef { storage: unknown; offset: unknown; size: unknown; stride: unknown }
/** A tensor reference whose every number was checked. */
interface CheckedRef { key: string; dtype: DType; storageKey: string; offset: number; size: number[]; stride: number[]; count: number; span: number }

const TENSOR_REF = Symbol("tensor");
const isTensorRef = (v: unknown): v is TensorRef => typeof v === "object" && v !== null && TENSOR_REF in v;

/** Parses the bytes of a `.pt` file. `name` is used in error messages. */
export function parseStateDict(bytes: Buffer, name: string, limits: StateDictLimits = headLimits()): Map<string, FloatTensor> {
  try {
    if (bytes.length > limits.maxFileBytes) throw new Error(tooLarge(bytes.length, limits));
    if (bytes.length >= 2 && bytes[0] === 0x80) {
      throw new Error("this is a legacy (pre-1.6, non-zip) torch file; re-save it with a current torch.save");
    }
    const zip = new ZipArchive(bytes);
    const pkl = [...zip.entries.keys()].find((k) => k === "data.pkl" || k.endsWith("/data.pkl"));
    if (pkl === undefined) throw new Error("the zip archive has no data.pkl entry (not a torch.save file)");
    const prefix = pkl.slice(0, pkl.length - "data.pkl".length);
    const order = zip.entries.get(`${prefix}byteorder`);
    if (order !== undefined && zip.read(`${prefix}byteorder`, 64).toString("latin1").trim() !== "little") {
      throw new Error("big-endian torch files are not supported");
    }
    const root = unpickle(zip.read(pkl, MAX_PICKLE_BYTES), {
      findClass: (module, cls) => findClass(module, cls),
      persistentLoad: (pid) => persistentLoad(pid),
    });
    if (!(root instanceof Map)) throw new Error("the pickled object is not a dict (expected a state_dict)");
    // Check every tensor, then read each storage once (capped by what its tensors need), then copy.
    const refs: CheckedRef[] = [];
    for (const [k, v] of root) {
      if (typeof k === "string" && isTensorRef(v)) refs.push(checkRef(k, v, limits));
    }
    const storages = readStorages(zip, prefix, refs);
    const out = new Map<string, FloatTensor>();
    for (const r of refs) out.set(r.key, materialize(r, storages.get(r.storageKey) as Buffer));
    return out;
  } catch (err) {
    if (err instanceof M3Error) throw err;
    throw new M3Error(
      ErrorCodes.MODEL_INVALID,
      `Cannot read ${name}: ${(err as Error).message}. The file must be a PyTorch state_dict saved with torch.save ` +
        `(e.g. sparse_linear.pt / colbert_linear.pt from the BAAI/bge-m3 repository); re-download it.`,
      { cause: err, details: { file: name } },
    );
  }
}

const tooLarge = (size: number, limits: StateDictLimits): string =>
  `it is ${size} bytes, more than the ${limits.maxFileBytes} the heads of this model can take` +
  (limits.dims === undefined ? "" : ` (hidden size ${limits.dims[limits.dims.length - 1]})`);

/**
 * Reads and parses a `.pt` file from disk. Only a regular file (a symlink to one is fine) of at
 * most `limits.maxFileBytes` is read: a device, FIFO or folder is MODEL_INVALID, not read.
 */
export async function loadStateDict(path: string, limits: StateDictLimits = headLimits()): Promise<Map<string, FloatTensor>> {
  if (typeof path !== "string" || path === "") {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `The path of a .pt file must be a non-empty string; got ${describe(path)}.`);
  }
  const name = basename(path);
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just below).
    fh = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    throw new M3Error(ErrorCodes.MODEL_NOT_FOUND, `Cannot read ${path}: ${(err as Error).message}.`, {
      cause: err,
      details: { file: path },
    });
  }
  let bytes: Buffer;
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      const kind = st.isDirectory() ? "a folder" : st.isCharacterDevice() || st.isBlockDevice() ? "a device" : st.isFIFO() ? "a FIFO" : "not a file";
      throw new M3Error(
        ErrorCodes.MODEL_INVALID,
        `${path} is ${kind}, not a regular file: ${name} must be the PyTorch state_dict from the model's repository (BAAI/bge-m3); replace it.`,
        { details: { file: path } },
      );
    }
    if (st.size > limits.maxFileBytes) {
      throw new M3Error(ErrorCodes.MODEL_INVALID, `Cannot read ${name}: ${tooLarge(st.size, limits)}. Re-download it from BAAI/bge-m3.`, {
        details: { file: path, size: st.size, max: limits.maxFileBytes },
      });
    }
    bytes = Buffer.alloc(st.size);
    let got = 0;
    while (got < bytes.length) {
      const { bytesRead } = await fh.read(bytes, got, bytes.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    bytes = bytes.subarray(0, got);
  } catch (err) {
    if (err instanceof M3Error) throw err;
    throw new M3Error(ErrorCodes.MODEL_INVALID, `Cannot read ${path}: ${(err as Error).message}.`, { cause: err, details: { file: path } });
  } finally {
    await fh.close();
  }
  return parseStateDict(bytes, name, limits);
}

function findClass(module: string, name: string): unknown {
  const q = `${module}.${name}`;
  if (q === "collections.OrderedDict") return () => new Map();
  if (q === "torch._utils._rebuild_tensor_v2" || q === "torch._utils._rebuild_tensor") {
    return (a: unknown[]): TensorRef => ({ [TENSOR_REF]: true, storage: a[0], offset: a[1], size: a[2], stride: a[3] }) as TensorRef;
  }
  if (q === "torch._utils._rebuild_parameter" || q === "torch._utils._rebuild_parameter_with_state") {
    return (a: unknown[]) => a[0];
  }
  return undefined;
}

function persistentLoad(pid: unknown): StorageRef {
  if (!Array.isArray(pid) || pid[0] !== "storage") throw new Error("unexpected persistent id in the pickle");
  const type = pid[1];
  const typeName = type instanceof PyGlobal ? type.name : String(type);
  return { dtype: STORAGE_DTYPES[typeName] ?? typeName, key: String(pid[2]) };
}

const isIndex = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/** Checks a tensor's storage, offset, shape and strides; nothing is allocated here. */
function checkRef(key: string, t: TensorRef, limits: StateDictLimits): CheckedRef {
  const s = t.storage as Partial<StorageRef> | undefined;
  if (typeof s !== "object" || s === null || typeof s.key !== "string" || typeof s.dtype !== "string") {
    throw new Error(`tensor "${key}" has no storage`);
  }
  if (!(s.dtype in BYTES)) throw new Error(`unsupported tensor storage type ${s.dtype} (expected float16/bfloat16/float32)`);
  const { size, stride, offset } = t;
  if (!Array.isArray(size) || !Array.isArray(stride) || size.length !== stride.length || size.length > MAX_RANK) {
    throw new Error(`tensor "${key}" has a malformed shape or strides (up to ${MAX_RANK} dimensions, one stride per dimension)`);
  }
  if (!isIndex(offset)) throw new Error(`tensor "${key}" has storage offset ${String(offset)}; it must be an integer >= 0`);
  let count = 1;
  for (let r = 0; r < size.length; r++) {
    const n: unknown = size[r];
    const st: unknown = stride[r];
    if (!isIndex(n) || !isIndex(st)) throw new Error(`tensor "${key}" has size ${String(n)} / stride ${String(st)} in dimension ${r}; both must be integers >= 0`);
    if (limits.dims !== undefined && n !== 0 && !limits.dims.includes(n)) {
      throw new Error(
        `tensor "${key}" has shape [${size.join(", ")}], expected every dimension to be ${limits.dims.join(" or ")} (the heads of an encoder ` +
          `with hidden size ${limits.dims[limits.dims.length - 1]}); the head files do not belong to this encoder, download matching ones`,
      );
    }
    count *= n;
  }
  if (count > limits.maxElements) {
    throw new Error(`tensor "${key}" declares shape [${size.join(", ")}] (${count} values), more than the ${limits.maxElements} a head of this model can have`);
  }
  // The last storage element the tensor reads, +1 (0 for an empty tensor).
  let span = 0;
  if (count > 0) {
    span = offset + 1;
    for (let r = 0; r < size.length; r++) span += ((size[r] as number) - 1) * (stride[r] as number);
    if (!Number.isSafeInteger(span)) throw new Error(`tensor "${key}" reaches past any storage (offset ${offset}, strides [${stride.join(", ")}])`);
  }
  return { key, dtype: s.dtype as DType, storageKey: s.key, offset, size: size as number[], stride: stride as number[], count, span };
}

/** Each storage's bytes, read once, checked against what its tensors need before reading. */
function readStorages(zip: ZipArchive, prefix: string, refs: readonly CheckedRef[]): Map<string, Buffer> {
  const need = new Map<string, { bytes: number; dtype: DType }>();
  for (const r of refs) {
    const prev = need.get(r.storageKey);
    if (prev !== undefined && prev.dtype !== r.dtype) throw new Error(`storage ${r.storageKey} is read as both ${prev.dtype} and ${r.dtype}`);
    need.set(r.storageKey, { bytes: Math.max(prev?.bytes ?? 0, r.span * BYTES[r.dtype]), dtype: r.dtype });
  }
  const out = new Map<string, Buffer>();
  for (const [key, n] of need) {
    const name = `${prefix}data/${key}`;
    const entry = zip.entries.get(name);
    if (entry === undefined) throw new Error(`the archive has no storage "${name}"`);
    const users = refs.filter((r) => r.storageKey === key).map((r) => `"${r.key}"`).join(", ");
    if (entry.size < n.bytes) {
      throw new Error(`tensor ${users} reads ${n.bytes} bytes of storage ${key}, which holds ${entry.size} (offset or strides run past it)`);
    }
    const raw = zip.read(name, n.bytes + INFLATE_MARGIN);
    if (raw.length < n.bytes) throw new Error(`storage ${key} holds ${raw.length} bytes, its tensors need ${n.bytes}`);
    out.set(key, raw);
  }
  return out;
}

/** Copies a checked tensor out of its storage into a contiguous float32 array; a non-finite value is refused. */
function materialize(t: CheckedRef, raw: Buffer): FloatTensor {
  const width = BYTES[t.dtype];
  const copy = new Uint8Array(t.span * width);
  copy.set(raw.subarray(0, copy.length)); // aligned copy of the part the tensor reads
  let all: Float32Array;
  if (t.dtype === "float16") all = halfToFloat32(new Uint16Array(copy.buffer));
  else if (t.dtype === "bfloat16") all = bfloat16ToFloat32(new Uint16Array(copy.buffer));
  else if (t.dtype === "float64") all = Float32Array.from(new Float64Array(copy.buffer));
  else all = new Float32Array(copy.buffer);
  const data = new Float32Array(t.count);
  const rank = t.size.length;
  const idx = new Array<number>(rank).fill(0);
  for (let i = 0; i < t.count; i++) {
    let src = t.offset;
    for (let r = 0; r < rank; r++) src += idx[r]! * t.stride[r]!;
    const v = all[src]!;
    if (!Number.isFinite(v)) throw new Error(`tensor "${t.key}" holds a non-finite value (${v}) at element ${i}; the weights are corrupt`);
    data[i] = v;
    for (let r = rank - 1; r >= 0; r--) {
      if (++idx[r]! < t.size[r]!) break;
      idx[r] = 0;
    }
  }
  return { shape: t.size, data };
}
