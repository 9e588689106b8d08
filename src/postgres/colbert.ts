/**
 * ColBERT rows as schema v2 keeps them, in the package's own codecs (multivector/codec, multivector/sketch): the full rows
 * in the collection's codec (int8 with one float32 scale per row by default, `dim + 4` bytes a row), and the
 * embedded index's sketch of them (count sketch to 128 columns, int8: 132 bytes a row) with its mean row (the
 * multi-vector first stage, a `vector(128)` with its own HNSW index). The same functions of the rows as the
 * embedded index computes, so a Postgres search and an embedded search score a document alike.
 *
 * Scoring runs in this process with the embedded kernels (onnxruntime Gemm over int8/float blocks, MaxSim as a
 * segment maximum): the server stores and ships bytes, the client multiplies.
 */
import { createOrtRowScorer } from "../multivector/maxsim/row-scorer.js";
import type { MultiVector, RowScorer } from "../types.js";
import type { ColbertCodec } from "../multivector/codec/codec.js";
import { createCodec } from "../multivector/codec/codecs.js";
import { BlockBuffers, BlockMaxSim, type BlockCodec } from "../multivector/maxsim/rows.js";
import { Scratch } from "../util/scratch.js";
import { SKETCH_SEED, createCountSketch, meanRow, sketchRows, type CountSketch } from "../multivector/sketch/projection.js";

/** How schema v2 stores full ColBERT rows (the embedded store's codecs that its block kernel scores). */
export type PgColbertCodec = BlockCodec;

export const PG_COLBERT_CODECS: readonly PgColbertCodec[] = ["int8", "float16", "float32"];

/** One document's ColBERT rows as they are written. */
export interface EncodedColbert {
  tokens: number;
  rows: Uint8Array;
  sketch: Uint8Array;
  /** Mean of the sketched rows (zeros for a document without rows). */
  mean: Float32Array;
}

/** A stored payload to score: `tokens` rows in `payload` (4-byte aligned). */
export interface Payload {
  tokens: number;
  payload: Uint8Array;
}

export class PgColbert {
  readonly sketchDim: number;
  readonly seed: number;
  private readonly rowsCodec: ColbertCodec;
  private readonly sketchCodec: ColbertCodec;
  private readonly projection: CountSketch;
  private scorer: RowScorer | undefined;
  private readonly scratch = { rows: new Scratch(new BlockBuffers()), sketch: new Scratch(new BlockBuffers()) };

  constructor(
    readonly dim: number,
    readonly codec: PgColbertCodec,
    sketchDim: number,
    seed: number = SKETCH_SEED,
    private readonly kernelThreads = 1,
  ) {
    this.sketchDim = Math.min(sketchDim, dim);
    this.seed = seed;
    this.rowsCodec = createCodec(codec, dim);
    this.sketchCodec = createCodec("int8", this.sketchDim);
    this.projection = createCountSketch(dim, this.sketchDim, seed);
  }

  encode(m: MultiVector): EncodedColbert {
    const rows = new Uint8Array(this.rowsCodec.payloadBytes(m.tokens));
    this.rowsCodec.encode(m.data, m.tokens, rows);
    const sketched = new Float32Array(m.tokens * this.sketchDim);
    sketchRows(this.projection, m.data, m.tokens, sketched);
    const sketch = new Uint8Array(this.sketchCodec.payloadBytes(m.tokens));
    this.sketchCodec.encode(sketched, m.tokens, sketch);
    return { tokens: m.tokens, rows, sketch, mean: meanRow(sketched, m.tokens, this.sketchDim, new Float32Array(this.sketchDim)) };
  }

  /** The query's rows in sketch space, and their mean (the multi-vector first stage's query). */
  sketchQuery(q: MultiVector): { rows: Float32Array; mean: Float32Array } {
    const rows = new Float32Array(q.tokens * this.sketchDim);
    sketchRows(this.projection, q.data, q.tokens, rows);
    return { rows, mean: meanRow(rows, q.tokens, this.sketchDim, new Float32Array(this.sketchDim)) };
  }

  /** Exact ColBERT scores (spec formula: mean over query rows of the best document row) of full-row payloads. */
  scoreRows(q: MultiVector, items: readonly Payload[]): Promise<Float32Array> {
    return this.maxSim(this.codec, this.dim, q.data, q.tokens, items, this.scratch.rows);
  }

  /** Approximate ColBERT scores over sketch payloads; `rows` from `sketchQuery`. */
  scoreSketches(rows: Float32Array, tokens: number, items: readonly Payload[]): Promise<Float32Array> {
    return this.maxSim("int8", this.sketchDim, rows, tokens, items, this.scratch.sketch);
  }

  async close(): Promise<void> {
    const s = this.scorer;
    this.scorer = undefined;
    if (s !== undefined) await s.release();
  }

  private async maxSim(codec: BlockCodec, dim: number, q: Float32Array, qRows: number, items: readonly Payload[], kept: Scratch<BlockBuffers>): Promise<Float32Array> {
    const out = new Float32Array(items.length);
    if (qRows === 0 || items.length === 0) return out;
    const inv = 1 / qRows;
    this.scorer ??= createOrtRowScorer({ intraOpNumThreads: this.kernelThreads });
    const scratch = kept.take();
    try {
      const blocks = new BlockMaxSim(codec, dim, q, qRows, this.scorer, (i, sum) => (out[i] = sum * inv), scratch);
      let rows = 0;
      for (const it of items) rows += it.tokens;
      blocks.expect(rows);
      for (let i = 0; i < items.length; i++) await blocks.add(i, items[i]!.tokens, items[i]!.payload);
      await blocks.flush();
    } finally {
      if (scratch !== undefined) kept.release();
    }
    return out;
  }
}
