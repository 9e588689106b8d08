/**
 * The search plan: what one query asks of a backend, built and validated once per query by
 * `planSearch` (options resolved, the filter parsed, the query encoding checked against the
 * backend's dimensions, the predicate filter refused where the backend cannot run it). A backend
 * that can run the whole plan in one request implements `RetrievalBackend.search(plan)`; others
 * supply the primitives (`candidates`, `scoreCandidates`, optionally `prescoreColbert`) and the
 * default executor in `search.ts` runs the plan over them. Either way the results are the same.
 */
import { hasPredicate } from "../backend/filter.js";
import type { SearchPlan } from "../backend/plan.js";
import type { CandidateSource, RetrievalBackend, SearchMode } from "../backend/types.js";
import { checkQuery } from "../backend/validate.js";
import { ErrorCodes, M3Error } from "../errors.js";
import type { M3Encoding } from "../types.js";
import type { ResolvedSearch } from "./options.js";

export type { SearchPlan };

/** The exact tier rescores at most this many times `rerank` candidates. */
export const RERANK_ROUNDS = 4;


/** Does the backend have a multi-vector first stage / approximate ColBERT scores (the split capabilities, or the older `colbertTiers`)? */
export function backendTiers(backend: RetrievalBackend): { multiVector: boolean; approximate: boolean } {
  const c = backend.capabilities;
  return {
    multiVector: c.multiVectorStage ?? c.colbertTiers === true,
    approximate: (c.approximateColbert ?? c.colbertTiers === true) && typeof backend.prescoreColbert === "function",
  };
}

/** The plan of one query over `backend` from resolved options; throws INVALID_ARGUMENT for a query or filter the backend cannot take. */
export function planSearch(backend: RetrievalBackend, query: M3Encoding, o: ResolvedSearch): SearchPlan {
  if (o.filter !== undefined && hasPredicate(o.filter) && !backend.capabilities.predicateFilters) {
    throw new M3Error(
      ErrorCodes.INVALID_ARGUMENT,
      `The ${backend.kind} backend cannot run a JavaScript predicate filter; write the filter as an object ({ key: value }, $in, $gt, $and, ...), which it translates.`,
    );
  }
  const has = backendTiers(backend);
  const colbertWeighted = o.modes.has("colbert") && o.fusion === "weighted";
  const sources = poolSources(o.modes);
  const n = Math.max(o.candidates, o.k);
  const stages: SearchPlan["stages"] = {};
  for (const s of sources) stages[s] = n;
  // As before the split: the multi-vector stage runs only together with the approximate tier.
  if (has.approximate && has.multiVector && colbertWeighted && o.colbertCandidates > 0) stages.multiVector = Math.max(o.colbertCandidates, o.k);
  const q = checkQuery(query, new Set<string>([...o.modes, ...sources]), backend.denseDim, backend.colbertDim);
  return {
    query: q,
    k: o.k,
    modes: o.modes,
    fusion: o.fusion,
    weights: o.weights,
    rrfK: o.rrfK,
    filter: o.filter,
    stages,
    tiers: has.approximate && colbertWeighted ? { rerank: Math.max(o.rerank, o.k), rounds: RERANK_ROUNDS } : undefined,
  };
}

/** Which of dense / sparse supply candidates: the searched ones, or both when only ColBERT is searched. */
function poolSources(modes: ReadonlySet<SearchMode>): Set<CandidateSource> {
  const s = new Set<CandidateSource>();
  if (modes.has("dense")) s.add("dense");
  if (modes.has("sparse")) s.add("sparse");
  if (s.size === 0) {
    s.add("dense");
    s.add("sparse");
  }
  return s;
}
