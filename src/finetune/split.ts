/** The seeded held-out split (whole pages when pairs name one) and the batches of an epoch. */
import { ErrorCodes, M3Error } from "../errors.js";
import { mulberry32 } from "../math/rng.js";
import type { Batch } from "./batch.js";
import type { ReadPair } from "./pairs.js";

/** The seeded generator the split and the epochs draw from. */
export const rng = mulberry32;

export function shuffle<T>(items: T[], rand: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** Fewest pairs on each side of the split. */
export const MIN_SPLIT_PAIRS = 2;

/** Splits the pairs: about `share` of them (whole pages) held out. Too few pairs or pages -> PAIRS_INVALID. */
export function splitPairs(pairs: readonly ReadPair[], share: number, seed: number, name: string): { train: ReadPair[]; heldOut: ReadPair[] } {
  const groups = new Map<string, ReadPair[]>();
  pairs.forEach((p, i) => {
    const key = p.page !== undefined ? `page:${p.page}` : `pair:${i}`;
    const g = groups.get(key);
    if (g) g.push(p);
    else groups.set(key, [p]);
  });
  const keys = shuffle([...groups.keys()], rng(seed));
  const want = Math.max(MIN_SPLIT_PAIRS, Math.round(share * pairs.length));
  const heldOut: ReadPair[] = [];
  const train: ReadPair[] = [];
  for (const k of keys) (heldOut.length < want ? heldOut : train).push(...groups.get(k)!);
  if (heldOut.length < MIN_SPLIT_PAIRS || train.length < MIN_SPLIT_PAIRS) {
    const pages = [...groups.keys()].filter((k) => k.startsWith("page:")).length;
    throw new M3Error(
      ErrorCodes.PAIRS_INVALID,
      `${name}: ${pairs.length} pairs${pages > 0 ? ` from ${groups.size} groups (${pages} pages)` : ""} are too few for a held-out split of ${Math.round(share * 100)}% ` +
        `with at least ${MIN_SPLIT_PAIRS} pairs on each side (held out ${heldOut.length}, training ${train.length}). Add pairs${pages > 0 ? " from more pages" : ""} or change heldOutShare.`,
      { details: { file: name, pairs: pairs.length, groups: groups.size, heldOut: heldOut.length, train: train.length } },
    );
  }
  return { train, heldOut };
}

/** Text numbers of one pair: query, positive, negatives. */
export interface PairTexts {
  query: number;
  positive: number;
  negatives: number[];
}

/** Cuts `pairs` (in the given order) into batches of `size` queries; candidates are the batch's positives then its negatives, each once. */
export function makeBatches(pairs: readonly PairTexts[], size: number): Batch[] {
  const out: Batch[] = [];
  for (let s = 0; s < pairs.length; s += size) {
    const chunk = pairs.slice(s, s + size);
    if (chunk.length < 2 && out.length > 0) {
      // A lone query has no in-batch negative: it joins the previous batch.
      const prev = out.pop()!;
      out.push(build([...prev.queries.map((_, i) => pairs[s - prev.queries.length + i]!), ...chunk]));
      continue;
    }
    out.push(build(chunk));
  }
  return out;
}

function build(chunk: readonly PairTexts[]): Batch {
  const index = new Map<number, number>();
  const candidates: number[] = [];
  const add = (t: number): number => {
    let k = index.get(t);
    if (k === undefined) {
      k = candidates.length;
      index.set(t, k);
      candidates.push(t);
    }
    return k;
  };
  const labels = Int32Array.from(chunk.map((p) => add(p.positive)));
  for (const p of chunk) p.negatives.forEach(add);
  return { queries: chunk.map((p) => p.query), candidates, labels };
}
