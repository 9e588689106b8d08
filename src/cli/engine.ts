/**
 * The CLI's only contact with the library: the encoder (M3Encoder), the hybrid index and its
 * store (M3HybridStore, loadIndex) and retrieval. Commands talk to these small interfaces.
 */
import { M3Encoder } from "../encode/encoder.js";
import type { ModelVariant } from "../encode/options.js";
import type { ExecutionProvider } from "../encode/providers.js";
import { defaultColbertFactory } from "../index/default-colbert.js";
import { HybridIndex, type IndexStats } from "../index/hybrid-index.js";
import { loadIndex } from "../index/persist.js";
import type { SearchMode } from "../retrieve/options.js";
import { M3HybridStore } from "../open.js";
import { search } from "../retrieve/search.js";
import { resolvePretrained } from "../hub/index.js";
import type { ModeScores } from "../math/scores.js";
import type { M3Encoding, ModeWeights } from "../types.js";
import type { SourceDoc } from "./chunk.js";
import { writeState, type CliState } from "./state.js";
import { existsSync } from "node:fs";
import path from "node:path";

/** A loaded model. */
export interface CliModel {
  readonly modelPath: string;
  readonly encoder: M3Encoder;
  /** Longest input the model accepts, including `<s>` and `</s>`. */
  readonly maxLength: number;
  /** Content tokens of `text` (without `<s>` and `</s>`; saturates at 8190). */
  countTokens(text: string): Promise<number>;
  countTokensBatch(texts: string[]): Promise<number[]>;
  encode(texts: string[]): Promise<M3Encoding[]>;
  dispose(): Promise<void>;
}

/**
 * `model`: a folder, or a Hugging Face repo id ("BAAI/bge-m3") already in the local hub cache
 * (never downloads; `m3 download` does).
 */
export async function openModel(model: string, opts: { variant?: ModelVariant; executionProviders?: ExecutionProvider[] }): Promise<CliModel> {
  let modelPath = path.resolve(model);
  if (!existsSync(modelPath) && /^[\w.-]+\/[\w.-]+$/.test(model)) {
    modelPath = (await resolvePretrained(model, { localFilesOnly: true, variant: opts.variant ?? "fp32" })).dir;
  }
  const encoder = await M3Encoder.load({
    modelPath,
    variant: opts.variant ?? "fp32",
    ...(opts.executionProviders ? { executionProviders: opts.executionProviders } : {}),
  });
  return {
    modelPath,
    encoder,
    maxLength: encoder.info?.maxLength ?? 8192,
    async countTokens(text) {
      const [ids] = await encoder.tokenize([text], { maxLength: 8192 });
      return Math.max(0, (ids?.length ?? 2) - 2);
    },
    async countTokensBatch(texts) {
      const out: number[] = [];
      for (let i = 0; i < texts.length; i += 1024) {
        const ids = await encoder.tokenize(texts.slice(i, i + 1024), { maxLength: 8192 });
        for (const r of ids) out.push(Math.max(0, r.length - 2));
      }
      return out;
    },
    encode: (texts) => encoder.encode(texts),
    dispose: () => encoder.dispose(),
  };
}

/**
 * An index opened for `m3 index`: documents, delete, add (returns tokens encoded), and commit (makes the work
 * durable with the CLI's settings: the index folder is saved; a Postgres collection stores the settings, its rows
 * being committed by every add and delete).
 */
export interface WritableIndex {
  readonly size: number;
  documents(): Iterable<{ id: string; metadata: Record<string, unknown> }>;
  delete(ids: string[]): Promise<void>;
  add(docs: SourceDoc[]): Promise<number>;
  /** Called after the last chunk of a file was added (Postgres writes a file's chunks in one transaction). */
  endFile(): Promise<void>;
  commit(state: CliState): Promise<void>;
  close(): Promise<void>;
}

/** Loads the index in `dir` (checking it was built with `model`), or creates an empty one when `dir` holds none. */
export async function openIndexForWrite(dir: string, model: CliModel): Promise<WritableIndex> {
  const fingerprint = await model.encoder.fingerprint();
  const index = existsSync(path.join(dir, "manifest.json"))
    ? await loadIndex(dir, { fingerprint, colbertFactory: defaultColbertFactory })
    : await HybridIndex.create(fingerprint, { colbertFactory: defaultColbertFactory });
  const store = await M3HybridStore.fromIndex(model.encoder, index);
  return {
    get size() {
      return index.size;
    },
    *documents() {
      for (const id of index.ids()) {
        const d = index.get(id);
        if (d) yield { id, metadata: d.metadata };
      }
    },
    async delete(ids) {
      await store.delete(ids);
    },
    async add(docs) {
      const encs = await model.encode(docs.map((d) => d.text));
      await store.addEncoded(docs.map((d, i) => ({ id: d.id, pageContent: d.text, metadata: d.metadata, encoding: encs[i]! })));
      return encs.reduce((s, e) => s + e.tokenCount, 0);
    },
    endFile: async () => undefined,
    async commit(state) {
      await store.save(dir);
      await writeState(dir, state);
    },
    close: () => store.close(),
  };
}

/** An index opened for reading; `model` undefined skips the model check (m3 info). */
export interface ReadableIndex {
  readonly size: number;
  documents(): Iterable<{ id: string; metadata: Record<string, unknown> }>;
  stats(): IndexStats;
  search(query: M3Encoding, o: CliSearch): Promise<CliHit[]>;
  close(): Promise<void>;
}

export interface CliSearch {
  k: number;
  candidates: number;
  weights: ModeWeights;
  modes: SearchMode[];
  fusion: "weighted" | "rrf";
}

export interface CliHit {
  id: string;
  score: number;
  scores: ModeScores;
  text: string;
  metadata: Record<string, unknown>;
}

export async function openIndexForRead(dir: string, model: CliModel | undefined): Promise<ReadableIndex> {
  const index = await loadIndex(dir, {
    colbertFactory: defaultColbertFactory,
    ...(model ? { fingerprint: await model.encoder.fingerprint() } : {}),
  });
  return {
    get size() {
      return index.size;
    },
    *documents() {
      for (const id of index.ids()) {
        const d = index.get(id);
        if (d) yield { id, metadata: d.metadata };
      }
    },
    stats: () => index.stats(),
    async search(query, o) {
      const hits = await search(index, query, { k: o.k, candidates: o.candidates, weights: o.weights, modes: o.modes, fusion: o.fusion });
      return hits.map((h) => ({ id: h.id, score: h.score, scores: h.scores, text: h.document.pageContent, metadata: h.document.metadata }));
    },
    close: () => index.close(),
  };
}
