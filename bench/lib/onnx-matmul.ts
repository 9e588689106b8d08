/**
 * One-node ONNX graphs built in memory (a minimal protobuf writer, no dependency):
 * - `MatMul(A[m,k], B[k,n])` to measure this machine's fp32 matrix-multiply peak through
 *   onnxruntime, the same library and threads the encoder uses;
 * - `Gemm(A[r,k], B[t,k], transB=1)` to score query token rows against document token rows
 *   for the exhaustive float32 MaxSim ground truth of the retrieval benchmark.
 */
import * as ort from "onnxruntime-node";

function varint(out: number[], v: number): void {
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}
type Field = [number, number | string | Uint8Array];
/** Encodes a message: varint fields (numbers) and length-delimited fields (strings, bytes). */
function msg(fields: Field[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [no, v] of fields) {
    const head: number[] = [];
    if (typeof v === "number") {
      varint(head, no << 3);
      varint(head, v);
      parts.push(Uint8Array.from(head));
    } else {
      const b = typeof v === "string" ? new TextEncoder().encode(v) : v;
      varint(head, (no << 3) | 2);
      varint(head, b.length);
      parts.push(Uint8Array.from(head), b);
    }
  }
  return Buffer.concat(parts);
}
const FLOAT = 1;
function valueInfo(name: string, dims: Array<number | string>): Uint8Array {
  const shape = msg(dims.map((d) => [1, typeof d === "number" ? msg([[1, d]]) : msg([[2, d]])] as Field));
  return msg([[1, name], [2, msg([[1, msg([[1, FLOAT], [2, shape]])]])]]);
}
/** TensorProto: dims=1, data_type=2, name=8, raw_data=9 (little-endian float32). */
function tensor(name: string, dims: number[], data: Float32Array): Uint8Array {
  const raw = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  return msg([...dims.map((d) => [1, d] as Field), [2, FLOAT], [8, name], [9, raw]]);
}
function model(
  op: string,
  inputs: Array<[string, Array<number | string>]>,
  output: [string, Array<number | string>],
  attrs: Uint8Array[] = [],
  constants: Array<[string, number[], Float32Array]> = [],
): Uint8Array {
  const names = [...inputs.map(([n]) => n), ...constants.map(([n]) => n)];
  const node = msg([...names.map((n) => [1, n] as Field), [2, output[0]], [3, `${op}_0`], [4, op], ...attrs.map((a) => [5, a] as Field)]);
  const graph = msg([
    [1, node],
    [2, `bench_${op}`],
    ...constants.map(([n, d, v]) => [5, tensor(n, d, v)] as Field),
    ...inputs.map(([n, d]) => [11, valueInfo(n, d)] as Field),
    [12, valueInfo(output[0], output[1])],
  ]);
  // ModelProto: ir_version=1, producer_name=2, graph=7, opset_import=8 {domain=1, version=2}
  return msg([[1, 8], [2, "langchain-m3 bench"], [7, graph], [8, msg([[1, ""], [2, 17]])]]);
}

export interface SessionThreads {
  intraOpNumThreads: number;
}

export interface MatMulPeak {
  /** B is a constant initializer (pre-packed by onnxruntime, as model weights are). */
  constantB: boolean;
  m: number;
  k: number;
  n: number;
  threads: number;
  runs: number;
  bestSeconds: number;
  medianSeconds: number;
  /** 2·m·k·n / best time. */
  peakGflops: number;
  medianGflops: number;
}

/**
 * Best-of-`runs` GFLOP/s of an fp32 [m,k]x[k,n] MatMul in onnxruntime. With `constantB` the
 * right operand is a graph initializer, like a model weight (onnxruntime pre-packs it).
 */
export async function measureMatMulPeak(threads: number, m = 2048, k = 1024, n = 4096, runs = 8, constantB = true): Promise<MatMulPeak> {
  const a = new Float32Array(m * k).map(() => Math.random() - 0.5);
  const b = new Float32Array(k * n).map(() => Math.random() - 0.5);
  const bytes = constantB
    ? model("MatMul", [["A", ["m", k]]], ["C", ["m", n]], [], [["B", [k, n], b]])
    : model("MatMul", [["A", ["m", "k"]], ["B", ["k", "n"]]], ["C", ["m", "n"]]);
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1 });
  const feeds: Record<string, ort.Tensor> = { A: new ort.Tensor("float32", a, [m, k]) };
  if (!constantB) feeds.B = new ort.Tensor("float32", b, [k, n]);
  await session.run(feeds); // warm-up
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  await session.release();
  times.sort((x, y) => x - y);
  const flop = 2 * m * k * n;
  const best = times[0]!;
  const median = times[Math.floor(times.length / 2)]!;
  return { constantB, m, k, n, threads, runs, bestSeconds: best, medianSeconds: median, peakGflops: flop / best / 1e9, medianGflops: flop / median / 1e9 };
}

/** A reusable `A · Bᵀ` session (A [r,k] query rows, B [t,k] document rows -> [r,t]). */
export class RowScorer {
  private constructor(private readonly session: ort.InferenceSession) {}
  static async create(threads: number): Promise<RowScorer> {
    const transB = msg([[1, "transB"], [3, 1], [20, 2]]);
    const bytes = model("Gemm", [["A", ["r", "k"]], ["B", ["t", "k"]]], ["C", ["r", "t"]], [transB]);
    return new RowScorer(await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1 }));
  }
  async scores(a: Float32Array, rows: number, b: Float32Array, cols: number, k: number): Promise<Float32Array> {
    const out = await this.session.run({ A: new ort.Tensor("float32", a, [rows, k]), B: new ort.Tensor("float32", b, [cols, k]) });
    return out.C!.data as Float32Array;
  }
  release(): Promise<void> {
    return this.session.release();
  }
}
