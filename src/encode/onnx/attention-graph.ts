/**
 * Load-time rewrite of a BERT-style encoder graph's attention into onnxruntime's fused
 * `com.microsoft.MultiHeadAttention`. Each block
 *
 *   Reshape→Transpose(Q), Reshape→Transpose(K, [0,2,3,1]), Reshape→Transpose(V);
 *   MatMul(Q,K) → Mul|Div(scale) → Add(mask bias) → Softmax → MatMul(·,V) → Transpose → Reshape
 *
 * becomes one `If(no padding)` whose branches are a MultiHeadAttention without a mask (the CPU
 * kernel's flash path: attention memory linear in L) and one with the `attention_mask` as key
 * padding mask (padded batches; scores materialised once, not ~2.3 times as unfused). Nothing
 * is rewritten unless every Softmax of the graph is such a block whose bias comes from
 * `attention_mask` alone; the weights (initializers, external data) are copied by reference.
 */
import { OnnxType, ProtoWriter, graph, intAttribute, node } from "./proto.js";
import { parseModel, parseTensor, readFields, type OnnxNode, type OnnxTensor } from "./reader.js";

/** The rewritten model and how many attention blocks it fused. */
export interface FusedAttention {
  bytes: Uint8Array;
  blocks: number;
}

const MASK = "attention_mask";
const MS_DOMAIN = "com.microsoft";
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

interface Attr {
  ints: number[];
  i: bigint | undefined;
  t: Uint8Array | undefined;
}

function attrs(n: OnnxNode): Map<string, Attr> {
  const out = new Map<string, Attr>();
  for (const f of readFields(n.raw)) {
    if (f.field !== 5 || f.wire !== 2) continue;
    const a = readFields(f.bytes);
    const ints: number[] = [];
    for (const g of a.filter((x) => x.field === 8)) {
      if (g.wire === 0) ints.push(Number(BigInt.asIntN(64, g.int)));
      else for (const h of readPacked(g.bytes)) ints.push(h);
    }
    const name = text(a.find((x) => x.field === 1)?.bytes ?? new Uint8Array());
    out.set(name, { ints, i: a.find((x) => x.field === 3)?.int, t: a.find((x) => x.field === 5)?.bytes });
  }
  return out;
}

function readPacked(b: Uint8Array): number[] {
  const out: number[] = [];
  let x = 0n;
  let shift = 0n;
  for (const c of b) {
    x |= BigInt(c & 0x7f) << shift;
    shift += 7n;
    if ((c & 0x80) === 0) {
      out.push(Number(BigInt.asIntN(64, x)));
      x = 0n;
      shift = 0n;
    }
  }
  return out;
}

/** The float values of a small inline tensor (raw_data or float_data), or undefined. */
function floats(t: Pick<OnnxTensor, "dataType" | "rawData" | "floatData" | "external">): Float32Array | undefined {
  if (t.dataType !== OnnxType.FLOAT || t.external !== undefined) return undefined;
  if (t.floatData !== undefined) return t.floatData;
  if (t.rawData === undefined || t.rawData.length % 4 !== 0) return undefined;
  const dv = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.length);
  return Float32Array.from({ length: t.rawData.length / 4 }, (_, i) => dv.getFloat32(i * 4, true));
}

function int64s(t: OnnxTensor): number[] | undefined {
  if (t.dataType !== OnnxType.INT64 || t.rawData === undefined || t.external !== undefined) return undefined;
  const dv = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.length);
  return Array.from({ length: t.rawData.length / 8 }, (_, i) => Number(dv.getBigInt64(i * 8, true)));
}

/** A float attribute: AttributeProto name=1, f=2 (fixed32), type=20 (FLOAT = 1). */
function floatAttribute(name: string, v: number): ProtoWriter {
  const f = new Uint8Array(5);
  f[0] = (2 << 3) | 5;
  new DataView(f.buffer).setFloat32(1, v, true);
  return new ProtoWriter().string(1, name).raw(f).int(20, 1);
}

/** A graph attribute: AttributeProto name=1, g=6, type=20 (GRAPH = 5). */
function graphAttribute(name: string, g: ProtoWriter): ProtoWriter {
  return new ProtoWriter().string(1, name).embed(6, g).int(20, 5);
}

/** ValueInfoProto of a float tensor of unknown shape. */
function floatValue(name: string): ProtoWriter {
  const type = new ProtoWriter().message(1, new ProtoWriter().int(1, OnnxType.FLOAT));
  return new ProtoWriter().string(1, name).message(2, type);
}

/**
 * Rewrites every attention block of `buf` (an ONNX model), or returns undefined when the graph
 * is not one this rewrite understands (then it is loaded as it is). `heads` is used when the
 * graph's Reshape shapes are not constants.
 */
export function fuseAttention(buf: Uint8Array, heads: number | undefined): FusedAttention | undefined {
  const m = parseModel(buf);
  if (!m.inputs.includes(MASK) || m.opsets.has(MS_DOMAIN)) return undefined;
  const producer = new Map<string, OnnxNode>();
  const consumers = new Map<string, OnnxNode[]>();
  for (const n of m.nodes) {
    for (const o of n.outputs) producer.set(o, n);
    for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  }
  const inits = new Map(m.initializers.map((t) => [t.name, t]));
  const constant = (name: string): OnnxTensor | undefined => {
    const t = inits.get(name);
    if (t !== undefined) return t;
    const p = producer.get(name);
    if (p?.opType !== "Constant") return undefined;
    const v = attrs(p).get("value")?.t;
    return v === undefined ? undefined : parseTensor(v);
  };
  const scalar = (name: string): number | undefined => {
    const t = constant(name);
    const v = t && floats(t);
    return v !== undefined && v.length === 1 ? v[0] : undefined;
  };
  const only = (name: string, op: string): OnnxNode | undefined => {
    const c = consumers.get(name);
    return c?.length === 1 && c[0]!.opType === op && c[0]!.domain === "" ? c[0] : undefined;
  };
  const from = (name: string | undefined, op: string): OnnxNode | undefined => {
    const p = name === undefined ? undefined : producer.get(name);
    return p?.opType === op && p.domain === "" && (consumers.get(p.outputs[0]!)?.length ?? 0) === 1 ? p : undefined;
  };
  const perm = (n: OnnxNode | undefined, want: string): boolean => n !== undefined && attrs(n).get("perm")?.ints.join(",") === want;
  // Walks the bias back to the graph input: only elementwise/shape ops on attention_mask and constants.
  const fromMask = (name: string, depth = 0): boolean => {
    if (name === MASK) return true;
    if (constant(name) !== undefined) return true;
    const p = producer.get(name);
    if (p === undefined || depth > 8 || !["Cast", "Sub", "Mul", "Unsqueeze", "Reshape", "Not", "Equal", "Where", "Expand"].includes(p.opType)) return false;
    return p.inputs.every((i) => i === "" || fromMask(i, depth + 1)) && p.inputs.some((i) => i !== "" && constant(i) === undefined);
  };

  const softmaxes = m.nodes.filter((n) => n.opType === "Softmax");
  if (softmaxes.length === 0) return undefined;
  const replaced = new Map<OnnxNode, ProtoWriter>();
  const removed = new Set<OnnxNode>();
  /** Tensor names the rewritten graph reads: its outputs, and (below) every kept node's inputs. */
  const needed = new Set<string>([...m.outputs, MASK]);
  let k = 0;
  for (const sm of softmaxes) {
    const rawAxis = attrs(sm).get("axis")?.i;
    const axis = rawAxis === undefined ? undefined : BigInt.asIntN(64, rawAxis);
    if (axis !== undefined && axis !== -1n && axis !== 3n) return undefined;
    const add = from(sm.inputs[0], "Add");
    if (add === undefined) return undefined;
    const [scaledName, biasName] = from(add.inputs[0], "Mul") || from(add.inputs[0], "Div") ? [add.inputs[0]!, add.inputs[1]!] : [add.inputs[1]!, add.inputs[0]!];
    const sc = from(scaledName, "Mul") ?? from(scaledName, "Div");
    if (sc === undefined || !fromMask(biasName)) return undefined;
    const c = scalar(sc.inputs[1]!);
    const qk = from(sc.inputs[0], "MatMul");
    if (c === undefined || c === 0 || qk === undefined) return undefined;
    const scale = sc.opType === "Mul" ? c : 1 / c;
    const qt = from(qk.inputs[0], "Transpose");
    const kt = from(qk.inputs[1], "Transpose");
    const pv = only(sm.outputs[0]!, "MatMul");
    const vt = from(pv?.inputs[1], "Transpose");
    const ct = pv && only(pv.outputs[0]!, "Transpose");
    const cr = ct && only(ct.outputs[0]!, "Reshape");
    if (!perm(qt, "0,2,1,3") || !perm(kt, "0,2,3,1") || !perm(vt, "0,2,1,3") || !perm(ct, "0,2,1,3") || cr === undefined) return undefined;
    if (pv!.inputs[0] !== sm.outputs[0]) return undefined;
    const qr = from(qt!.inputs[0], "Reshape");
    const kr = from(kt!.inputs[0], "Reshape");
    const vr = from(vt!.inputs[0], "Reshape");
    if (qr === undefined || kr === undefined || vr === undefined) return undefined;
    const shape = constant(qr.inputs[1]!);
    const dims = shape && int64s(shape);
    const n = dims?.length === 4 && dims[2]! > 0 ? dims[2]! : heads;
    if (n === undefined) return undefined;
    const out = cr.outputs[0]!;
    const mha = (suffix: string, mask: boolean) =>
      node("MultiHeadAttention", [qr.inputs[0]!, kr.inputs[0]!, vr.inputs[0]!, ...(mask ? ["", "m3_mask_i32"] : [])], [`${out}_${suffix}`], `m3_mha_${k}_${suffix}`, [
        intAttribute("num_heads", n),
        floatAttribute("scale", scale),
      ]).string(7, MS_DOMAIN);
    const branch = (suffix: string, mask: boolean) => graph(`m3_attention_${k}_${suffix}`, [mha(suffix, mask)], [], [], [floatValue(`${out}_${suffix}`)]);
    replaced.set(cr, node("If", ["m3_unpadded"], [out], `m3_attention_${k}`, [graphAttribute("then_branch", branch("flash", false)), graphAttribute("else_branch", branch("masked", true))]));
    for (const x of [qr, kr, vr, qt!, kt!, qk, sc, add, sm, pv!, vt!, ct!]) removed.add(x);
    for (const x of [qr, kr, vr]) needed.add(x.inputs[0]!);
    k++;
  }
  // Drop what only the removed blocks used (the mask bias, the Reshape shapes): no dangling
  // nodes, and no "unused initializer" warnings from onnxruntime at every load.
  const kept = m.nodes.filter((n) => !removed.has(n));
  for (let i = kept.length - 1; i >= 0; i--) {
    const n = kept[i]!;
    if (!replaced.has(n) && !n.outputs.some((o) => needed.has(o))) {
      removed.add(n);
      continue;
    }
    if (!replaced.has(n)) for (const x of n.inputs) needed.add(x);
  }
  const g = new ProtoWriter();
  // No padding in the batch <=> min(attention_mask) == 1; the masked branch takes the mask as int32.
  g.message(1, node("Cast", [MASK], ["m3_mask_i32"], "m3_mask_i32", [intAttribute("to", OnnxType.INT32)]));
  g.message(1, node("ReduceMin", ["m3_mask_i32"], ["m3_mask_min"], "m3_mask_min", [intAttribute("keepdims", 0)]));
  g.message(1, node("Equal", ["m3_mask_min", "m3_one_i32"], ["m3_unpadded"], "m3_unpadded"));
  for (const n of m.nodes) {
    if (removed.has(n)) continue;
    const r = replaced.get(n);
    if (r !== undefined) g.embed(1, r);
    else g.bytes(1, n.raw);
  }
  const one = new Uint8Array(4);
  new DataView(one.buffer).setInt32(0, 1, true);
  g.embed(5, new ProtoWriter().int(2, OnnxType.INT32).string(8, "m3_one_i32").bytes(9, one));
  for (const t of m.initializers) if (needed.has(t.name)) g.bytes(5, t.raw);
  // value_info (13) may name the removed intermediates: dropped (optional).
  for (const f of m.graphOtherFields) if (f.field !== 13) g.raw(f.raw);
  const w = new ProtoWriter();
  for (const f of m.otherFields) w.raw(f.raw);
  w.embed(7, g);
  w.embed(8, new ProtoWriter().string(1, MS_DOMAIN).int(2, 1));
  return { bytes: w.finish(), blocks: k };
}

