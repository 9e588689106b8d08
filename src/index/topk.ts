/**
 * A bounded top-k of (slot, score) pairs. Order: higher score first, then lower slot first,
 * so ties are broken deterministically the same way everywhere in the index.
 */
export class TopK {
  private readonly slots: Uint32Array;
  private readonly scores: Float64Array;
  private n = 0;

  constructor(readonly k: number) {
    this.slots = new Uint32Array(Math.max(k, 0));
    this.scores = new Float64Array(Math.max(k, 0));
  }

  get size(): number {
    return this.n;
  }

  /** Score of the worst kept entry; -Infinity while not full. */
  get threshold(): number {
    return this.n < this.k ? -Infinity : this.scores[0]!;
  }

  /** True when (score, slot) would be kept. */
  accepts(score: number, slot: number): boolean {
    if (this.k <= 0) return false;
    if (this.n < this.k) return true;
    return worse(this.scores[0]!, this.slots[0]!, score, slot);
  }

  push(slot: number, score: number): void {
    if (!this.accepts(score, slot)) return;
    if (this.n < this.k) {
      let i = this.n++;
      this.slots[i] = slot;
      this.scores[i] = score;
      // sift up: the heap root is the worst entry
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!worse(this.scores[i]!, this.slots[i]!, this.scores[p]!, this.slots[p]!)) break;
        this.swap(i, p);
        i = p;
      }
      return;
    }
    this.slots[0] = slot;
    this.scores[0] = score;
    this.siftDown(0);
  }

  /** The entries, best first. */
  result(): { slots: Uint32Array; scores: Float64Array } {
    const idx = Array.from({ length: this.n }, (_, i) => i);
    idx.sort((a, b) => this.scores[b]! - this.scores[a]! || this.slots[a]! - this.slots[b]!);
    return {
      slots: Uint32Array.from(idx, (i) => this.slots[i]!),
      scores: Float64Array.from(idx, (i) => this.scores[i]!),
    };
  }

  private siftDown(i: number): void {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let w = i;
      if (l < this.n && worse(this.scores[l]!, this.slots[l]!, this.scores[w]!, this.slots[w]!)) w = l;
      if (r < this.n && worse(this.scores[r]!, this.slots[r]!, this.scores[w]!, this.slots[w]!)) w = r;
      if (w === i) return;
      this.swap(i, w);
      i = w;
    }
  }

  private swap(a: number, b: number): void {
    const s = this.slots[a]!;
    this.slots[a] = this.slots[b]!;
    this.slots[b] = s;
    const v = this.scores[a]!;
    this.scores[a] = this.scores[b]!;
    this.scores[b] = v;
  }
}

/** True when (sa, la) ranks below (sb, lb). */
function worse(sa: number, la: number, sb: number, lb: number): boolean {
  return sa < sb || (sa === sb && la > lb);
}
