/** Retrieval: candidates (dense ∪ sparse), per-mode scoring, fusion; and the encoder-backed store. */
export { search, searchWithStats, executePlan, type SearchHit, type SearchStats } from "./search.js";
export { planSearch, type SearchPlan } from "./plan.js";
export { SEARCH_DEFAULTS, type SearchOptions, type SearchMode, type FusionMethod, type MetadataFilter, type FilterValue, type FilterOperators } from "./options.js";
export { weightedFusion, rrfFusion } from "./fusion.js";
export { HybridStore, type DocumentInput, type AddOptions, type ProgressEvent, type StoreOptions } from "./hybrid-store.js";
