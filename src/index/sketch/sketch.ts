/**
 * The ColBERT sketch: a compact copy of every document's ColBERT rows that stays in memory, for
 * two jobs the full rows (on disk, ~1 KiB a row in int8) are too big for:
 * - a multi-vector first stage: the mean of a document's sketched rows in an HNSW graph
 *   (inner product, not normalised), so documents that ColBERT likes but dense and sparse do not
 *   still enter the candidate pool. <mean of query rows, mean of document rows> never exceeds
 *   the MaxSim score (a maximum is at least the mean), and follows its contextual part.
 * - an approximate ColBERT tier: MaxSim against the sketched rows (count sketch to `dim`
 *   columns, int8 with one scale per row: dim + 4 bytes a row, 132 at the default 128), cheap
 *   enough for a deep pool, so only the best few candidates need the exact rows.
 * The sketch is a function of the rows alone (data-oblivious, seeded), so documents can be
 * added one at a time and nothing is trained.
 */
import type { MultiVector } from "../../types.js";
import { createInt8Codec } from "../../multivector/codec/codec-int8.js";
import type { ColbertCodec } from "../../multivector/codec/codec.js";
import type { MaxSim } from "../../multivector/maxsim/maxsim.js";
import { SKETCH_SEED, createCountSketch, meanRow, sketchRows, type CountSketch } from "../../multivector/sketch/projection.js";
import { DenseIndex } from "../dense.js";
import type { ResolvedDenseOptions } from "../options.js";
import { SketchArena } from "./arena.js";

export interface SketchParts {
  colbertDim: number;
  /** Sketch dimension (≤ colbertDim). */
  dim: number;
  seed: number;
  arena: SketchArena;
  means: DenseIndex;
  /** MaxSim of the approximate tier (the index's: the row scorer is shared with its ColBERT store). */
  maxSim: MaxSim;
}

export class ColbertSketch {
  readonly colbertDim: number;
  readonly dim: number;
  readonly seed: number;
  /** @internal */ readonly arena: SketchArena;
  /** @internal */ readonly means: DenseIndex;
  private readonly projection: CountSketch;
  private readonly codec: ColbertCodec;
  private readonly maxSim: MaxSim;
  private rows = new Float32Array(0);
  private readonly mean: Float32Array;

  constructor(parts: SketchParts) {
    this.colbertDim = parts.colbertDim;
    this.dim = parts.dim;
    this.seed = parts.seed;
    this.arena = parts.arena;
    this.means = parts.means;
    this.maxSim = parts.maxSim;
    this.projection = createCountSketch(parts.colbertDim, parts.dim, parts.seed);
    this.codec = createInt8Codec(parts.dim);
    this.mean = new Float32Array(parts.dim);
  }

  /** An empty sketch of `colbertDim`-column rows into min(dim, colbertDim) columns. */
  static create(colbertDim: number, dim: number, hnsw: ResolvedDenseOptions, maxSim: MaxSim): ColbertSketch {
    const d = Math.min(dim, colbertDim);
    return new ColbertSketch({
      colbertDim, dim: d, seed: SKETCH_SEED, arena: new SketchArena(d), means: new DenseIndex(d, hnsw, { normalize: false }), maxSim,
    });
  }

  get size(): number {
    return this.arena.liveSlots;
  }

  has(slot: number): boolean {
    return this.arena.has(slot);
  }

  /** Sketches and stores the rows of `slot` (replacing earlier ones). */
  set(slot: number, m: MultiVector): void {
    const sketched = this.sketch(m);
    this.codec.encode(sketched, m.tokens, this.arena.put(slot, m.tokens));
    this.means.set(slot, meanRow(sketched, m.tokens, this.dim, this.mean));
  }

  remove(slot: number): void {
    this.arena.remove(slot);
    this.means.remove(slot);
  }

  /** The query's rows in sketch space (float32, `tokens × dim`), for `search` and `prescore`. */
  sketchQuery(q: MultiVector): MultiVector {
    const data = new Float32Array(q.tokens * this.dim);
    sketchRows(this.projection, q.data, q.tokens, data);
    return { data, tokens: q.tokens, dim: this.dim };
  }

  /**
   * Top-`n` slots by <mean of the query's sketched rows, mean of the document's>: HNSW, or an
   * exact scan when `scan` (few documents pass the filter). `q` comes from `sketchQuery`.
   */
  search(q: MultiVector, n: number, accept?: (slot: number) => boolean, scan = false): Uint32Array {
    const mean = meanRow(q.data, q.tokens, this.dim, new Float32Array(this.dim));
    return (scan ? this.means.scan(mean, n, accept) : this.means.search(mean, n, accept)).slots;
  }

  /** Approximate ColBERT scores (spec formula over sketched rows) of `slots`; NaN for a slot without rows. `q` comes from `sketchQuery`. */
  async prescore(q: MultiVector, slots: Uint32Array): Promise<Float32Array> {
    const out = new Float32Array(slots.length).fill(NaN);
    if (q.tokens === 0) {
      for (let i = 0; i < slots.length; i++) if (this.arena.has(slots[i]!)) out[i] = 0;
      return out;
    }
    const inv = 1 / q.tokens;
    if (!this.maxSim.usesBlocks("int8", q)) {
      const scratch = this.codec.prepare(q.data, q.tokens);
      for (let i = 0; i < slots.length; i++) {
        const v = this.arena.view(slots[i]!);
        if (v !== undefined) out[i] = this.codec.maxSimSum(scratch, v.payload, v.rows) * inv;
      }
      return out;
    }
    let rows = 0;
    for (let i = 0; i < slots.length; i++) rows += this.arena.view(slots[i]!)?.rows ?? 0;
    await this.maxSim.blocks("int8", this.dim, q, rows, (i, sum) => (out[i] = sum * inv), async (blocks) => {
      for (let i = 0; i < slots.length; i++) {
        const v = this.arena.view(slots[i]!);
        if (v !== undefined) await blocks.add(i, v.rows, v.payload);
      }
    });
    return out;
  }

  /** Bytes held in memory: the sketched rows, the means and their graph. */
  memory(): { rowBytes: number; meanBytes: number; graphBytes: number } {
    const m = this.means.memory();
    return { rowBytes: this.arena.residentBytes(), meanBytes: m.vectorBytes, graphBytes: m.graphBytes };
  }

  /** Releases the MaxSim scorer if the sketch's own (the index's shared one is released by the index). */
  async close(): Promise<void> {
    await this.maxSim.close();
  }

  private sketch(m: MultiVector): Float32Array {
    const n = m.tokens * this.dim;
    if (this.rows.length < n) this.rows = new Float32Array(Math.max(n, 2 * this.rows.length));
    const out = this.rows.subarray(0, n);
    sketchRows(this.projection, m.data, m.tokens, out);
    return out;
  }
}
