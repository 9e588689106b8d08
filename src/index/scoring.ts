/**
 * One row scorer per index: its ColBERT store and its sketch score through the same onnxruntime
 * scorer (one session per row type), created here — no native session before the first score —
 * unless the options bring one, and released by the index when it closes.
 */
import { MaxSim } from "../multivector/maxsim/maxsim.js";
import { createOrtRowScorer } from "../multivector/maxsim/row-scorer.js";
import type { RowScorer } from "../types.js";
import type { ColbertOpenOptions } from "./colbert/types.js";
import { resolveOpenOptions } from "./colbert/validate.js";

export interface IndexScoring<O extends ColbertOpenOptions> {
  /** The ColBERT options for the store factory, with the shared scorer. */
  colbert: O;
  /** MaxSim of the sketch, on the same scorer. */
  sketch: MaxSim;
  /** The scorer created here: the index releases it at close. */
  owned: RowScorer | undefined;
}

export function indexScoring<O extends ColbertOpenOptions>(options: O | undefined): IndexScoring<O> {
  const { kernel, kernelThreads, rowScorer } = resolveOpenOptions(options);
  const owned = kernel === "onnxruntime" && rowScorer === undefined ? createOrtRowScorer({ intraOpNumThreads: kernelThreads }) : undefined;
  const shared = rowScorer ?? owned;
  return { colbert: { ...(typeof options === "object" && options !== null ? options : ({} as O)), rowScorer: shared }, sketch: new MaxSim(kernel, kernelThreads, shared), owned };
}
