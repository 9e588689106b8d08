/**
 * The M3 self-knowledge-distillation loss over one batch (paper, section 3.3), for score
 * matrices `S_m [B, C]` (query i against candidate j) of the three modes:
 * - per mode InfoNCE `L_m = mean_i −log softmax(S_m[i] / τ)[y_i]`;
 * - teacher `s_inter = w1·S_dense + w2·S_lex + w3·S_mul`, `t = softmax(s_inter / τ)`, held
 *   constant (no gradient flows through the teacher, as in the reference trainer);
 * - `L'_m = mean_i −Σ_j t_ij · log softmax(S_m[i] / τ)_j`;
 * - `L = (λ1·L_dense + λ2·L_lex + λ3·L_mul) / 3`, `L' = (λ1·L'_dense + λ2·L'_lex + λ3·L'_mul) / 3`,
 *   `L_final = (L + L') / 2`.
 */

export const MODES = ["dense", "sparse", "colbert"] as const;
export type Mode = (typeof MODES)[number];

/** One number per mode: dense, sparse (lexical), colbert (multi-vector). */
export interface PerMode<T> {
  dense: T;
  sparse: T;
  colbert: T;
}

export interface LossConfig {
  temperature: number;
  /** Teacher weights w1..w3. */
  teacherWeights: PerMode<number>;
  /** Loss weights λ1..λ3. */
  lossWeights: PerMode<number>;
}

export interface BatchLoss {
  /** L_final. */
  loss: number;
  /** Per mode: InfoNCE L_m, distillation L'_m, in-batch accuracy (share of queries whose positive scores highest). */
  modes: PerMode<{ infoNce: number; distill: number; correct: number }>;
  /** d L_final / d S_m, `[B, C]`. */
  grad: PerMode<Float64Array>;
}

/** Row-wise log-softmax of `z / τ` into `out`. */
function logSoftmax(s: Float64Array, B: number, C: number, tau: number, out: Float64Array): void {
  for (let i = 0; i < B; i++) {
    const o = i * C;
    let m = -Infinity;
    for (let j = 0; j < C; j++) m = Math.max(m, s[o + j]! / tau);
    let z = 0;
    for (let j = 0; j < C; j++) z += Math.exp(s[o + j]! / tau - m);
    const lz = m + Math.log(z);
    for (let j = 0; j < C; j++) out[o + j] = s[o + j]! / tau - lz;
  }
}

export function batchLoss(S: PerMode<Float64Array>, labels: Int32Array, C: number, cfg: LossConfig): BatchLoss {
  const B = labels.length;
  const tau = cfg.temperature;
  const w = cfg.teacherWeights;
  const inter = new Float64Array(B * C);
  for (let k = 0; k < B * C; k++) inter[k] = w.dense * S.dense[k]! + w.sparse * S.sparse[k]! + w.colbert * S.colbert[k]!;
  const teacher = new Float64Array(B * C);
  logSoftmax(inter, B, C, tau, teacher);
  for (let k = 0; k < B * C; k++) teacher[k] = Math.exp(teacher[k]!);
  const lp = new Float64Array(B * C);
  let loss = 0;
  const modes = {} as BatchLoss["modes"];
  const grad = {} as BatchLoss["grad"];
  for (const m of MODES) {
    const s = S[m];
    logSoftmax(s, B, C, tau, lp);
    const lambda = cfg.lossWeights[m];
    // d L_final / d S = (λ/3)·(1/2)·(1/B)·(1/τ)·[(p − y) + (p − t)]
    const scale = lambda / 3 / 2 / B / tau;
    const g = new Float64Array(B * C);
    let nce = 0;
    let dis = 0;
    let correct = 0;
    for (let i = 0; i < B; i++) {
      const o = i * C;
      const y = labels[i]!;
      nce -= lp[o + y]!;
      let arg = 0;
      for (let j = 0; j < C; j++) {
        dis -= teacher[o + j]! * lp[o + j]!;
        const p = Math.exp(lp[o + j]!);
        g[o + j] = scale * (2 * p - (j === y ? 1 : 0) - teacher[o + j]!);
        if (s[o + j]! > s[o + arg]!) arg = j;
      }
      if (arg === y) correct++;
    }
    nce /= B;
    dis /= B;
    modes[m] = { infoNce: nce, distill: dis, correct };
    grad[m] = g;
    loss += (lambda * (nce + dis)) / 3 / 2;
  }
  return { loss, modes, grad };
}
