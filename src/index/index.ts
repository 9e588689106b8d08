/** The hybrid index: documents, dense HNSW, sparse inverted lists, ColBERT store, persistence. */
export { HybridIndex, type IndexEntry, type DeleteResult, type IndexStats } from "./hybrid-index.js";
export type { IndexedDocument } from "./docs.js";
export { DENSE_DEFAULTS, type DenseIndexOptions, type HybridIndexOptions } from "./options.js";
export { saveIndex, loadIndex, type SaveOptions, type LoadOptions } from "./persist.js";
export type { IndexFs } from "../util/fs.js";
export type { IndexManifest, ManifestFile } from "./manifest.js";
export type { SparseTopK } from "./sparse.js";
