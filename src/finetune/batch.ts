/**
 * One training batch: the heads' forward pass over its queries and candidate passages, the
 * three score matrices, the loss, and (when a gradient buffer is given) the backward pass.
 */
import { backwardText, denseDot, forwardText, lexical, maxSim, maxSimBackward, zeroGrad, type HeadParams, type TextForward } from "./heads.js";
import { batchLoss, type BatchLoss, type LossConfig, type PerMode } from "./loss.js";

/** A batch: text numbers of the queries and of the candidates (in-batch positives and the given negatives), and each query's positive. */
export interface Batch {
  queries: number[];
  candidates: number[];
  /** labels[i] = index in `candidates` of query i's positive. */
  labels: Int32Array;
}

/** Token ids and `[n, H]` hidden states of text number `i`. */
export type TextSource = (i: number) => { ids: Int32Array; x: Float32Array };

/** Forward (+ backward into `grad`, when given) over one batch. */
export function runBatch(p: HeadParams, batch: Batch, text: TextSource, drop: ReadonlySet<number>, cfg: LossConfig, grad?: HeadParams): BatchLoss {
  const H = p.hidden;
  const fwd = (i: number): TextForward => {
    const t = text(i);
    return forwardText(p, t.ids, t.x, drop);
  };
  const Q = batch.queries.map(fwd);
  const P = batch.candidates.map(fwd);
  const B = Q.length;
  const C = P.length;
  const S: PerMode<Float64Array> = { dense: new Float64Array(B * C), sparse: new Float64Array(B * C), colbert: new Float64Array(B * C) };
  const args: Int32Array[] = [];
  for (let i = 0; i < B; i++) {
    for (let j = 0; j < C; j++) {
      const k = i * C + j;
      S.dense[k] = denseDot(Q[i]!, P[j]!);
      S.sparse[k] = lexical(Q[i]!, P[j]!);
      const a = new Int32Array(Q[i]!.rows);
      S.colbert[k] = maxSim(Q[i]!, P[j]!, H, a);
      args.push(a);
    }
  }
  const res = batchLoss(S, batch.labels, C, cfg);
  if (grad === undefined) return res;
  const gQ = Q.map(zeroGrad);
  const gP = P.map(zeroGrad);
  for (let i = 0; i < B; i++) {
    for (let j = 0; j < C; j++) {
      const k = i * C + j;
      lexical(Q[i]!, P[j]!, res.grad.sparse[k]!, gQ[i]!.sparse, gP[j]!.sparse);
      maxSimBackward(Q[i]!, P[j]!, H, args[k]!, res.grad.colbert[k]!, gQ[i]!.colbert, gP[j]!.colbert);
    }
  }
  Q.forEach((t, i) => backwardText(t, gQ[i]!, grad));
  P.forEach((t, j) => backwardText(t, gP[j]!, grad));
  return res;
}
