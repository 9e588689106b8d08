/**
 * The dense part: hnswlib-node HNSW in inner-product space over L2-normalised vectors, plus a
 * flat float32 copy by slot used for exact scoring of candidates and for rebuilds. The ColBERT
 * sketch reuses it, unnormalised, for the means of documents' sketched rows. Labels are
 * slots; a freed slot is marked deleted and re-used by a later `set` (hnswlib updates the
 * element in place), and the graph is rebuilt when more than half of it is deleted.
 * The only module that imports hnswlib-node.
 */
import hnswlib from "hnswlib-node";
import { dot } from "../math/vector.js";
import type { ResolvedDenseOptions } from "./options.js";
import { TopK } from "./topk.js";

type Hnsw = InstanceType<typeof hnswlib.HierarchicalNSW>;

/** How a `DenseIndex` stores vectors. */
export interface DenseLayout {
  /** Initial capacity in slots. @default 1024 */
  capacity?: number;
  /** L2-normalise vectors on the way in. @default true */
  normalize?: boolean;
  /** @internal A vector array to adopt (at least capacity × dim long) instead of allocating one. */
  vectors?: Float32Array;
  /** @internal Skip the empty graph (the caller installs one read from disk). */
  noGraph?: boolean;
}

export class DenseIndex {
  private hnsw: Hnsw;
  private vectors: Float32Array;
  private live: Uint8Array;
  /** 1 where the slot's label exists in the current graph (live or marked deleted). */
  private inGraph: Uint8Array;
  private count = 0;
  private deletedInGraph = 0;
  readonly normalize: boolean;

  constructor(
    readonly dim: number,
    readonly options: ResolvedDenseOptions,
    layout: DenseLayout = {},
  ) {
    const capacity = layout.capacity ?? 1024;
    this.normalize = layout.normalize ?? true;
    // A placeholder graph of one slot when the caller reads one from disk (hnswlib allocates a
    // graph's full capacity up front).
    this.hnsw = newGraph(dim, options, layout.noGraph === true ? 1 : capacity);
    this.vectors = layout.vectors !== undefined && layout.vectors.length >= capacity * dim ? layout.vectors : new Float32Array(capacity * dim);
    this.live = new Uint8Array(capacity);
    this.inGraph = new Uint8Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  has(slot: number): boolean {
    return this.live[slot] === 1;
  }

  /** Stores (or replaces) the vector of `slot`; it is L2-normalised on the way in (unless the layout says not to). */
  set(slot: number, v: Float32Array): void {
    this.reserve(slot + 1);
    const off = slot * this.dim;
    let s = 0;
    for (let i = 0; i < this.dim; i++) s += v[i]! * v[i]!;
    const n = this.normalize ? Math.max(Math.sqrt(s), 1e-12) : 1;
    for (let i = 0; i < this.dim; i++) this.vectors[off + i] = v[i]! / n;
    const wasDeleted = this.inGraph[slot] === 1 && this.live[slot] === 0;
    this.hnsw.addPoint(Array.from(this.vectors.subarray(off, off + this.dim)), slot);
    this.inGraph[slot] = 1;
    if (wasDeleted) this.deletedInGraph--;
    if (this.live[slot] === 0) this.count++;
    this.live[slot] = 1;
  }

  remove(slot: number): void {
    if (this.live[slot] !== 1) return;
    this.hnsw.markDelete(slot);
    this.live[slot] = 0;
    this.vectors.fill(0, slot * this.dim, (slot + 1) * this.dim);
    this.count--;
    this.deletedInGraph++;
    if (this.deletedInGraph > 1024 && this.deletedInGraph > this.count) this.rebuild();
  }

  /** The stored (normalised) vector of `slot`, as a view. */
  vector(slot: number): Float32Array {
    return this.vectors.subarray(slot * this.dim, (slot + 1) * this.dim);
  }

  /** Exact inner product of the query with `slot`'s stored vector. */
  score(q: Float32Array, slot: number): number {
    return dot(q, this.vectors, 0, slot * this.dim, this.dim);
  }

  /**
   * Approximate top-`n` by HNSW (efSearch = max(options.efSearch, n)); scores are recomputed
   * exactly from the stored vectors. `accept` is passed to hnswlib as its filter.
   */
  search(q: Float32Array, n: number, accept?: (slot: number) => boolean): { slots: Uint32Array; scores: Float64Array } {
    const k = Math.min(n, this.count);
    if (k <= 0) return { slots: new Uint32Array(0), scores: new Float64Array(0) };
    this.hnsw.setEf(Math.max(this.options.efSearch, k));
    const res = this.hnsw.searchKnn(Array.from(q.subarray(0, this.dim)), Math.min(k, this.hnsw.getMaxElements()), accept);
    const top = new TopK(res.neighbors.length);
    for (const slot of res.neighbors) top.push(slot, this.score(q, slot));
    return top.result();
  }

  /** Exact top-`n` over the live slots accepted by `accept` (a scan). */
  scan(q: Float32Array, n: number, accept?: (slot: number) => boolean): { slots: Uint32Array; scores: Float64Array } {
    const top = new TopK(n);
    for (let slot = 0; slot < this.live.length; slot++) {
      if (this.live[slot] !== 1 || (accept !== undefined && !accept(slot))) continue;
      top.push(slot, this.score(q, slot));
    }
    return top.result();
  }

  /** Bytes of the flat copy and an estimate of the HNSW graph (vectors + links + labels). */
  memory(): { vectorBytes: number; graphBytes: number } {
    const elements = this.hnsw.getCurrentCount();
    const perElement = this.dim * 4 + (this.options.M * 2 + 1) * 4 + 8 + this.options.M * 4 * 1.1;
    return { vectorBytes: this.live.length * this.dim * 4, graphBytes: Math.round(elements * perElement) };
  }

  /** Writes the graph to `path` (hnswlib format). */
  async writeGraph(path: string): Promise<void> {
    await this.hnsw.writeIndex(path);
  }

  /** The flat vectors of slots [0, slots) (for persistence). */
  flat(slots: number): Float32Array {
    return this.vectors.subarray(0, slots * this.dim);
  }

  /** Rebuilds a dense index from persisted parts. `live` marks the slots in use. */
  static async restore(
    dim: number,
    options: ResolvedDenseOptions,
    vectors: Float32Array,
    live: Uint8Array,
    graphPath: string,
    normalize = true,
  ): Promise<DenseIndex> {
    // The vectors are adopted, not copied: a copy of a large index's vectors into fresh memory
    // costs about as much as reading them (page faults), and the caller does not keep them.
    const d = new DenseIndex(dim, options, { capacity: Math.max(live.length, 1), normalize, vectors, noGraph: true });
    if (d.vectors !== vectors) d.vectors.set(vectors);
    d.live.set(live);
    d.count = live.reduce((a, b) => a + b, 0);
    const g = new hnswlib.HierarchicalNSW("ip", dim);
    await g.readIndex(graphPath, false);
    if (g.getMaxElements() < d.live.length) g.resizeIndex(d.live.length);
    d.hnsw = g;
    for (const label of g.getIdsList()) if (label < d.inGraph.length) d.inGraph[label] = 1;
    d.deletedInGraph = g.getCurrentCount() - d.count;
    return d;
  }

  /**
   * Makes room for slots [0, slots) at once (a bulk add grows the arrays and the graph once).
   * Growth is geometric (at least 1.5×): growing to exactly `slots` on every batch copied all
   * vectors and resized the HNSW graph per batch, which made building quadratic.
   */
  reserve(slots: number): void {
    if (slots > this.live.length) {
      const cap = Math.max(slots, Math.ceil(this.live.length * 1.5));
      const v = new Float32Array(cap * this.dim);
      v.set(this.vectors);
      this.vectors = v;
      const l = new Uint8Array(cap);
      l.set(this.live);
      this.live = l;
      const g = new Uint8Array(cap);
      g.set(this.inGraph);
      this.inGraph = g;
    }
    if (slots > this.hnsw.getMaxElements()) this.hnsw.resizeIndex(this.live.length);
  }

  private rebuild(): void {
    const g = newGraph(this.dim, this.options, this.live.length);
    for (let slot = 0; slot < this.live.length; slot++) {
      if (this.live[slot] === 1) g.addPoint(Array.from(this.vector(slot)), slot);
    }
    this.hnsw = g;
    this.inGraph = this.live.slice();
    this.deletedInGraph = 0;
  }
}

function newGraph(dim: number, o: ResolvedDenseOptions, capacity: number): Hnsw {
  const g = new hnswlib.HierarchicalNSW("ip", dim);
  g.initIndex({ maxElements: Math.max(capacity, 1), m: o.M, efConstruction: o.efConstruction, randomSeed: o.seed, allowReplaceDeleted: false });
  return g;
}
