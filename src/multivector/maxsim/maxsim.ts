/**
 * MaxSim over stored rows, the one module every owner of rows uses (the ColBERT store, the
 * sketch). With the "onnxruntime" kernel the candidates' payloads are packed into blocks
 * (`BlockMaxSim`) and scored by a row scorer (`Q · Dᵀ` as a Gemm); with "js", the binary codec or
 * an empty query, the owner runs its codec's own loop. The row scorer is either shared (an index
 * passes one to its store and its sketch: one onnxruntime session per row type and index; its
 * owner releases it) or created here on first use and released by `close`.
 */
import type { MultiVector, RowScorer } from "../../types.js";
import { Scratch } from "../../util/scratch.js";
import type { ColbertCodecName } from "../codec/codec.js";
import type { ColbertKernel } from "./kernels.js";
import { createOrtRowScorer } from "./row-scorer.js";
import { BlockBuffers, BlockMaxSim, type BlockCodec } from "./rows.js";

export class MaxSim {
  private readonly buffers = new Scratch(new BlockBuffers());
  private own: RowScorer | undefined;

  constructor(
    readonly kernel: ColbertKernel,
    /** onnxruntime intra-op threads of a scorer created here. */
    private readonly threads: number,
    /** A scorer to use and leave to its owner; undefined: one of this module's own, on first use. */
    private readonly shared?: RowScorer,
  ) {}

  /** Whether `blocks` runs this query: the onnxruntime kernel, a codec other than binary, a query with rows. */
  usesBlocks(codec: ColbertCodecName, query: MultiVector): codec is BlockCodec {
    return this.kernel === "onnxruntime" && codec !== "binary" && query.tokens > 0;
  }

  /**
   * Scores candidates in blocks: `feed` adds each candidate's payload (`add(index, tokens,
   * payload)`, and `flush()` before payload views are overwritten); `out(index, sum)` receives
   * `sum_i max_j <q_i, d_j>`. `rows` (the candidates' rows in total) sizes the buffers once.
   */
  async blocks(codec: BlockCodec, dim: number, query: MultiVector, rows: number, out: (index: number, sum: number) => void, feed: (blocks: BlockMaxSim) => Promise<void>): Promise<void> {
    const buffers = this.buffers.take();
    try {
      const blocks = new BlockMaxSim(codec, dim, query.data, query.tokens, this.scorer(), out, buffers);
      blocks.expect(rows);
      await feed(blocks);
      await blocks.flush();
    } finally {
      if (buffers !== undefined) this.buffers.release();
    }
  }

  /** Releases the scorer created here (a shared one is its owner's to release). */
  async close(): Promise<void> {
    const s = this.own;
    this.own = undefined;
    if (s !== undefined) await s.release();
  }

  private scorer(): RowScorer {
    if (this.shared !== undefined) return this.shared;
    this.own ??= createOrtRowScorer({ intraOpNumThreads: this.threads });
    return this.own;
  }
}
