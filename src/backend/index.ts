/** The backend contract (below the embedded index and the Postgres backend; imported by retrieve/). */
export type {
  RetrievalBackend, BackendEntry, StoredDocument, DeleteResult, UpsertResult, CallOptions, CandidateRequest,
  CandidatePool, CandidateStats, ScoredCandidates, FetchedDocuments, BackendInfo, BackendCapabilities, SearchMode, CandidateSource, AnyFilter,
} from "./types.js";
export type { SearchPlan, SearchHit, SearchStats, FusionMethod } from "./plan.js";
export { checkId, checkIds, checkMetadata, checkDocEncoding, checkQuery, checkSignal, checkFingerprint } from "./validate.js";
export { parseFilter, matchesFilter, hasPredicate, type Filter, type FilterValue, type FilterOperators, type MetadataFilter } from "./filter.js";
