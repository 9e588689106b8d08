/**
 * `finetuneHeads`: trains `sparse_linear` and `colbert_linear` of an encoder-only BGE-M3
 * folder on a frozen encoder with the M3 self-distillation loss, early-stops on a held-out
 * split, checks the sparsity guard and writes a new model folder.
 */
import { basename } from "node:path";
import { ErrorCodes, M3Error } from "../errors.js";
import { openHiddenStates, type HiddenStateSource } from "../encode/hidden.js";
import { headsFromStateDicts } from "../encode/onnx/head-graph.js";
import { resolveEncoderOptions } from "../encode/options.js";
import { headLimits, loadStateDict } from "../encode/pt/state-dict.js";
import { Adam } from "./adam.js";
import { runBatch, type Batch } from "./batch.js";
import { HiddenCache, checkAbort } from "./cache.js";
import { cloneParams, forwardText, zerosLike, type HeadParams } from "./heads.js";
import { MODES, type LossConfig } from "./loss.js";
import { resolveFinetuneOptions, type EpochStats, type FinetuneEpoch, type FinetuneOptions, type ResolvedFinetuneOptions } from "./options.js";
import { parsePairs, readPairsFile, type ReadPair } from "./pairs.js";
import { makeBatches, rng, shuffle, splitPairs, type PairTexts } from "./split.js";
import { checkOutPath, writeModelFolder } from "./write.js";

export interface FinetuneResult {
  outPath: string;
  /** Files of the new folder, relative to it. */
  files: string[];
  /** Held-out statistics of the heads before training. */
  before: EpochStats;
  epochs: FinetuneEpoch[];
  /** The epoch whose heads were written (0: training never beat the starting heads). */
  bestEpoch: number;
  /** Share of held-out passages with no lexical weight, before and with the written heads. */
  emptySparseShare: { before: number; after: number };
  pairs: { train: number; heldOut: number };
  texts: number;
  hiddenSize: number;
  /** True when the hidden states were cached in a temporary file. */
  cacheOnDisk: boolean;
  seconds: { encode: number; train: number; total: number };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

export async function finetuneHeads(options: FinetuneOptions): Promise<FinetuneResult> {
  const t0 = Date.now();
  const o = resolveFinetuneOptions(options);
  await checkOutPath(o.outPath);
  const name = typeof o.pairs === "string" ? o.pairs : "pairs";
  const pairs = typeof o.pairs === "string" ? await readPairsFile(o.pairs) : parsePairs(Buffer.from(o.pairs.map((p) => JSON.stringify(p)).join("\n")), "pairs (line = index + 1)");
  const { train, heldOut } = splitPairs(pairs, o.heldOutShare, o.seed, name);
  checkAbort(o.signal);
  const source = await openHiddenStates(resolveEncoderOptions({ modelPath: o.modelPath, variant: o.variant, logger: o.logger, ...(o.intraOpNumThreads === undefined ? {} : { intraOpNumThreads: o.intraOpNumThreads }) }));
  let cache: HiddenCache | undefined;
  let open = true;
  const release = async (): Promise<void> => {
    if (open) await source.release();
    open = false;
  };
  try {
    const init = await loadHeads(source);
    const texts = new Map<string, number>();
    const intern = (s: string): number => {
      let k = texts.get(s);
      if (k === undefined) texts.set(s, (k = texts.size));
      return k;
    };
    const toTexts = (p: ReadPair): PairTexts => ({ query: intern(p.query), positive: intern(p.positive), negatives: (p.negatives ?? []).map(intern) });
    const trainT = train.map(toTexts);
    const heldT = heldOut.map(toTexts);
    const ids = await source.tokenizer.tokenize([...texts.keys()], o.maxLength);
    cache = await HiddenCache.fill(source, ids, init.hidden, {
      memoryBytes: o.cacheMemoryBytes,
      cacheDir: o.cacheDir,
      signal: o.signal,
      onBatch: (done, total) => o.onProgress?.({ phase: "encode", done, total }),
    });
    await release();
    const tEncoded = Date.now();
    o.logger.info?.("finetune: hidden states cached", { texts: texts.size, onDisk: cache.onDisk, ms: tEncoded - t0 });
    const s = source.tokenizer.special;
    const drop = new Set([s.cls, s.pad, s.sep, s.unk]);
    const c = cache;
    const get = (i: number) => c.get(i);
    const cfg: LossConfig = { temperature: o.temperature, teacherWeights: o.teacherWeights, lossWeights: o.lossWeights };
    const heldBatches = makeBatches(heldT, o.batchSize);
    const evaluate = async (p: HeadParams): Promise<EpochStats> => pass(p, heldBatches, get, drop, cfg, o, undefined);
    const before = await evaluate(init);
    const params = cloneParams(init);
    let best = { params: cloneParams(init), loss: before.loss, epoch: 0 };
    const adam = new Adam(params, o.learningRate);
    const rand = rng(o.seed ^ 0x5eed);
    const epochs: FinetuneEpoch[] = [];
    let stale = 0;
    for (let e = 1; e <= o.epochs && stale < o.patience; e++) {
      const te = Date.now();
      const trainStats = await pass(params, makeBatches(shuffle([...trainT], rand), o.batchSize), get, drop, cfg, o, adam);
      const held = await evaluate(params);
      if (held.loss < best.loss) {
        best = { params: cloneParams(params), loss: held.loss, epoch: e };
        stale = 0;
      } else stale++;
      const ep: FinetuneEpoch = { epoch: e, epochs: o.epochs, train: trainStats, heldOut: held, bestEpoch: best.epoch, seconds: (Date.now() - te) / 1000 };
      epochs.push(ep);
      o.logger.info?.("finetune: epoch", { ...ep });
      o.onProgress?.({ phase: "epoch", ...ep });
    }
    const passages = [...new Set(heldT.flatMap((p) => [p.positive, ...p.negatives]))];
    const emptySparseShare = { before: emptyShare(init, passages, get, drop), after: emptyShare(best.params, passages, get, drop) };
    if (emptySparseShare.after > o.maxEmptySparseShare) {
      throw new M3Error(
        ErrorCodes.HEADS_DEGENERATE,
        `The fine-tuned sparse head leaves ${(100 * emptySparseShare.after).toFixed(1)}% of the ${passages.length} held-out passages with no lexical weight ` +
          `(before: ${(100 * emptySparseShare.before).toFixed(1)}%; the limit is ${(100 * o.maxEmptySparseShare).toFixed(1)}%), so nothing was written. ` +
          `Lower learningRate or lossWeights.sparse, train fewer epochs, or raise maxEmptySparseShare.`,
        { details: { emptySparseShare, limit: o.maxEmptySparseShare, passages: passages.length } },
      );
    }
    checkAbort(o.signal);
    const tTrained = Date.now();
    const record = {
      generator: "langchain-m3 finetuneHeads",
      source: o.modelPath,
      pairs: typeof o.pairs === "string" ? basename(o.pairs) : "(array)",
      options: { ...o, pairs: undefined, onProgress: undefined, signal: undefined, logger: undefined, cacheDir: undefined },
      pairCounts: { train: train.length, heldOut: heldOut.length },
      before,
      epochs,
      bestEpoch: best.epoch,
      emptySparseShare,
    };
    const files = await writeModelFolder(source.files.dir, o.outPath, best.params, record);
    const end = Date.now();
    return {
      outPath: o.outPath,
      files,
      before,
      epochs,
      bestEpoch: best.epoch,
      emptySparseShare,
      pairs: { train: train.length, heldOut: heldOut.length },
      texts: texts.size,
      hiddenSize: init.hidden,
      cacheOnDisk: cache.onDisk,
      seconds: { encode: (tEncoded - t0) / 1000, train: (tTrained - tEncoded) / 1000, total: (end - t0) / 1000 },
    };
  } finally {
    cache?.close();
    await release().catch(() => undefined);
  }
}

/** The source folder's heads, as float64 parameters. */
async function loadHeads(source: HiddenStateSource): Promise<HeadParams> {
  const f = source.files;
  const limits = headLimits();
  const [sp, cb] = await Promise.all([loadStateDict(f.sparsePt, limits), loadStateDict(f.colbertPt, limits)]);
  const h = headsFromStateDicts(sp, cb, undefined, { sparse: basename(f.sparsePt), colbert: basename(f.colbertPt) });
  return { hidden: h.hidden, sparseWeight: Float64Array.from(h.sparseWeight), sparseBias: Float64Array.from(h.sparseBias), colbertWeight: Float64Array.from(h.colbertWeight), colbertBias: Float64Array.from(h.colbertBias) };
}

/** One pass over `batches`: with `adam`, a training step per batch; returns the mean loss and per-mode statistics. */
async function pass(
  p: HeadParams,
  batches: Batch[],
  get: (i: number) => { ids: Int32Array; x: Float32Array },
  drop: ReadonlySet<number>,
  cfg: LossConfig,
  o: ResolvedFinetuneOptions,
  adam: Adam | undefined,
): Promise<EpochStats> {
  let loss = 0;
  let queries = 0;
  const sums = { dense: { infoNce: 0, distill: 0, accuracy: 0 }, sparse: { infoNce: 0, distill: 0, accuracy: 0 }, colbert: { infoNce: 0, distill: 0, accuracy: 0 } };
  for (const b of batches) {
    checkAbort(o.signal);
    const grad = adam ? zerosLike(p) : undefined;
    const r = runBatch(p, b, get, drop, cfg, grad);
    if (adam && grad) adam.step(p, grad);
    const B = b.queries.length;
    loss += r.loss * B;
    queries += B;
    for (const m of MODES) {
      sums[m].infoNce += r.modes[m].infoNce * B;
      sums[m].distill += r.modes[m].distill * B;
      sums[m].accuracy += r.modes[m].correct;
    }
    await tick(); // lets an abort (e.g. Ctrl-C) through between batches
  }
  for (const m of MODES) {
    sums[m].infoNce /= queries;
    sums[m].distill /= queries;
    sums[m].accuracy /= queries;
  }
  return { loss: loss / queries, modes: sums };
}

/** Share of `passages` whose lexical weights are all zero under heads `p`. */
function emptyShare(p: HeadParams, passages: number[], get: (i: number) => { ids: Int32Array; x: Float32Array }, drop: ReadonlySet<number>): number {
  if (passages.length === 0) return 0;
  let empty = 0;
  for (const i of passages) {
    const t = get(i);
    if (forwardText(p, t.ids, t.x, drop, false).sparseIds.length === 0) empty++;
  }
  return empty / passages.length;
}
