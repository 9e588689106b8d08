/**
 * `RowScorer` on onnxruntime: the ColBERT store's `Q · Dᵀ` products run as a Gemm (the same
 * library and thread pool design as the encoder) instead of JavaScript loops. One small
 * session per row type (any row width), created on first use.
 */
import { availableParallelism } from "node:os";
import { ErrorCodes, M3Error } from "../../errors.js";
import type { RowScorer, TokenRows } from "../../types.js";
import { ROWS_DOCS, ROWS_OUTPUT, ROWS_QUERY, ROWS_SCALES, buildRowsGraph } from "../../encode/onnx/rows-graph.js";
import { resolveProviders, type ExecutionProvider, type ResolvedProvider } from "../../encode/providers.js";
import { createSession, ort, runSession, type Session } from "../../encode/session.js";

export interface OrtRowScorerOptions {
  /** onnxruntime intra-op threads of the scoring sessions. @default os.availableParallelism() */
  intraOpNumThreads?: number;
  /**
   * Execution providers of the scoring sessions, as the encoder's `executionProviders` (same
   * names, provider options, CPU fallback and PROVIDER_UNAVAILABLE on the first score call).
   * @default ["cpu"]
   */
  executionProviders?: ExecutionProvider[];
}

class OrtRowScorer implements RowScorer {
  private readonly sessions = new Map<string, Promise<Session>>();
  private readonly running = new Set<Promise<unknown>>();
  private released = false;

  constructor(
    private readonly threads: number,
    private readonly providers: ResolvedProvider[],
  ) {}

  async score(q: Float32Array, qRows: number, d: TokenRows): Promise<Float32Array> {
    if (this.released) throw new M3Error(ErrorCodes.DISPOSED, "This row scorer was released; create a new one.");
    checkShapes(q, qRows, d);
    if (qRows === 0 || d.rows === 0) return new Float32Array(qRows * d.rows);
    const run = this.run(q, qRows, d);
    this.running.add(run);
    try {
      return await run;
    } finally {
      this.running.delete(run);
    }
  }

  private async run(q: Float32Array, qRows: number, d: TokenRows): Promise<Float32Array> {
    const session = await this.session(d.type);
    const feeds: Record<string, ort.Tensor> = {
      [ROWS_QUERY]: new ort.Tensor("float32", q.subarray(0, qRows * d.dim), [qRows, d.dim]),
      [ROWS_DOCS]: new ort.Tensor(d.type, d.data.subarray(0, d.rows * d.dim), [d.rows, d.dim]),
    };
    if (d.type === "int8") feeds[ROWS_SCALES] = new ort.Tensor("float32", d.scales.subarray(0, d.rows), [d.rows]);
    const out = await runSession(session, feeds, [ROWS_OUTPUT], "the ColBERT scoring graph");
    return out[ROWS_OUTPUT]!.data as Float32Array;
  }

  private session(type: TokenRows["type"]): Promise<Session> {
    const key = type;
    let s = this.sessions.get(key);
    if (s === undefined) {
      s = createSession(buildRowsGraph(type), {
        executionProviders: this.providers,
        intraOpNumThreads: this.threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: "all",
      }, `the ColBERT scoring graph (${key})`);
      this.sessions.set(key, s);
      s.catch(() => this.sessions.delete(key));
    }
    return s;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await Promise.allSettled([...this.running]);
    const sessions = await Promise.allSettled([...this.sessions.values()]);
    this.sessions.clear();
    for (const s of sessions) if (s.status === "fulfilled") await s.value.release();
  }
}

function checkShapes(q: Float32Array, qRows: number, d: TokenRows): void {
  const bad = (what: string): never => {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `RowScorer.score: ${what}.`);
  };
  if (!Number.isSafeInteger(qRows) || qRows < 0) bad(`qRows must be a non-negative integer, got ${String(qRows)}`);
  if (!Number.isSafeInteger(d.dim) || d.dim < 1) bad(`dim must be a positive integer, got ${String(d.dim)}`);
  if (!Number.isSafeInteger(d.rows) || d.rows < 0) bad(`rows must be a non-negative integer, got ${String(d.rows)}`);
  if (q.length < qRows * d.dim) bad(`the query holds ${q.length} values, fewer than qRows·dim = ${qRows * d.dim}`);
  if (d.data.length < d.rows * d.dim) bad(`the rows hold ${d.data.length} values, fewer than rows·dim = ${d.rows * d.dim}`);
  if (d.type === "int8" && d.scales.length < d.rows) bad(`int8 rows need ${d.rows} scales, got ${d.scales.length}`);
}

/** A `RowScorer` that runs in onnxruntime (CPU unless `executionProviders` says otherwise). Call `release()` when done. */
export function createOrtRowScorer(options: OrtRowScorerOptions = {}): RowScorer {
  if (typeof options !== "object" || options === null) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `createOrtRowScorer options must be an object; got ${String(options)}.`);
  }
  const providers = resolveProviders(options.executionProviders);
  const threads = options.intraOpNumThreads ?? availableParallelism();
  if (!Number.isSafeInteger(threads) || threads < 1 || threads > 1024) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `intraOpNumThreads must be an integer from 1 to 1024; got ${String(threads)}.`);
  }
  return new OrtRowScorer(threads, providers);
}
