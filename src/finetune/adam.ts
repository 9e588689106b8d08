/** Adam (Kingma & Ba) over the head parameters, with bias correction; no weight decay. */
import { paramArrays, type HeadParams } from "./heads.js";

export class Adam {
  private readonly m: Float64Array[];
  private readonly v: Float64Array[];
  private t = 0;

  constructor(
    params: HeadParams,
    private readonly lr: number,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly eps = 1e-8,
  ) {
    this.m = paramArrays(params).map((a) => new Float64Array(a.length));
    this.v = paramArrays(params).map((a) => new Float64Array(a.length));
  }

  /** One update of `params` with gradient `grad`. */
  step(params: HeadParams, grad: HeadParams): void {
    this.t++;
    const c1 = 1 - this.beta1 ** this.t;
    const c2 = 1 - this.beta2 ** this.t;
    const P = paramArrays(params);
    const G = paramArrays(grad);
    P.forEach((p, a) => {
      const g = G[a]!;
      const m = this.m[a]!;
      const v = this.v[a]!;
      for (let i = 0; i < p.length; i++) {
        const gi = g[i]!;
        m[i] = this.beta1 * m[i]! + (1 - this.beta1) * gi;
        v[i] = this.beta2 * v[i]! + (1 - this.beta2) * gi * gi;
        p[i]! -= (this.lr * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + this.eps);
      }
    });
  }
}
