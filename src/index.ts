/**
 * langchain-m3: BGE-M3 (dense + learned sparse + ColBERT) for LangChain.js on onnxruntime-node.
 * The public surface, in the order data flows: model acquisition → tokenizer → encoder →
 * index → retrieval → LangChain adapters. Everything here is listed in the README.
 */

// Shared types, errors and score maths
export type {
  SparseVector, MultiVector, M3Encoding, M3OutputSelection, ModeWeights, Logger,
  ModelFingerprint, EncodeOptions, M3EncoderLike,
} from "./types.js";
export { DEFAULT_WEIGHTS } from "./types.js";
export { M3Error, ErrorCodes, isM3Error, type ErrorCode } from "./errors.js";
export { denseScore, lexicalScore, colbertScore, combineScores, type ModeScores } from "./math/scores.js";

// Model acquisition (Hugging Face Hub, Python-compatible cache)
export { resolvePretrained, hubCacheDir } from "./hub/index.js";
export type { DownloadProgress, HubVariant, PretrainedOptions, ResolvedPretrained } from "./hub/index.js";

// Tokenizer and encoder
export { M3Tokenizer, type SpecialIds } from "./tokenize/index.js";
export { M3Encoder, MAX_TOKENS, PROVIDER_NAMES, providerSupport, onnxruntimeVersion, quantizeModel } from "./encode/index.js";
export type {
  M3EncoderOptions, ModelVariant, EncoderInfo, LayoutKind, ExecutionProvider, ProviderName, ProviderSupport,
  QuantizeOptions, QuantizeResult, ScaleMode,
} from "./encode/index.js";

// Fine-tuning the sparse and ColBERT heads on a frozen encoder
export { finetuneHeads, FINETUNE_DEFAULTS } from "./finetune/index.js";
export type { FinetuneOptions, FinetuneResult, FinetuneProgress, FinetuneEpoch, EpochStats, TrainingPair, PerMode } from "./finetune/index.js";

// The backend contract (the embedded index and the Postgres backend implement it) and the filter language
export { parseFilter, matchesFilter } from "./backend/index.js";
export type {
  RetrievalBackend, BackendEntry, StoredDocument, UpsertResult, CallOptions, CandidateRequest, CandidatePool,
  CandidateStats, ScoredCandidates, FetchedDocuments, BackendInfo, BackendCapabilities, CandidateSource, Filter, FilterOperators,
  AnyFilter, SearchPlan,
} from "./backend/index.js";
export { checkId, checkIds, checkMetadata, checkDocEncoding, checkQuery, checkSignal, checkFingerprint } from "./backend/index.js";

// Index (dense HNSW + sparse inverted lists + ColBERT store) and persistence
export { HybridIndex, DENSE_DEFAULTS, saveIndex, loadIndex } from "./index/index.js";
export type {
  IndexEntry, DeleteResult, IndexStats, IndexedDocument, DenseIndexOptions, HybridIndexOptions,
  SaveOptions, LoadOptions, IndexManifest,
} from "./index/index.js";
export { createColbertStore, openColbertStore, DEFAULT_CODEC, bytesPerToken } from "./index/colbert/index.js";
export type { ColbertStore, ColbertStoreOptions, ColbertCodecName, ColbertKernel, CreateColbertStoreOptions } from "./index/colbert/index.js";

// Postgres + pgvector backend (a server alternative to the embedded index)
export { M3PostgresBackend, PG_DEFAULTS } from "./postgres/index.js";
export type { M3PostgresOptions, PgHnswOptions, PgVectorType } from "./postgres/index.js";

// Retrieval
export { search, searchWithStats, executePlan, planSearch, SEARCH_DEFAULTS, HybridStore } from "./retrieve/index.js";
export { M3HybridStore, openStore } from "./open.js";
export type { M3HybridStoreOptions, M3HybridStoreLoadOptions, OpenStoreOptions } from "./open.js";
export type {
  SearchHit, SearchStats, SearchOptions, SearchMode, FusionMethod, MetadataFilter, FilterValue,
  DocumentInput, AddOptions, ProgressEvent, StoreOptions,
} from "./retrieve/index.js";

// LangChain adapters
export { M3Embeddings } from "./langchain/embeddings.js";
export type { M3EmbeddingsParams, PairScores } from "./langchain/embeddings.js";
export type { EncodeCallOptions, EncodeProgress } from "./langchain/encode-calls.js";
export { M3SparseEmbeddings, M3MultiVectorEmbeddings } from "./langchain/sparse.js";
export type { SparseValues, SparseEmbeddingsInterface, MultiVectorEmbeddingsInterface, M3OutputEmbeddingsOptions } from "./langchain/sparse.js";
export { M3HybridRetriever, type M3HybridRetrieverInput } from "./langchain/retriever.js";
export { M3VectorStore } from "./langchain/vectorstore.js";
export type { M3VectorStoreArgs, M3AddOptions, M3DeleteParams, M3MmrSearchOptions, M3MmrDefaults, M3EncoderEmbeddings } from "./langchain/vectorstore-options.js";
export { M3VectorStoreRetriever } from "./langchain/vectorstore-retriever.js";
export { MMR_DEFAULTS, type MmrSimilarity } from "./langchain/mmr.js";
export { M3_SCORES_KEY, type M3Scores } from "./langchain/documents.js";

// Serving over HTTP (`m3 serve`) and its clients
export { createM3Server, M3Server, isLoopback } from "./serve/index.js";
export type { M3ServerOptions, M3ServerLimits, M3ServerBatching } from "./serve/index.js";
export { rerankEncodings, type RerankResult } from "./math/rerank.js";
export { M3RemoteEmbeddings } from "./langchain/remote.js";
export type { M3RemoteEmbeddingsParams, RemoteCallOptions } from "./langchain/remote.js";
export type { RemoteOptions } from "./langchain/remote-http.js";
export { M3Reranker, RELEVANCE_SCORE_KEY, type M3RerankerOptions } from "./langchain/reranker.js";
