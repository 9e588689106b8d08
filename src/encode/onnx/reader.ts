/**
 * A small protobuf reader and the parts of ONNX's ModelProto the int8 quantiser rewrites
 * (field numbers from onnx/onnx.proto). Messages it does not rewrite are kept as their raw
 * field bytes, so a model written back holds everything it held (opsets, metadata, value_info).
 */
import { ErrorCodes, M3Error } from "../../errors.js";

/** One field of a message: its number, wire type and value (varint / fixed as bigint, bytes as a view). */
export interface RawField {
  field: number;
  wire: number;
  /** Varint (wire 0) and fixed (wire 1, 5) values. */
  int: bigint;
  /** Length-delimited (wire 2) payload, a view into the input. */
  bytes: Uint8Array;
  /** The whole field (tag included) as it appeared, a view into the input. */
  raw: Uint8Array;
}

function corrupt(what: string): never {
  throw new M3Error(ErrorCodes.MODEL_INVALID, `Cannot parse the ONNX graph: ${what}. The file is truncated or not an ONNX model; re-download it.`);
}

/** Every field of the message in `buf`, in order. */
export function readFields(buf: Uint8Array): RawField[] {
  const out: RawField[] = [];
  let p = 0;
  const varint = (): bigint => {
    let x = 0n;
    let shift = 0n;
    for (;;) {
      if (p >= buf.length) corrupt("a varint runs past the end");
      const b = buf[p++]!;
      x |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return x;
      shift += 7n;
      if (shift > 63n) corrupt("a varint is longer than 10 bytes");
    }
  };
  const empty: Uint8Array = new Uint8Array(0);
  while (p < buf.length) {
    const start = p;
    const tag = varint();
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    let int = 0n;
    let bytes: Uint8Array = empty;
    if (wire === 0) int = varint();
    else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      if (p + n > buf.length) corrupt("a fixed-size field runs past the end");
      const dv = new DataView(buf.buffer, buf.byteOffset + p, n);
      int = wire === 1 ? dv.getBigUint64(0, true) : BigInt(dv.getUint32(0, true));
      p += n;
    } else if (wire === 2) {
      const len = Number(varint());
      if (p + len > buf.length) corrupt(`field ${field} claims ${len} bytes past the end`);
      bytes = buf.subarray(p, p + len);
      p += len;
    } else corrupt(`unsupported wire type ${wire} (field ${field})`);
    out.push({ field, wire, int, bytes, raw: buf.subarray(start, p) });
  }
  return out;
}

const text = (b: Uint8Array): string => new TextDecoder().decode(b);

/** A repeated int64 field that may be packed (wire 2) or not (wire 0). */
function ints(fields: RawField[], n: number): number[] {
  const out: number[] = [];
  for (const f of fields) {
    if (f.field !== n) continue;
    if (f.wire === 0) out.push(Number(BigInt.asIntN(64, f.int)));
    else if (f.wire === 2) {
      let x = 0n;
      let shift = 0n;
      for (const b of f.bytes) {
        x |= BigInt(b & 0x7f) << shift;
        shift += 7n;
        if ((b & 0x80) === 0) {
          out.push(Number(BigInt.asIntN(64, x)));
          x = 0n;
          shift = 0n;
        }
      }
    }
  }
  return out;
}

/** NodeProto: input=1, output=2, name=3, op_type=4, attribute=5, doc_string=6, domain=7. */
export interface OnnxNode {
  inputs: string[];
  outputs: string[];
  name: string;
  opType: string;
  domain: string;
  /** The node as read (written back unchanged when the node is kept). */
  raw: Uint8Array;
}

export function parseNode(raw: Uint8Array): OnnxNode {
  const fs = readFields(raw);
  const strs = (n: number) => fs.filter((f) => f.field === n).map((f) => text(f.bytes));
  return { inputs: strs(1), outputs: strs(2), name: strs(3)[0] ?? "", opType: strs(4)[0] ?? "", domain: strs(7)[0] ?? "", raw };
}

/** TensorProto: dims=1, data_type=2, float_data=4, name=8, raw_data=9, external_data=13, data_location=14. */
export interface OnnxTensor {
  name: string;
  dims: number[];
  dataType: number;
  /** Inline bytes (raw_data), if any. */
  rawData: Uint8Array | undefined;
  /** float_data values, if the tensor keeps its floats there. */
  floatData: Float32Array | undefined;
  /** External data (data_location = EXTERNAL): file relative to the model, offset, length. */
  external: { location: string; offset: number; length: number | undefined } | undefined;
  raw: Uint8Array;
}

export function parseTensor(raw: Uint8Array): OnnxTensor {
  const fs = readFields(raw);
  const name = fs.find((f) => f.field === 8);
  const type = fs.find((f) => f.field === 2);
  const rawData = fs.find((f) => f.field === 9);
  const floats = fs.filter((f) => f.field === 4);
  let floatData: Float32Array | undefined;
  if (floats.length > 0) {
    const vals: number[] = [];
    for (const f of floats) {
      if (f.wire === 5) vals.push(new DataView(f.raw.buffer, f.raw.byteOffset + f.raw.length - 4, 4).getFloat32(0, true));
      else {
        const dv = new DataView(f.bytes.buffer, f.bytes.byteOffset, f.bytes.length);
        for (let i = 0; i + 4 <= f.bytes.length; i += 4) vals.push(dv.getFloat32(i, true));
      }
    }
    floatData = Float32Array.from(vals);
  }
  let external: OnnxTensor["external"];
  const location = fs.find((f) => f.field === 14);
  if (location !== undefined && location.int === 1n) {
    const kv = new Map<string, string>();
    for (const f of fs.filter((g) => g.field === 13)) {
      const e = readFields(f.bytes);
      kv.set(text(e.find((g) => g.field === 1)?.bytes ?? new Uint8Array()), text(e.find((g) => g.field === 2)?.bytes ?? new Uint8Array()));
    }
    const loc = kv.get("location");
    if (loc === undefined) corrupt(`tensor ${name ? text(name.bytes) : "?"} is external but names no location`);
    external = { location: loc, offset: Number(kv.get("offset") ?? 0), length: kv.has("length") ? Number(kv.get("length")) : undefined };
  }
  return {
    name: name ? text(name.bytes) : "",
    dims: ints(fs, 1),
    dataType: type ? Number(type.int) : 0,
    rawData: rawData?.bytes,
    floatData,
    external,
    raw,
  };
}

/** ModelProto with its graph split out: graph=7, opset_import=8 {domain=1, version=2}. */
export interface OnnxModel {
  /** Every ModelProto field except the graph, as read. */
  otherFields: RawField[];
  opsets: Map<string, number>;
  /** GraphProto fields: node=1, initializer=5 parsed; the rest (name, inputs, outputs, value_info, …) raw. */
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  graphOtherFields: RawField[];
  inputs: string[];
  outputs: string[];
}

export function parseModel(buf: Uint8Array): OnnxModel {
  const fields = readFields(buf);
  const graphs = fields.filter((f) => f.field === 7 && f.wire === 2);
  if (graphs.length === 0) corrupt("it has no graph");
  // A message field that occurs more than once is merged: its parts read as one message.
  const graphBytes = graphs.length === 1 ? graphs[0]!.bytes : concat(graphs.map((f) => f.bytes));
  const opsets = new Map<string, number>();
  for (const f of fields.filter((g) => g.field === 8 && g.wire === 2)) {
    const o = readFields(f.bytes);
    opsets.set(text(o.find((g) => g.field === 1)?.bytes ?? new Uint8Array()), Number(o.find((g) => g.field === 2)?.int ?? 0n));
  }
  const g = readFields(graphBytes);
  const valueName = (b: Uint8Array) => text(readFields(b).find((f) => f.field === 1)?.bytes ?? new Uint8Array());
  return {
    otherFields: fields.filter((f) => f.field !== 7),
    opsets,
    nodes: g.filter((f) => f.field === 1 && f.wire === 2).map((f) => parseNode(f.bytes)),
    initializers: g.filter((f) => f.field === 5 && f.wire === 2).map((f) => parseTensor(f.bytes)),
    graphOtherFields: g.filter((f) => f.field !== 1 && f.field !== 5),
    inputs: g.filter((f) => f.field === 11).map((f) => valueName(f.bytes)),
    outputs: g.filter((f) => f.field === 12).map((f) => valueName(f.bytes)),
  };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
