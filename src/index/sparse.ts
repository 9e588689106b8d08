/**
 * The learned-sparse part: a forward store (slot -> sparse vector) and an inverted index
 * (token id -> postings of slot and weight, in typed arrays, with the list's maximum weight).
 *
 * Top-k is exact: document-at-a-time MaxScore over lists sorted by slot. Lists whose summed
 * upper bounds cannot beat the current k-th score are only probed (galloping search) for
 * documents found in the other lists, so a query does not touch every posting. Scores are
 * summed in ascending token order, bit-for-bit the same as `lexicalScore`; ties go to the
 * lower slot.
 */
import { lexicalScore } from "../math/scores.js";
import type { SparseVector } from "../types.js";
import { TopK } from "./topk.js";

interface PostingList {
  slots: Uint32Array;
  weights: Float32Array;
  length: number;
  /** An upper bound of the weights (exact unless `maxStale`). */
  max: number;
  sorted: boolean;
  maxStale: boolean;
}

/** Result of a sparse top-k query. */
export interface SparseTopK {
  slots: Uint32Array;
  scores: Float64Array;
  /** Postings read (list entries consumed plus probes), to show the pruning works. */
  postingsVisited: number;
  /** Total postings in the query's lists (what a term-at-a-time scan would read). */
  postingsTotal: number;
}

const EMPTY_U32 = new Uint32Array(0);
const EMPTY_F32 = new Float32Array(0);

/**
 * Posting lists as loaded: token t's postings are slots/weights [start[t], start[t+1]), sorted by
 * slot. A list becomes a `PostingList` (views of these ranges) the first time it is used, so a
 * load builds no per-token objects (a 100k-document index has ~250k tokens).
 */
interface LoadedLists {
  start: Uint32Array;
  slots: Uint32Array;
  weights: Float32Array;
  max: Float32Array;
  /** 1 once token t's list was handed to `lists` (it may since have emptied and been dropped). */
  taken: Uint8Array;
  /** Non-empty lists not taken yet. */
  pending: number;
}

export class SparseIndex {
  private readonly lists = new Map<number, PostingList>();
  private loaded: LoadedLists | undefined;
  private forward: (SparseVector | undefined)[] = [];
  private postings = 0;

  /** Number of postings stored. */
  get postingCount(): number {
    return this.postings;
  }

  /** Number of distinct tokens with postings. */
  get termCount(): number {
    return this.lists.size + (this.loaded?.pending ?? 0);
  }

  /** Stores (or replaces) the vector of `slot`. Entries with weight <= 0 are dropped. */
  set(slot: number, vec: SparseVector): void {
    if (this.forward[slot] !== undefined) this.remove(slot);
    const own = compact(vec);
    this.forward[slot] = own;
    for (let i = 0; i < own.indices.length; i++) this.append(own.indices[i]!, slot, own.values[i]!);
  }

  /** Removes the postings of `slot`. */
  remove(slot: number): void {
    const vec = this.forward[slot];
    if (vec === undefined) return;
    this.forward[slot] = undefined;
    for (let i = 0; i < vec.indices.length; i++) {
      const t = vec.indices[i]!;
      const list = this.list(t);
      if (list === undefined) continue;
      const at = list.sorted ? lowerBound(list.slots, list.length, slot) : list.slots.subarray(0, list.length).indexOf(slot);
      if (at < 0 || at >= list.length || list.slots[at] !== slot) continue;
      if (list.weights[at]! >= list.max) list.maxStale = true;
      list.slots.copyWithin(at, at + 1, list.length);
      list.weights.copyWithin(at, at + 1, list.length);
      list.length--;
      this.postings--;
      if (list.length === 0) this.lists.delete(t);
    }
  }

  /**
   * Removes the postings of many slots at once: each affected list is filtered in one pass, so
   * deleting a large batch costs the length of the lists it touches once, not once per document.
   */
  removeMany(slots: Iterable<number>): void {
    const gone = new Set<number>();
    const terms = new Set<number>();
    for (const slot of slots) {
      const vec = this.forward[slot];
      if (vec === undefined) continue;
      this.forward[slot] = undefined;
      gone.add(slot);
      for (let i = 0; i < vec.indices.length; i++) terms.add(vec.indices[i]!);
    }
    for (const t of terms) {
      const list = this.list(t);
      if (list === undefined) continue;
      let w = 0;
      for (let r = 0; r < list.length; r++) {
        const slot = list.slots[r]!;
        if (gone.has(slot)) {
          if (list.weights[r]! >= list.max) list.maxStale = true;
          continue;
        }
        list.slots[w] = slot;
        list.weights[w++] = list.weights[r]!;
      }
      this.postings -= list.length - w;
      list.length = w;
      if (w === 0) this.lists.delete(t);
    }
  }

  /** The stored vector of `slot` (do not mutate). */
  vector(slot: number): SparseVector | undefined {
    return this.forward[slot];
  }

  /** Lexical score of `query` against `slot` (0 for an unknown slot). */
  score(query: SparseVector, slot: number): number {
    const v = this.forward[slot];
    return v === undefined ? 0 : lexicalScore(query, v);
  }

  /**
   * Exact top-`k` slots by lexical score (> 0 only), best first; `accept` restricts the
   * candidates (a filter), still exactly.
   */
  search(query: SparseVector, k: number, accept?: (slot: number) => boolean): SparseTopK {
    const nq = query.indices.length;
    const terms: { qw: number; list: PostingList; ub: number; pos: number; ord: number }[] = [];
    let postingsTotal = 0;
    for (let o = 0; o < nq; o++) {
      const qw = query.values[o]!;
      const list = this.list(query.indices[o]!);
      if (!(qw > 0) || list === undefined) continue;
      prepare(list);
      postingsTotal += list.length;
      terms.push({ qw, list, ub: qw * list.max, pos: 0, ord: o });
    }
    const top = new TopK(k);
    let visited = 0;
    if (terms.length === 0 || k <= 0) return { ...top.result(), postingsVisited: 0, postingsTotal };
    terms.sort((a, b) => a.ub - b.ub || a.ord - b.ord);
    const m = terms.length;
    const cum = new Float64Array(m);
    for (let i = 0, s = 0; i < m; i++) cum[i] = s += terms[i]!.ub;
    const contrib = new Float64Array(nq);
    let fe = 0; // lists [0, fe) are non-essential
    for (;;) {
      const thr = below(top.threshold);
      while (fe < m && cum[fe]! < thr) fe++;
      if (fe >= m) break;
      let pivot = 0xffffffff;
      for (let i = fe; i < m; i++) {
        const t = terms[i]!;
        if (t.pos < t.list.length && t.list.slots[t.pos]! < pivot) pivot = t.list.slots[t.pos]!;
      }
      if (pivot === 0xffffffff) break;
      let partial = 0;
      for (let i = fe; i < m; i++) {
        const t = terms[i]!;
        if (t.pos < t.list.length && t.list.slots[t.pos] === pivot) {
          const c = t.qw * t.list.weights[t.pos]!;
          contrib[t.ord] = c;
          partial += c;
          t.pos++;
          visited++;
        }
      }
      let skip = accept !== undefined && !accept(pivot);
      for (let i = fe - 1; i >= 0 && !skip; i--) {
        if (partial + cum[i]! < thr) {
          skip = true;
          break;
        }
        const t = terms[i]!;
        t.pos = seek(t.list.slots, t.list.length, t.pos, pivot);
        visited++;
        if (t.pos < t.list.length && t.list.slots[t.pos] === pivot) {
          const c = t.qw * t.list.weights[t.pos]!;
          contrib[t.ord] = c;
          partial += c;
        }
      }
      if (!skip) {
        let s = 0;
        for (let o = 0; o < nq; o++) s += contrib[o]!;
        if (s > 0) top.push(pivot, s);
      }
      contrib.fill(0);
    }
    return { ...top.result(), postingsVisited: visited, postingsTotal };
  }

  /** Bytes held by postings (capacity) and by the forward store. */
  memory(): { postingsBytes: number; forwardBytes: number } {
    let postingsBytes = 0;
    for (const l of this.lists.values()) if (this.loaded === undefined || l.slots.buffer !== this.loaded.slots.buffer) postingsBytes += l.slots.byteLength + l.weights.byteLength;
    if (this.loaded !== undefined) postingsBytes += this.loaded.slots.byteLength + this.loaded.weights.byteLength;
    let forwardBytes = 0;
    for (const v of this.forward) if (v !== undefined) forwardBytes += v.indices.byteLength + v.values.byteLength;
    return { postingsBytes, forwardBytes };
  }

  /**
   * Rebuilds the index from vectors by slot (used on load): exact-size lists, sorted by slot.
   * A counting sort into two flat arrays (one pass to count postings per token, one to place
   * them); lists are made from their ranges on first use (see `LoadedLists`).
   */
  static fromForward(forward: (SparseVector | undefined)[]): SparseIndex {
    const idx = new SparseIndex();
    let maxToken = -1;
    let total = 0;
    for (const v of forward) {
      if (v === undefined) continue;
      total += v.indices.length;
      for (let i = 0; i < v.indices.length; i++) if (v.indices[i]! > maxToken) maxToken = v.indices[i]!;
    }
    const start = new Uint32Array(maxToken + 2);
    for (const v of forward) if (v !== undefined) for (let i = 0; i < v.indices.length; i++) start[v.indices[i]! + 1]!++;
    for (let t = 0; t <= maxToken; t++) start[t + 1]! += start[t]!;
    const fill = start.slice(0, maxToken + 1);
    const slots = new Uint32Array(total);
    const weights = new Float32Array(total);
    const max = new Float32Array(maxToken + 1);
    for (let slot = 0; slot < forward.length; slot++) {
      const v = forward[slot];
      if (v === undefined) continue;
      idx.forward[slot] = v;
      for (let i = 0; i < v.indices.length; i++) {
        const t = v.indices[i]!;
        const at = fill[t]!++;
        slots[at] = slot;
        const w = v.values[i]!;
        weights[at] = w;
        if (w > max[t]!) max[t] = w;
      }
    }
    idx.forward.length = Math.max(idx.forward.length, forward.length);
    let pending = 0;
    for (let t = 0; t <= maxToken; t++) if (start[t + 1]! > start[t]!) pending++;
    idx.loaded = { start, slots, weights, max, taken: new Uint8Array(maxToken + 1), pending };
    idx.postings = total;
    return idx;
  }

  /** Token t's list: the one in use, or its loaded range made a list on first use. */
  private list(t: number): PostingList | undefined {
    const l = this.lists.get(t);
    const ld = this.loaded;
    if (l !== undefined || ld === undefined || t >= ld.taken.length || ld.taken[t] === 1) return l;
    ld.taken[t] = 1;
    const a = ld.start[t]!;
    const n = ld.start[t + 1]! - a;
    if (n === 0) return undefined;
    ld.pending--;
    const made: PostingList = { slots: ld.slots.subarray(a, a + n), weights: ld.weights.subarray(a, a + n), length: n, max: ld.max[t]!, sorted: true, maxStale: false };
    this.lists.set(t, made);
    return made;
  }

  private append(token: number, slot: number, w: number): void {
    let l = this.list(token);
    if (l === undefined) {
      l = { slots: EMPTY_U32, weights: EMPTY_F32, length: 0, max: 0, sorted: true, maxStale: false };
      this.lists.set(token, l);
    }
    if (l.length === l.slots.length) {
      const cap = Math.max(4, l.slots.length * 2);
      const s = new Uint32Array(cap);
      s.set(l.slots.subarray(0, l.length));
      const ws = new Float32Array(cap);
      ws.set(l.weights.subarray(0, l.length));
      l.slots = s;
      l.weights = ws;
    }
    if (l.length > 0 && l.slots[l.length - 1]! > slot) l.sorted = false;
    l.slots[l.length] = slot;
    l.weights[l.length++] = w;
    if (w > l.max) l.max = w;
    this.postings++;
  }
}

/** A threshold lowered by a relative hair, so that rounding in bounds can never prune a true hit. */
function below(t: number): number {
  return t === -Infinity ? t : t - Math.abs(t) * 1e-9 - 1e-12;
}

function compact(v: SparseVector): SparseVector {
  let n = 0;
  for (let i = 0; i < v.values.length; i++) if (v.values[i]! > 0) n++;
  const indices = new Uint32Array(n);
  const values = new Float32Array(n);
  for (let i = 0, j = 0; i < v.values.length; i++) {
    if (v.values[i]! > 0) {
      indices[j] = v.indices[i]!;
      values[j++] = v.values[i]!;
    }
  }
  return { indices, values };
}

/** Sorts a list by slot (lazily, before a query reads it) and refreshes its maximum. */
function prepare(l: PostingList): void {
  if (!l.sorted) {
    const order = Array.from({ length: l.length }, (_, i) => i).sort((a, b) => l.slots[a]! - l.slots[b]!);
    const s = Uint32Array.from(order, (i) => l.slots[i]!);
    const w = Float32Array.from(order, (i) => l.weights[i]!);
    l.slots.set(s);
    l.weights.set(w);
    l.sorted = true;
  }
  if (l.maxStale) {
    let m = 0;
    for (let i = 0; i < l.length; i++) if (l.weights[i]! > m) m = l.weights[i]!;
    l.max = m;
    l.maxStale = false;
  }
}

/** First index in [0, n) with a[i] >= x. */
function lowerBound(a: Uint32Array, n: number, x: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index >= from with a[i] >= x, galloping then binary search. */
function seek(a: Uint32Array, n: number, from: number, x: number): number {
  if (from >= n || a[from]! >= x) return from;
  let step = 1;
  let lo = from;
  let hi = from + 1;
  while (hi < n && a[hi]! < x) {
    lo = hi;
    step *= 2;
    hi = from + step;
  }
  if (hi > n) hi = n;
  // a[lo] < x; answer in (lo, hi]
  let l = lo + 1;
  let h = hi;
  while (l < h) {
    const mid = (l + h) >>> 1;
    if (a[mid]! < x) l = mid + 1;
    else h = mid;
  }
  return l;
}
