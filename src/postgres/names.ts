/** The quoted table and index names of one collection, and what an opened collection is. */
import type { PgColbertCodec } from "./colbert.js";
import type { PgVectorType } from "./options.js";

export interface Names {
  docs: string;
  sparse: string;
  colbert: string;
  meta: string;
  hnsw: string;
  meanHnsw: string;
  /** Unquoted names, for to_regclass and messages. */
  plain: { docs: string; sparse: string; colbert: string; meta: string; hnsw: string; meanHnsw: string };
}

/** Quoted identifiers of the collection `table` (already checked against the name pattern). */
export function namesOf(table: string): Names {
  const plain = {
    docs: table, sparse: `${table}_sparse`, colbert: `${table}_colbert`, meta: `${table}_meta`, hnsw: `${table}_dense_hnsw`, meanHnsw: `${table}_mean_hnsw`,
  };
  const q = (s: string) => `"${s}"`;
  return { docs: q(plain.docs), sparse: q(plain.sparse), colbert: q(plain.colbert), meta: q(plain.meta), hnsw: q(plain.hnsw), meanHnsw: q(plain.meanHnsw), plain };
}

/** What an opened collection is: from its meta row (or the options, when it was just created). */
export interface CollectionMeta {
  denseDim: number;
  colbertDim: number;
  denseType: PgVectorType;
  colbertCodec: PgColbertCodec;
  sketchDim: number;
  sketchSeed: number;
  hnsw: { m: number; efConstruction: number };
  created: boolean;
}
