/**
 * Dynamic int8 quantisation of an fp32 encoder graph, in the pattern onnxruntime's dynamic
 * quantiser writes (so its CPU graph optimiser fuses it into DynamicQuantizeMatMul):
 *
 *   MatMul(x, W)  ->  DynamicQuantizeLinear(x) -> (xq uint8, xs, xz)
 *                     MatMulInteger(xq, Wq int8, xz, 0) -> Cast(float) -> Mul(·, xs · Ws)
 *   Gather(T, ids) -> Gather(Tq int8, ids) -> Cast(float) -> Mul(·, Gather(Ts, ids))
 *
 * Weights are symmetric int8 (zero point 0) with one scale per output column (`per-column`)
 * or one per matrix (`per-tensor`); embedding tables get one scale per row. With `bits: 4`
 * each MatMul instead becomes one `com.microsoft.MatMulNBits` (4-bit blocks of 32 with a scale
 * and zero point each, accuracy level 4: onnxruntime quantises the activations to int8 inside
 * the kernel; see nbits.ts); the embedding tables stay int8 as above. Only MatMuls whose
 * right operand is a 2-D float initializer and Gathers (axis 0) of a 2-D float initializer
 * with non-constant indices are rewritten; every other node, initializer and graph field is
 * written back as read.
 */
import { ErrorCodes, M3Error } from "../../errors.js";
import { quantizeBlocks4 } from "./nbits.js";
import { OnnxType, ProtoWriter, intAttribute, node, rawTensorProto } from "./proto.js";
import { readFields, type OnnxModel, type OnnxNode, type OnnxTensor } from "./reader.js";

export type ScaleMode = "per-column" | "per-tensor";

/** Weight bits: 8 (MatMulInteger) or 4 (MatMulNBits). */
export type WeightBits = 8 | 4;

/** MatMulNBits block size and accuracy level (4: int8 activations inside the kernel). */
export const NBITS_BLOCK = 32;
export const NBITS_ACCURACY_LEVEL = 4;
export const MS_DOMAIN = "com.microsoft";

/** Reads float data of an initializer: `rows` rows of a [R, C] tensor from row `from`. */
export type FloatReader = (t: OnnxTensor, from: number, rows: number) => Promise<Float32Array>;

/** Ops that mean the graph is already quantised. */
export const QUANTIZED_OPS = new Set([
  "MatMulInteger", "DynamicQuantizeLinear", "QLinearMatMul", "DynamicQuantizeMatMul", "MatMulIntegerToFloat",
  "MatMulNBits", "QuantizeLinear", "DequantizeLinear", "QAttention", "QGemm",
]);

export interface QuantizeStats {
  matmuls: number;
  gathers: number;
  /** fp32 bytes of the weights replaced, and int8 bytes (+ scales) written for them. */
  bytesBefore: number;
  bytesAfter: number;
}

const isFloat2d = (t: OnnxTensor | undefined): t is OnnxTensor => t !== undefined && t.dataType === OnnxType.FLOAT && t.dims.length === 2;

/** True when the node has an integer attribute `name` different from `value`. */
function hasIntAttribute(n: OnnxNode, name: string, value: number): boolean {
  for (const f of readFields(n.raw)) {
    if (f.field !== 5) continue;
    const a = readFields(f.bytes);
    const an = new TextDecoder().decode(a.find((g) => g.field === 1)?.bytes ?? new Uint8Array());
    const i = a.find((g) => g.field === 3);
    if (an === name && i !== undefined && Number(BigInt.asIntN(64, i.int)) !== value) return true;
  }
  return false;
}

function quantizeColumns(w: Float32Array, K: number, N: number, mode: ScaleMode): { q: Int8Array; scales: Float32Array } {
  const max = new Float32Array(mode === "per-column" ? N : 1);
  for (let k = 0; k < K; k++) {
    for (let n = 0; n < N; n++) {
      const a = Math.abs(w[k * N + n]!);
      const j = mode === "per-column" ? n : 0;
      if (a > max[j]!) max[j] = a;
    }
  }
  const scales = Float32Array.from(max, (m) => (m > 0 ? m / 127 : 1));
  const q = new Int8Array(K * N);
  for (let k = 0; k < K; k++) {
    for (let n = 0; n < N; n++) {
      const s = scales[mode === "per-column" ? n : 0]!;
      q[k * N + n] = Math.max(-127, Math.min(127, Math.round(w[k * N + n]! / s)));
    }
  }
  return { q, scales };
}

/** Per-row symmetric int8 of rows [from, from + rows) of a table, into q / scales at the same rows. */
function quantizeRows(t: Float32Array, C: number, q: Int8Array, scales: Float32Array, from: number): void {
  const rows = t.length / C;
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let c = 0; c < C; c++) m = Math.max(m, Math.abs(t[r * C + c]!));
    const s = m > 0 ? m / 127 : 1;
    scales[from + r] = s;
    const o = (from + r) * C;
    for (let c = 0; c < C; c++) q[o + c] = Math.round(t[r * C + c]! / s);
  }
}

const bytesOf = (a: Int8Array | Uint8Array | Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * Rewrites `model` and returns the new GraphProto (large tensors by reference) with stats.
 * `inline(t)` gives the raw_data bytes for an fp32 initializer kept as it is but stored
 * externally (the quantised model is one file).
 */
export async function quantizeGraph(
  model: OnnxModel,
  read: FloatReader,
  inline: (t: OnnxTensor) => Promise<Uint8Array>,
  mode: ScaleMode,
  onProgress: (done: number, total: number) => void = () => undefined,
  bits: WeightBits = 8,
): Promise<{ graph: ProtoWriter; stats: QuantizeStats }> {
  const inits = new Map(model.initializers.map((t) => [t.name, t]));
  const uses = new Map<string, number>();
  for (const n of model.nodes) for (const i of n.inputs) uses.set(i, (uses.get(i) ?? 0) + 1);
  const matmulTarget = (n: OnnxNode) => n.opType === "MatMul" && n.domain === "" && n.inputs.length === 2 && !inits.has(n.inputs[0]!) && isFloat2d(inits.get(n.inputs[1]!));
  const gatherTarget = (n: OnnxNode) =>
    n.opType === "Gather" && n.domain === "" && isFloat2d(inits.get(n.inputs[0]!)) && !inits.has(n.inputs[1]!) && !hasIntAttribute(n, "axis", 0);
  const targets = model.nodes.filter((n) => matmulTarget(n) || gatherTarget(n));
  const total = targets.length;

  const stats: QuantizeStats = { matmuls: 0, gathers: 0, bytesBefore: 0, bytesAfter: 0 };
  const nodes: ProtoWriter[] = [];
  const newInits: ProtoWriter[] = [];
  const replaced = new Map<string, number>(); // initializer -> uses rewritten
  const quantizedWeights = new Map<string, { q: string; s: string; z?: string }>();
  const quantizedInputs = new Map<string, { q: string; s: string; z: string }>();
  const ZERO = "m3q/zero_point_int8";
  newInits.push(rawTensorProto(ZERO, [], OnnxType.INT8, new Uint8Array(1)));
  let k = 0;
  let done = 0;
  const fresh = (what: string) => `m3q/${k}/${what}`;

  for (const n of model.nodes) {
    if (matmulTarget(n) && bits === 4 && (inits.get(n.inputs[1]!)!.dims[0]! % NBITS_BLOCK) === 0) {
      k++;
      const [x, wName] = n.inputs as [string, string];
      const w = inits.get(wName)!;
      const [K, N] = w.dims as [number, number];
      let qw = quantizedWeights.get(wName);
      if (qw === undefined) {
        const q = quantizeBlocks4(await read(w, 0, K), K, N, NBITS_BLOCK);
        qw = { q: `${wName}/q4`, s: `${wName}/q4_scale`, z: `${wName}/q4_zero_point` };
        newInits.push(rawTensorProto(qw.q, [N, q.blocksPerColumn, NBITS_BLOCK / 2], OnnxType.UINT8, q.codes));
        newInits.push(rawTensorProto(qw.s, [N * q.blocksPerColumn], OnnxType.FLOAT, bytesOf(q.scales)));
        newInits.push(rawTensorProto(qw.z!, [q.zeros.length], OnnxType.UINT8, q.zeros));
        quantizedWeights.set(wName, qw);
        stats.bytesBefore += K * N * 4;
        stats.bytesAfter += q.codes.length + q.scales.byteLength + q.zeros.length;
      }
      const attrs = [
        intAttribute("K", K),
        intAttribute("N", N),
        intAttribute("bits", 4),
        intAttribute("block_size", NBITS_BLOCK),
        intAttribute("accuracy_level", NBITS_ACCURACY_LEVEL),
      ];
      nodes.push(node("MatMulNBits", [x, qw.q, qw.s, qw.z!], [n.outputs[0]!], fresh("MatMulNBits"), attrs).string(7, MS_DOMAIN));
      replaced.set(wName, (replaced.get(wName) ?? 0) + 1);
      stats.matmuls++;
      onProgress(++done, total);
    } else if (matmulTarget(n)) {
      k++;
      const [x, wName] = n.inputs as [string, string];
      const w = inits.get(wName)!;
      const [K, N] = w.dims as [number, number];
      let qw = quantizedWeights.get(wName);
      if (qw === undefined) {
        const { q, scales } = quantizeColumns(await read(w, 0, K), K, N, mode);
        qw = { q: `${wName}/int8`, s: `${wName}/scale` };
        newInits.push(rawTensorProto(qw.q, [K, N], OnnxType.INT8, bytesOf(q)));
        newInits.push(rawTensorProto(qw.s, mode === "per-column" ? [N] : [], OnnxType.FLOAT, bytesOf(scales)));
        quantizedWeights.set(wName, qw);
        stats.bytesBefore += K * N * 4;
        stats.bytesAfter += K * N + scales.byteLength;
      }
      let qx = quantizedInputs.get(x);
      if (qx === undefined) {
        qx = { q: fresh("x_uint8"), s: fresh("x_scale"), z: fresh("x_zero_point") };
        nodes.push(node("DynamicQuantizeLinear", [x], [qx.q, qx.s, qx.z], fresh("DynamicQuantizeLinear")));
        quantizedInputs.set(x, qx);
      }
      nodes.push(node("MatMulInteger", [qx.q, qw.q, qx.z, ZERO], [fresh("int32")], fresh("MatMulInteger")));
      nodes.push(node("Cast", [fresh("int32")], [fresh("float")], fresh("Cast"), [intAttribute("to", OnnxType.FLOAT)]));
      nodes.push(node("Mul", [qx.s, qw.s], [fresh("scale")], fresh("scale_Mul")));
      nodes.push(node("Mul", [fresh("float"), fresh("scale")], [n.outputs[0]!], fresh("Mul")));
      replaced.set(wName, (replaced.get(wName) ?? 0) + 1);
      stats.matmuls++;
      onProgress(++done, total);
    } else if (gatherTarget(n)) {
      k++;
      const [tName, ids] = n.inputs as [string, string];
      const t = inits.get(tName)!;
      const [V, C] = t.dims as [number, number];
      let qt = quantizedWeights.get(tName);
      if (qt === undefined) {
        const q = new Int8Array(V * C);
        const scales = new Float32Array(V);
        const step = Math.max(1, Math.floor((4 << 20) / C)); // ~16 MiB of fp32 per read
        for (let r = 0; r < V; r += step) quantizeRows(await read(t, r, Math.min(step, V - r)), C, q, scales, r);
        qt = { q: `${tName}/int8`, s: `${tName}/row_scale` };
        newInits.push(rawTensorProto(qt.q, [V, C], OnnxType.INT8, bytesOf(q)));
        newInits.push(rawTensorProto(qt.s, [V, 1], OnnxType.FLOAT, bytesOf(scales)));
        quantizedWeights.set(tName, qt);
        stats.bytesBefore += V * C * 4;
        stats.bytesAfter += V * C + V * 4;
      }
      nodes.push(node("Gather", [qt.q, ids], [fresh("rows_int8")], fresh("Gather")));
      nodes.push(node("Cast", [fresh("rows_int8")], [fresh("rows")], fresh("Cast"), [intAttribute("to", OnnxType.FLOAT)]));
      nodes.push(node("Gather", [qt.s, ids], [fresh("row_scales")], fresh("Gather_scale")));
      nodes.push(node("Mul", [fresh("rows"), fresh("row_scales")], [n.outputs[0]!], fresh("Mul")));
      replaced.set(tName, (replaced.get(tName) ?? 0) + 1);
      stats.gathers++;
      onProgress(++done, total);
    } else {
      nodes.push(new ProtoWriter().raw(n.raw));
    }
  }
  if (stats.matmuls === 0) {
    throw new M3Error(
      ErrorCodes.INVALID_ARGUMENT,
      "The graph has no MatMul with a constant float weight to quantise; it is not an fp32 BGE-M3 (XLM-RoBERTa) encoder.",
    );
  }
  // Initializers: the originals still used somewhere (inline), then the quantised ones.
  const dropped = new Set([...replaced].filter(([name, n]) => n === (uses.get(name) ?? 0)).map(([name]) => name));
  const g = new ProtoWriter();
  for (const w of nodes) g.embed(1, w);
  for (const t of model.initializers) {
    if (dropped.has(t.name)) continue;
    if (t.external === undefined) g.bytes(5, t.raw);
    else g.embed(5, rawTensorProto(t.name, t.dims, t.dataType, await inline(t)));
  }
  for (const w of newInits) g.embed(5, w);
  for (const f of model.graphOtherFields) {
    // Graph inputs that only fed a dropped initializer (IR < 4 lists initializers as inputs) go too.
    if (f.field === 11 && dropped.has(new TextDecoder().decode(readFields(f.bytes).find((x) => x.field === 1)?.bytes ?? new Uint8Array()))) continue;
    g.raw(f.raw);
  }
  return { graph: g, stats };
}
