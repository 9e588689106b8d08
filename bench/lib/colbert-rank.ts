/** Rank agreement measures for the ColBERT fidelity benchmark. */

/** Indices of the k highest scores (ties broken by index). */
export function topK(scores: ArrayLike<number>, k: number): number[] {
  return Array.from({ length: scores.length }, (_, i) => i)
    .sort((a, b) => scores[b]! - scores[a]! || a - b)
    .slice(0, k);
}

/** |A ∩ B| / |A|. */
export function overlap(a: number[], b: number[]): number {
  const s = new Set(b);
  return a.filter((x) => s.has(x)).length / a.length;
}

/** Kendall tau-b between two score lists over the same items (1 = same order). */
export function kendallTauB(x: number[], y: number[]): number {
  let conc = 0, disc = 0, tx = 0, ty = 0;
  for (let i = 0; i < x.length; i++) {
    for (let j = i + 1; j < x.length; j++) {
      const a = Math.sign(x[i]! - x[j]!), b = Math.sign(y[i]! - y[j]!);
      if (a === 0 && b === 0) continue;
      if (a === 0) tx++;
      else if (b === 0) ty++;
      else if (a === b) conc++;
      else disc++;
    }
  }
  const d = Math.sqrt((conc + disc + tx) * (conc + disc + ty));
  return d === 0 ? 1 : (conc - disc) / d;
}
