/**
 * Reads a PyTorch `torch.save(module.state_dict())` zip file into float32 tensors, without
 * Python: ZIP container -> `data.pkl` (pickle with persistent ids for the storages) ->
 * `data/<key>` raw little-endian storages, upcast from fp16 / bf16 / fp64 to float32.
 */
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { ErrorCodes, M3Error } from "../../errors.js";
import { bfloat16ToFloat32, halfToFloat32 } from "../../math/half.js";
import { PyGlobal, unpickle } from "./pickle.js";
import { ZipArchive } from "./zip.js";

/** A dense float32 tensor in row-major (contiguous) order. */
export interface FloatTensor {
  shape: number[];
  data: Float32Array;
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
interface TensorRef { storage: StorageRef; offset: number; size: number[]; stride: number[] }

const isTensorRef = (v: unknown): v is TensorRef =>
  typeof v === "object" && v !== null && "storage" in v && "size" in v && "stride" in v;

/** Parses the bytes of a `.pt` file. `name` is used in error messages. */
export function parseStateDict(bytes: Buffer, name: string): Map<string, FloatTensor> {
  try {
    if (bytes.length >= 2 && bytes[0] === 0x80) {
      throw new Error("this is a legacy (pre-1.6, non-zip) torch file; re-save it with a current torch.save");
    }
    const zip = new ZipArchive(bytes);
    const pkl = [...zip.entries.keys()].find((k) => k === "data.pkl" || k.endsWith("/data.pkl"));
    if (pkl === undefined) throw new Error("the zip archive has no data.pkl entry (not a torch.save file)");
    const prefix = pkl.slice(0, pkl.length - "data.pkl".length);
    const order = zip.entries.get(`${prefix}byteorder`);
    if (order !== undefined && zip.read(`${prefix}byteorder`).toString("latin1").trim() !== "little") {
      throw new Error("big-endian torch files are not supported");
    }
    const root = unpickle(zip.read(pkl), {
      findClass: (module, cls) => findClass(module, cls),
      persistentLoad: (pid) => persistentLoad(pid),
    });
    if (!(root instanceof Map)) throw new Error("the pickled object is not a dict (expected a state_dict)");
    const out = new Map<string, FloatTensor>();
    for (const [k, v] of root) {
      if (typeof k !== "string" || !isTensorRef(v)) continue;
      out.set(k, materialize(zip, prefix, v));
    }
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

/** Reads and parses a `.pt` file from disk. */
export async function loadStateDict(path: string): Promise<Map<string, FloatTensor>> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new M3Error(ErrorCodes.MODEL_NOT_FOUND, `Cannot read ${path}: ${(err as Error).message}.`, {
      cause: err,
      details: { file: path },
    });
  }
  return parseStateDict(bytes, basename(path));
}

function findClass(module: string, name: string): unknown {
  const q = `${module}.${name}`;
  if (q === "collections.OrderedDict") return () => new Map();
  if (q === "torch._utils._rebuild_tensor_v2" || q === "torch._utils._rebuild_tensor") {
    return (a: unknown[]): TensorRef => ({
      storage: a[0] as StorageRef,
      offset: Number(a[1]),
      size: (a[2] as unknown[]).map(Number),
      stride: (a[3] as unknown[]).map(Number),
    });
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

function materialize(zip: ZipArchive, prefix: string, t: TensorRef): FloatTensor {
  const dtype = t.storage.dtype;
  if (!(dtype in BYTES)) throw new Error(`unsupported tensor storage type ${dtype} (expected float16/bfloat16/float32)`);
  const d = dtype as DType;
  const raw = zip.read(`${prefix}data/${t.storage.key}`);
  const n = Math.floor(raw.length / BYTES[d]);
  const copy = new Uint8Array(n * BYTES[d]);
  copy.set(raw.subarray(0, copy.length)); // aligned copy
  let all: Float32Array;
  if (d === "float16") all = halfToFloat32(new Uint16Array(copy.buffer));
  else if (d === "bfloat16") all = bfloat16ToFloat32(new Uint16Array(copy.buffer));
  else if (d === "float64") all = Float32Array.from(new Float64Array(copy.buffer));
  else all = new Float32Array(copy.buffer);
  const count = t.size.reduce((a, b) => a * b, 1);
  const data = new Float32Array(count);
  const rank = t.size.length;
  const idx = new Array<number>(rank).fill(0);
  for (let i = 0; i < count; i++) {
    let src = t.offset;
    for (let r = 0; r < rank; r++) src += idx[r]! * t.stride[r]!;
    if (src >= all.length) throw new Error(`tensor data runs past its storage (${all.length} values)`);
    data[i] = all[src]!;
    for (let r = rank - 1; r >= 0; r--) {
      if (++idx[r]! < t.size[r]!) break;
      idx[r] = 0;
    }
  }
  return { shape: t.size, data };
}
