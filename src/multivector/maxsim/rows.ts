/**
 * Packing stored ColBERT rows into contiguous blocks for a `RowScorer` (`Q · Dᵀ` in
 * onnxruntime), and MaxSim as a segment maximum over the resulting score matrix.
 * Payload layouts are those of the codecs: float32 rows; float16 bits; int8 = `tokens`
 * float32 scales, then `tokens · dim` codes.
 */
import type { RowScorer, TokenRows } from "../../types.js";
import type { ColbertCodecName } from "../codec/codec.js";

export type BlockCodec = Exclude<ColbertCodecName, "binary">;

/** Output floats one scoring call may produce (block rows × qRows): 32 MiB. */
const SCORE_BUDGET = 8 * 1024 * 1024;
/** Most document rows in one block (16 MiB of int8 codes at dim 1024). */
const MAX_BLOCK_ROWS = 16 * 1024;

/**
 * Block buffers kept between `BlockMaxSim`s of one owner, lent through a `Scratch` (src/util/scratch.ts):
 * a rerank then allocates nothing (fresh buffers per call cost more CPU than the onnxruntime Gemm
 * itself: profile of 10k-document searches).
 */
export class BlockBuffers {
  data: Float32Array | Uint16Array | Int8Array | undefined;
  scales: Float32Array = new Float32Array(0);
}

/** Collects candidates' payloads into one block, scores it with the row scorer, writes MaxSim sums. */
export class BlockMaxSim {
  private readonly blockRows: number;
  private data: Float32Array | Uint16Array | Int8Array;
  private scales: Float32Array;
  private rows = 0;
  private readonly docs: Array<{ index: number; start: number; tokens: number }> = [];
  /** Running maxima per query row, for one document. */
  private readonly max: Float32Array;

  constructor(
    private readonly codec: BlockCodec,
    private readonly dim: number,
    private readonly q: Float32Array,
    private readonly qRows: number,
    private readonly scorer: RowScorer,
    /** Receives `sum_i max_j <q_i, d_j>` per candidate index. */
    private readonly out: (index: number, sum: number) => void,
    /** Buffers to use (and keep, grown) instead of fresh ones; see `BlockBuffers`. */
    private readonly scratch?: BlockBuffers,
  ) {
    this.max = new Float32Array(qRows);
    this.blockRows = Math.max(1, Math.min(MAX_BLOCK_ROWS, Math.floor(SCORE_BUDGET / Math.max(qRows, 1))));
    const kept = scratch?.data;
    this.data = kept !== undefined && kept.constructor === this.alloc(0).constructor ? kept : this.alloc(0);
    this.scales = scratch?.scales ?? new Float32Array(0);
  }

  /** Sizes the buffers for `rows` rows in total (capped at a block) before the first `add`, so they grow once. */
  expect(rows: number): void {
    this.reserve(Math.min(this.blockRows, Math.max(rows, 1)));
  }

  /** Adds one candidate's payload; scores the pending block first when it would overflow. */
  async add(index: number, tokens: number, payload: Uint8Array): Promise<void> {
    if (tokens === 0 || this.qRows === 0) {
      this.out(index, 0);
      return;
    }
    if (this.rows > 0 && this.rows + tokens > this.blockRows) await this.flush();
    this.reserve(this.rows + tokens);
    const n = tokens * this.dim;
    const at = this.rows * this.dim;
    switch (this.codec) {
      case "float32":
        (this.data as Float32Array).set(new Float32Array(payload.buffer, payload.byteOffset, n), at);
        break;
      case "float16":
        (this.data as Uint16Array).set(new Uint16Array(payload.buffer, payload.byteOffset, n), at);
        break;
      case "int8":
        this.scales.set(new Float32Array(payload.buffer, payload.byteOffset, tokens), this.rows);
        (this.data as Int8Array).set(new Int8Array(payload.buffer, payload.byteOffset + 4 * tokens, n), at);
        break;
    }
    this.docs.push({ index, start: this.rows, tokens });
    this.rows += tokens;
  }

  /** Scores the pending block (no-op when empty). */
  async flush(): Promise<void> {
    if (this.rows === 0) return;
    const t = this.rows;
    const s = await this.scorer.score(this.q, this.qRows, this.block(t));
    const r = this.qRows;
    const m = this.max;
    for (const d of this.docs) {
      m.set(s.subarray(d.start * r, d.start * r + r));
      for (let j = 1; j < d.tokens; j++) {
        const base = (d.start + j) * r;
        for (let i = 0; i < r; i++) if (s[base + i]! > m[i]!) m[i] = s[base + i]!;
      }
      let sum = 0;
      for (let i = 0; i < r; i++) sum += m[i]!;
      this.out(d.index, sum);
    }
    this.docs.length = 0;
    this.rows = 0;
  }

  private block(rows: number): TokenRows {
    const dim = this.dim;
    switch (this.codec) {
      case "float32": return { type: "float32", data: this.data as Float32Array, rows, dim };
      case "float16": return { type: "float16", data: this.data as Uint16Array, rows, dim };
      case "int8": return { type: "int8", data: this.data as Int8Array, scales: this.scales, rows, dim };
    }
  }

  /**
   * Room for `rows` rows, keeping the pending ones. Buffers grow geometrically up to the block
   * size (a few candidates do not allocate a whole block); a single document larger than a
   * block gets exactly its size.
   */
  private reserve(rows: number): void {
    const have = Math.floor(this.data.length / this.dim);
    if (rows <= have && (this.codec !== "int8" || rows <= this.scales.length)) return;
    const cap = Math.max(rows, Math.min(this.blockRows, 2 * have));
    const data = this.alloc(cap);
    data.set(this.data.subarray(0, this.rows * this.dim));
    this.data = data;
    if (this.codec === "int8") {
      const scales = new Float32Array(cap);
      scales.set(this.scales.subarray(0, this.rows));
      this.scales = scales;
    }
    if (this.scratch !== undefined) {
      this.scratch.data = this.data;
      this.scratch.scales = this.scales;
    }
  }

  private alloc(rows: number): Float32Array | Uint16Array | Int8Array {
    const n = rows * this.dim;
    switch (this.codec) {
      case "float32": return new Float32Array(n);
      case "float16": return new Uint16Array(n);
      case "int8": return new Int8Array(n);
    }
  }
}
