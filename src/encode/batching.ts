/**
 * Length-sorted, token-budget batching. Texts are sorted longest first and cut into
 * contiguous runs (batches); each batch is padded to its own longest text L, holds at most
 * `maxBatchSize` texts, at most `batchTokens` padded tokens (texts × L) and at most
 * `attentionBudget` texts × L² (what the attention scores of one pass take: a long text runs
 * alone; one text is never refused here, the encoder checks it against the budget first).
 * Among all such cuts, a dynamic programme picks the one of least estimated cost, so a few
 * long texts do not force hundreds of short ones to be padded to their length (greedy
 * filling would). O(n · maxBatchSize).
 */

/** A batch: indices into the input (longest first) and its padded length. */
export interface Batch {
  items: number[];
  length: number;
}

/** Fixed cost of one run, in token-equivalents (call overhead, small-matrix inefficiency). */
export const RUN_OVERHEAD_TOKENS = 64;
/** Padded length at which attention costs as much as the rest of a layer (BGE-M3: ~6000). */
export const ATTENTION_BREAK_EVEN = 6144;

/** Estimated cost of a forward pass over `count` texts padded to `length` tokens. */
export function batchCost(count: number, length: number): number {
  return count * length * (1 + length / ATTENTION_BREAK_EVEN) + RUN_OVERHEAD_TOKENS;
}

/** The default `attentionBudget`: one text of 8192 tokens per pass (8192²). */
export const DEFAULT_ATTENTION_BUDGET = 8192 * 8192;

/** Plans batches for texts of the given token lengths. */
export function planBatches(
  lengths: readonly number[],
  batchTokens: number,
  maxBatchSize: number,
  attentionBudget: number = DEFAULT_ATTENTION_BUDGET,
): Batch[] {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[b]! - lengths[a]! || a - b);
  const n = order.length;
  const best = new Float64Array(n + 1).fill(Infinity);
  const cut = new Int32Array(n + 1);
  best[0] = 0;
  for (let j = 1; j <= n; j++) {
    // Batch = order[i..j); its padded length is that of order[i] (the longest).
    for (let i = j - 1; i >= 0 && j - i <= maxBatchSize; i--) {
      const len = lengths[order[i]!]!;
      if (j - i > 1 && ((j - i) * len > batchTokens || (j - i) * len * len > attentionBudget)) break;
      const c = best[i]! + batchCost(j - i, len);
      if (c < best[j]!) {
        best[j] = c;
        cut[j] = i;
      }
    }
  }
  const batches: Batch[] = [];
  for (let j = n; j > 0; j = cut[j]!) {
    const items = order.slice(cut[j]!, j);
    batches.push({ items, length: lengths[items[0]!]! });
  }
  return batches.reverse();
}

/** The padded `[B, L]` input tensors' data of one batch (pad id `padId`, mask 0 on padding). */
export function padBatch(ids: readonly Int32Array[], length: number, padId: number): { inputIds: BigInt64Array; mask: BigInt64Array } {
  const B = ids.length;
  const inputIds = new BigInt64Array(B * length).fill(BigInt(padId));
  const mask = new BigInt64Array(B * length);
  for (let b = 0; b < B; b++) {
    const row = ids[b]!;
    for (let i = 0; i < row.length; i++) {
      inputIds[b * length + i] = BigInt(row[i]!);
      mask[b * length + i] = 1n;
    }
  }
  return { inputIds, mask };
}
