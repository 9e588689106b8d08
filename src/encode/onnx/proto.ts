/**
 * A tiny protobuf writer and the handful of ONNX messages the generated graphs need
 * (field numbers from onnx/onnx.proto). Write-only; no reflection. Large payloads are kept by
 * reference (`bytes`, `embed`, `raw`) until `finish()` or a streaming write of `chunks()`.
 */

/** Appends protobuf wire-format fields to a growing byte list. */
export class ProtoWriter {
  private readonly parts: Uint8Array[] = [];
  private size = 0;

  private push(b: Uint8Array): void {
    this.parts.push(b);
    this.size += b.length;
  }

  private varint(v: number | bigint): void {
    let x = BigInt.asUintN(64, BigInt(v));
    const out: number[] = [];
    while (x >= 0x80n) {
      out.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    out.push(Number(x));
    this.push(Uint8Array.from(out));
  }

  private tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  /** A varint field (int32/int64/enum). */
  int(field: number, v: number | bigint): this {
    this.tag(field, 0);
    this.varint(v);
    return this;
  }

  /** A length-delimited bytes field. */
  bytes(field: number, b: Uint8Array): this {
    this.tag(field, 2);
    this.varint(b.length);
    this.push(b);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  /** An embedded message field. */
  message(field: number, m: ProtoWriter): this {
    return this.bytes(field, m.finish());
  }

  /** An embedded message field whose parts are appended by reference (no copy of large payloads). */
  embed(field: number, m: ProtoWriter): this {
    this.tag(field, 2);
    this.varint(m.size);
    for (const p of m.parts) this.push(p);
    return this;
  }

  /** Bytes already in wire format (a field copied from a parsed message). */
  raw(b: Uint8Array): this {
    this.push(b);
    return this;
  }

  /** Encoded length so far. */
  get byteLength(): number {
    return this.size;
  }

  /** The encoded bytes as a list of parts, in order (for streaming them to a file). */
  chunks(): readonly Uint8Array[] {
    return this.parts;
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

/** ONNX TensorProto.DataType values used here. */
export const OnnxType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, FLOAT16: 10 } as const;

/** TensorProto with little-endian `raw_data` given as bytes (kept by reference). */
export function rawTensorProto(name: string, dims: number[], dataType: number, rawData: Uint8Array): ProtoWriter {
  const w = new ProtoWriter();
  for (const d of dims) w.int(1, d);
  return w.int(2, dataType).string(8, name).bytes(9, rawData);
}

/** TensorProto: dims=1, data_type=2, name=8, raw_data=9 (little-endian float32). */
export function tensorProto(name: string, dims: number[], data: Float32Array): ProtoWriter {
  const w = new ProtoWriter();
  for (const d of dims) w.int(1, d);
  w.int(2, OnnxType.FLOAT).string(8, name);
  const le = new Uint8Array(data.length * 4);
  const dv = new DataView(le.buffer);
  for (let i = 0; i < data.length; i++) dv.setFloat32(i * 4, data[i]!, true);
  return w.bytes(9, le);
}

/** ValueInfoProto(name=1, type=2) with TypeProto.tensor_type=1 {elem_type=1, shape=2 {dim=1 {dim_value=1 | dim_param=2}}}. */
export function valueInfo(name: string, elemType: number, dims: Array<number | string>): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of dims) {
    const dim = new ProtoWriter();
    if (typeof d === "number") dim.int(1, d);
    else dim.string(2, d);
    shape.message(1, dim);
  }
  const tensorType = new ProtoWriter().int(1, elemType).message(2, shape);
  const type = new ProtoWriter().message(1, tensorType);
  return new ProtoWriter().string(1, name).message(2, type);
}

/** An integer attribute: AttributeProto name=1, i=3, type=20 (INT = 2). */
export function intAttribute(name: string, v: number): ProtoWriter {
  return new ProtoWriter().string(1, name).int(3, v).int(20, 2);
}

/** NodeProto: input=1, output=2, name=3, op_type=4, attribute=5. */
export function node(op: string, inputs: string[], outputs: string[], name: string, attrs: ProtoWriter[] = []): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of inputs) w.string(1, i);
  for (const o of outputs) w.string(2, o);
  w.string(3, name).string(4, op);
  for (const a of attrs) w.message(5, a);
  return w;
}

/** GraphProto: node=1, name=2, initializer=5, input=11, output=12. */
export function graph(
  name: string,
  nodes: ProtoWriter[],
  initializers: ProtoWriter[],
  inputs: ProtoWriter[],
  outputs: ProtoWriter[],
): ProtoWriter {
  const w = new ProtoWriter();
  for (const n of nodes) w.message(1, n);
  w.string(2, name);
  for (const t of initializers) w.message(5, t);
  for (const i of inputs) w.message(11, i);
  for (const o of outputs) w.message(12, o);
  return w;
}

/** ModelProto: ir_version=1, producer_name=2, graph=7, opset_import=8 {domain=1, version=2}. */
export function model(g: ProtoWriter, opset: number, irVersion = 8): Uint8Array {
  const op = new ProtoWriter().string(1, "").int(2, opset);
  return new ProtoWriter().int(1, irVersion).string(2, "langchain-m3").message(7, g).message(8, op).finish();
}
