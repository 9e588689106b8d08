/**
 * Length-sorted, token-budget batching: texts are sorted longest first and packed so that a
 * batch's padded size (count × its longest text) stays within `batchTokens` and its count
 * within `maxBatchSize`. Each batch is padded only to its own longest text.
 */

/** A batch: indices into the input (longest first) and its padded length. */
export interface Batch {
  items: number[];
  length: number;
}

/** Plans batches for texts of the given token lengths. A text longer than the budget gets a batch of its own. */
export function planBatches(lengths: readonly number[], batchTokens: number, maxBatchSize: number): Batch[] {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[b]! - lengths[a]! || a - b);
  const batches: Batch[] = [];
  let cur: Batch | undefined;
  for (const i of order) {
    if (cur !== undefined && cur.items.length < maxBatchSize && (cur.items.length + 1) * cur.length <= batchTokens) {
      cur.items.push(i);
      continue;
    }
    cur = { items: [i], length: lengths[i]! };
    batches.push(cur);
  }
  return batches;
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
