/**
 * Synthetic training pairs for the head fine-tuning tests: topics of a few words; a query
 * names a topic, its positive is a sentence about it, its negative a sentence about another.
 */
import type { TrainingPair } from "../../src/finetune/pairs.js";

const WORDS = [
  "river", "mountain", "bread", "yeast", "moon", "tide", "engine", "piston", "violin", "string", "garden", "rose",
  "winter", "snow", "coffee", "bean", "ocean", "whale", "forest", "pine", "castle", "king", "rocket", "fuel",
  "desert", "sand", "library", "book", "island", "palm", "bridge", "steel", "cheese", "milk", "storm", "thunder",
];

export function syntheticPairs(n: number, opts: { pages?: boolean; negatives?: boolean } = {}): TrainingPair[] {
  const out: TrainingPair[] = [];
  const topics = WORDS.length / 2;
  for (let i = 0; i < n; i++) {
    const t = i % topics;
    const a = WORDS[2 * t]!;
    const b = WORDS[2 * t + 1]!;
    const o = (t + 1 + (i % (topics - 1))) % topics;
    const c = WORDS[2 * o]!;
    const d = WORDS[2 * o + 1]!;
    const v = Math.floor(i / topics);
    out.push({
      query: `${a} ${b} ${v}`,
      positive: `the ${a} and the ${b} are described here, version ${v} of ${i}`,
      ...(opts.negatives === false ? {} : { negatives: [`a text about ${c} and ${d}, number ${i}`] }),
      ...(opts.pages ? { page: `${a}.${v % 3}` } : {}),
    });
  }
  return out;
}
