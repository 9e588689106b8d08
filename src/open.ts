/**
 * The composition module: the one place above the backend seam that knows the backends by
 * name. `M3HybridStore` is the backend-independent `HybridStore` (retrieve/) plus the ways to
 * open one — an embedded index in memory (`create`) or from a directory (`load`), a Postgres
 * collection, or any `RetrievalBackend` — and `openStore` takes the same choice as options.
 * Everything else (retrieve/, langchain/) talks to `RetrievalBackend` only; scripts/check-imports.mjs
 * (run by test/imports.test.ts) keeps it so.
 */
import type { RetrievalBackend } from "./backend/types.js";
import type { ColbertStoreFactory, ColbertStoreOptions } from "./index/colbert/types.js";
import { defaultColbertFactory } from "./index/default-colbert.js";
import { HybridIndex } from "./index/hybrid-index.js";
import type { HybridIndexOptions } from "./index/options.js";
import { loadIndex } from "./index/persist.js";
import { M3PostgresBackend } from "./postgres/backend.js";
import type { M3PostgresOptions } from "./postgres/options.js";
import { checkBackend, checkEncoder, HybridStore, type StoreOptions } from "./retrieve/hybrid-store.js";
import type { M3EncoderLike } from "./types.js";

export type { M3PostgresOptions };

export interface M3HybridStoreOptions extends HybridIndexOptions, StoreOptions {}

export interface M3HybridStoreLoadOptions extends StoreOptions {
  /** @default the package's ColBERT store */
  colbertFactory?: ColbertStoreFactory;
  /** ColBERT options at open time (cacheBytes, kernel, kernelThreads; the codec and pooling come from the saved index). */
  colbert?: ColbertStoreOptions;
  /** Overrides the saved HNSW efSearch. @default the saved value */
  efSearch?: number;
}

/** Where `openStore` finds the documents: exactly one of `backend`, `postgres`, `directory`; none: a new in-memory index. */
export type OpenStoreOptions =
  | (StoreOptions & { backend: RetrievalBackend })
  | (StoreOptions & { postgres: Omit<M3PostgresOptions, "fingerprint"> })
  | (M3HybridStoreLoadOptions & { directory: string })
  | M3HybridStoreOptions;

export class M3HybridStore extends HybridStore {
  /** An empty embedded store (HNSW + inverted lists + ColBERT file) for `encoder`'s model. */
  static async create(encoder: M3EncoderLike, options: M3HybridStoreOptions = {}): Promise<M3HybridStore> {
    checkEncoder(encoder);
    const fp = await encoder.fingerprint();
    const index = await HybridIndex.create(fp, { ...options, colbertFactory: options.colbertFactory ?? defaultColbertFactory });
    return new M3HybridStore(encoder, index, options);
  }

  /** A store over any backend; the encoder must be the backend's model (else INDEX_MODEL_MISMATCH). */
  static override async fromBackend(encoder: M3EncoderLike, backend: RetrievalBackend, options: StoreOptions = {}): Promise<M3HybridStore> {
    await checkBackend(encoder, backend);
    return new M3HybridStore(encoder, backend, options);
  }

  /** Wraps an existing embedded index (same as `fromBackend`). */
  static fromIndex(encoder: M3EncoderLike, index: HybridIndex, options: StoreOptions = {}): Promise<M3HybridStore> {
    return M3HybridStore.fromBackend(encoder, index, options);
  }

  /** Loads an embedded store saved with `save`; NOT_FOUND / INDEX_CORRUPT / INDEX_MODEL_MISMATCH on a missing or bad directory or another model. */
  static async load(dir: string, encoder: M3EncoderLike, options: M3HybridStoreLoadOptions = {}): Promise<M3HybridStore> {
    checkEncoder(encoder);
    const index = await loadIndex(dir, {
      fingerprint: await encoder.fingerprint(),
      colbertFactory: options.colbertFactory ?? defaultColbertFactory,
      colbert: options.colbert,
      efSearch: options.efSearch,
    });
    return new M3HybridStore(encoder, index, options);
  }
}

/**
 * Opens the store `options` describe: the given backend, a Postgres collection (connected here;
 * closed again if the store cannot be made), a saved directory, or an empty embedded index.
 */
export async function openStore(encoder: M3EncoderLike, options: OpenStoreOptions = {}): Promise<M3HybridStore> {
  if ("backend" in options && options.backend !== undefined) {
    const { backend, ...rest } = options;
    return M3HybridStore.fromBackend(encoder, backend, rest);
  }
  if ("postgres" in options && options.postgres !== undefined) {
    const { postgres, ...rest } = options;
    checkEncoder(encoder);
    const pg = await M3PostgresBackend.connect({ ...postgres, fingerprint: await encoder.fingerprint() });
    try {
      return await M3HybridStore.fromBackend(encoder, pg, rest);
    } catch (err) {
      await pg.close().catch(() => undefined);
      throw err;
    }
  }
  if ("directory" in options && options.directory !== undefined) {
    const { directory, ...rest } = options;
    return M3HybridStore.load(directory, encoder, rest);
  }
  return M3HybridStore.create(encoder, options as M3HybridStoreOptions);
}
