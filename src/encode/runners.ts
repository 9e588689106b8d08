/**
 * One forward pass per batch for each layout, turned into per-text encodings.
 * Three-heads graphs give the head outputs directly; encoder-only graphs give the hidden
 * states, whose kept rows are packed and sent through the head graph in onnxruntime.
 */
import { ErrorCodes, M3Error } from "../errors.js";
import type { M3Encoding } from "../types.js";
import { padBatch } from "./batching.js";
import { HEAD_COLBERT, HEAD_INPUT, HEAD_SPARSE } from "./onnx/head-graph.js";
import { colbertFrom, denseFrom, denseMeanFrom, sparseFrom } from "./postprocess.js";
import { floatTensor, intTensor, ort, runSession, toFloat32, type Session } from "./session.js";

/** Which outputs a batch needs. */
export interface Want {
  dense: boolean;
  sparse: boolean;
  colbert: boolean;
}

export interface BatchRunner {
  /**
   * Encodes one batch; `ids[b]` are the token ids of text b, `length` the longest. With MCLS,
   * `cls[b]` holds the positions of text b's `<s>` tokens (0 first): dense is their mean, and
   * the inserted ones get no sparse weight and no ColBERT row.
   */
  run(ids: Int32Array[], length: number, want: Want, cls?: ReadonlyArray<Int32Array | undefined>): Promise<M3Encoding[]>;
  release(): Promise<void>;
}

const SUPPORTED_INPUTS = new Set(["input_ids", "attention_mask", "token_type_ids"]);

/** Checks the graph's inputs; MODEL_INVALID for one we cannot feed. */
export function checkInputs(s: Session, file: string): void {
  const names = s.inputNames;
  const unknown = names.filter((n) => !SUPPORTED_INPUTS.has(n));
  if (!names.includes("input_ids") || unknown.length > 0) {
    throw new M3Error(
      ErrorCodes.MODEL_INVALID,
      `${file} has inputs [${names.join(", ")}]; expected input_ids and attention_mask (int64 [batch, seq]).`,
      { details: { file, inputs: names } },
    );
  }
}

export function feeds(s: Session, types: Map<string, "int64" | "int32">, ids: Int32Array[], L: number, padId: number): Record<string, ort.Tensor> {
  const { inputIds, mask } = padBatch(ids, L, padId);
  const dims = [ids.length, L];
  const f: Record<string, ort.Tensor> = {};
  for (const name of s.inputNames) {
    const data = name === "input_ids" ? inputIds : name === "attention_mask" ? mask : new BigInt64Array(inputIds.length);
    f[name] = intTensor(data, dims, types.get(name) ?? "int64");
  }
  return f;
}

const base = (ids: Int32Array): M3Encoding => ({ tokenCount: ids.length });

export class ThreeHeadsRunner implements BatchRunner {
  constructor(
    private readonly session: Session,
    private readonly types: Map<string, "int64" | "int32">,
    private readonly names: { dense: string; sparse: string; colbert: string },
    private readonly padId: number,
    private readonly drop: ReadonlySet<number>,
  ) {}

  async run(ids: Int32Array[], L: number, want: Want): Promise<M3Encoding[]> {
    const res = ids.map(base);
    const fetches = (["dense", "sparse", "colbert"] as const).filter((k) => want[k]).map((k) => this.names[k]);
    if (fetches.length === 0) return res;
    const out = await runSession(this.session, feeds(this.session, this.types, ids, L, this.padId), fetches, "the model");
    const B = ids.length;
    if (want.dense) {
      const t = out[this.names.dense]!;
      const d = toFloat32(t, this.names.dense);
      const H = d.length / B;
      res.forEach((r, b) => (r.dense = denseFrom(d, b * H, H)));
    }
    if (want.sparse) {
      const t = out[this.names.sparse]!;
      const d = toFloat32(t, this.names.sparse);
      const Ls = t.dims[1]!;
      const k = d.length / (B * Ls);
      res.forEach((r, b) => (r.sparse = sparseFrom(ids[b]!, d, b * Ls * k, k, L - Ls, this.drop)));
    }
    if (want.colbert) {
      const t = out[this.names.colbert]!;
      const d = toFloat32(t, this.names.colbert);
      const Lc = t.dims[1]!;
      const H = t.dims[2]!;
      const first = L - Lc; // position of row 0: 1 when the graph already dropped <s>
      res.forEach((r, b) => (r.colbert = colbertFrom(d, (b * Lc + 1 - first) * H, ids[b]!.length - 1, H)));
    }
    return res;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

export class EncoderOnlyRunner implements BatchRunner {
  constructor(
    private readonly encoder: Session,
    private readonly types: Map<string, "int64" | "int32">,
    private readonly hiddenName: string,
    private readonly heads: Session,
    private readonly sparseHead: Session,
    private readonly padId: number,
    private readonly drop: ReadonlySet<number>,
  ) {}

  async run(ids: Int32Array[], L: number, want: Want, cls?: ReadonlyArray<Int32Array | undefined>): Promise<M3Encoding[]> {
    const res = ids.map(base);
    if (!want.dense && !want.sparse && !want.colbert) return res;
    const out = await runSession(this.encoder, feeds(this.encoder, this.types, ids, L, this.padId), [this.hiddenName], "the encoder");
    const t = out[this.hiddenName]!;
    const hidden = toFloat32(t, this.hiddenName);
    const H = t.dims[2]!;
    if (want.dense) {
      res.forEach((r, b) => {
        const c = cls?.[b];
        r.dense = c !== undefined && c.length > 1 ? denseMeanFrom(hidden, b * L * H, c, H) : denseFrom(hidden, b * L * H, H);
      });
    }
    if (!want.sparse && !want.colbert) return res;
    // Pack the rows the heads need (positions 1..n-1 of every text: no <s>, no padding, no
    // inserted <s>) into one [T, H] matrix; kept[b] are the ids of text b's rows after a leading <s>.
    const rowStart: number[] = [];
    const kept: Int32Array[] = [];
    let T = 0;
    ids.forEach((row, b) => {
      rowStart.push(T);
      const k = keptIds(row, cls?.[b]);
      kept.push(k);
      T += k.length - 1;
    });
    const single = ids.length === 1 ? segments(ids[0]!.length, cls?.[0]) : [];
    // One text whose rows are contiguous (no inserted <s>): feed a view of the hidden states, no copy.
    const X = single.length === 1 ? hidden.subarray(single[0]![0] * H, single[0]![1] * H) : new Float32Array(T * H);
    if (X.buffer !== hidden.buffer) ids.forEach((row, b) => {
      let dst = rowStart[b]! * H;
      for (const [from, to] of segments(row.length, cls?.[b])) {
        X.set(hidden.subarray((b * L + from) * H, (b * L + to) * H), dst);
        dst += (to - from) * H;
      }
    });
    const fetches = [...(want.sparse ? [HEAD_SPARSE] : []), ...(want.colbert ? [HEAD_COLBERT] : [])];
    const headSession = want.colbert ? this.heads : this.sparseHead;
    const h = await runSession(headSession, { [HEAD_INPUT]: floatTensor(X, [T, H]) }, fetches, "the head graph");
    if (want.sparse) {
      const s = h[HEAD_SPARSE]!.data as Float32Array;
      res.forEach((r, b) => (r.sparse = sparseFrom(kept[b]!, s, rowStart[b]!, 1, 1, this.drop)));
    }
    if (want.colbert) {
      const c = h[HEAD_COLBERT]!.data as Float32Array;
      res.forEach((r, b) => (r.colbert = colbertFrom(c, rowStart[b]! * H, kept[b]!.length - 1, H)));
    }
    return res;
  }

  async release(): Promise<void> {
    await Promise.all([this.encoder.release(), this.heads.release(), this.sparseHead.release()]);
  }
}

/** Position ranges [from, to) of a text's rows 1..n-1, skipping the `<s>` positions in `cls` (after the first). */
function segments(n: number, cls: Int32Array | undefined): Array<[number, number]> {
  if (cls === undefined || cls.length <= 1) return n > 1 ? [[1, n]] : [];
  const out: Array<[number, number]> = [];
  let from = 1;
  for (let i = 1; i < cls.length; i++) {
    if (cls[i]! > from) out.push([from, cls[i]!]);
    from = cls[i]! + 1;
  }
  if (n > from) out.push([from, n]);
  return out;
}

/** The ids of the packed rows of a text, after its leading `<s>` (so position 1 is the first row). */
function keptIds(row: Int32Array, cls: Int32Array | undefined): Int32Array {
  if (cls === undefined || cls.length <= 1) return row;
  const out = new Int32Array(row.length - cls.length + 1);
  out[0] = row[0]!;
  let o = 1;
  for (const [from, to] of segments(row.length, cls)) {
    out.set(row.subarray(from, to), o);
    o += to - from;
  }
  return out;
}
