/**
 * Reads the fixture model roots (test/fixtures/models plus any in M3_EXTRA_FIXTURES, separated
 * by the path delimiter) and their golden outputs, and compares encodings with them.
 */
import { existsSync, readFileSync } from "node:fs";
import { delimiter, dirname, join, resolve } from "node:path";
import type { M3Encoding } from "../../src/types.js";

export interface GoldenCase {
  name: string;
  text: string;
  maxLength: number;
  ids: number[];
  dense: Float32Array;
  sparse: Map<number, number>;
  colbert: { data: Float32Array; rows: number; dim: number };
}

export interface Golden {
  hidden: number;
  vocab: number;
  fullMaxLength: number;
  tolerance: number;
  cases: GoldenCase[];
  pairs: Array<{ query: string; passage: string; dense: number; lexical: number; colbert: number; weights: number[]; combined: number }>;
}

export interface FixtureVariant {
  root: string;
  label: string;
  dir: string;
  layout: string;
  variant: "fp32" | "int8" | "fp16";
  exact: boolean;
  maxAbsDevOutputs: number;
  golden: Golden;
}

interface IndexJson {
  models: Array<{
    folder: string;
    layout: string;
    golden: string;
    variants: Array<{ name: "fp32" | "int8" | "fp16"; exact: boolean; maxAbsDevOutputs?: number }>;
  }>;
}

const goldenCache = new Map<string, Golden>();

export function readGolden(path: string): Golden {
  const hit = goldenCache.get(path);
  if (hit) return hit;
  const j = JSON.parse(readFileSync(path, "utf8"));
  const bin = readFileSync(join(dirname(path), j.bin));
  const f32 = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length));
  const cases: GoldenCase[] = j.cases.map((c: any) => ({
    name: c.name,
    text: c.text,
    maxLength: c.maxLength,
    ids: c.ids,
    dense: f32.slice(c.dense.offset, c.dense.offset + c.dense.length),
    sparse: new Map(Object.entries(c.sparse as Record<string, number>).map(([k, v]) => [Number(k), v])),
    colbert: { data: f32.slice(c.colbert.offset, c.colbert.offset + c.colbert.rows * c.colbert.dim), rows: c.colbert.rows, dim: c.colbert.dim },
  }));
  const g = { hidden: j.model.hidden_size, vocab: j.model.vocab_size, fullMaxLength: j.fullMaxLength, tolerance: j.tolerance, cases, pairs: j.pairs };
  goldenCache.set(path, g);
  return g;
}

/** Model roots: the committed fixtures and each folder of M3_EXTRA_FIXTURES (holding index.json or models/index.json). */
export function fixtureRoots(): string[] {
  const roots = [resolve(import.meta.dirname, "../fixtures/models")];
  for (const extra of (process.env.M3_EXTRA_FIXTURES ?? "").split(delimiter).filter(Boolean)) {
    const r = resolve(extra);
    roots.push(existsSync(join(r, "index.json")) ? r : join(r, "models"));
  }
  return roots;
}

export function fixtureVariants(): FixtureVariant[] {
  const out: FixtureVariant[] = [];
  fixtureRoots().forEach((root, i) => {
    const index = JSON.parse(readFileSync(join(root, "index.json"), "utf8")) as IndexJson;
    for (const m of index.models) {
      for (const v of m.variants) {
        out.push({
          root,
          label: `${i === 0 ? "fixtures" : `extra${i}`}/${m.folder}/${v.name}`,
          dir: join(root, m.folder),
          layout: m.layout,
          variant: v.name,
          exact: v.exact,
          maxAbsDevOutputs: v.maxAbsDevOutputs ?? 0,
          golden: readGolden(join(root, m.golden)),
        });
      }
    }
  });
  return out;
}

const cosine = (a: Float32Array, b: Float32Array): number => {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) { ab += a[i]! * b[i]!; aa += a[i]! ** 2; bb += b[i]! ** 2; }
  return ab / Math.sqrt(aa * bb || 1);
};
const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

/**
 * Differences between one encoding and its golden case, as messages (empty = equal).
 * Exact variants: every float within `tol`, same sparse key set, same colbert row count.
 * Approximate variants (`tol` undefined): dense and every colbert row cosine >= minCos,
 * lexical weights within `sparseTol` (a key present on one side only must weigh <= sparseTol).
 */
export function compare(
  got: M3Encoding,
  want: GoldenCase,
  opts: { tol?: number; minCos?: number; sparseTol?: number },
): string[] {
  const errs: string[] = [];
  const tag = want.name;
  if (got.tokenCount !== want.ids.length) errs.push(`${tag}: tokenCount ${got.tokenCount} != ${want.ids.length}`);
  const d = got.dense;
  if (!d || d.length !== want.dense.length) errs.push(`${tag}: dense length ${d?.length} != ${want.dense.length}`);
  else if (opts.tol !== undefined && maxAbs(d, want.dense) > opts.tol) errs.push(`${tag}: dense max diff ${maxAbs(d, want.dense)}`);
  else if (opts.tol === undefined && cosine(d, want.dense) < opts.minCos!) errs.push(`${tag}: dense cosine ${cosine(d, want.dense)}`);
  const s = got.sparse;
  if (!s) errs.push(`${tag}: no sparse`);
  else {
    const mine = new Map(Array.from(s.indices, (k, i) => [k, s.values[i]!] as [number, number]));
    for (let i = 1; i < s.indices.length; i++) if (s.indices[i]! <= s.indices[i - 1]!) errs.push(`${tag}: sparse indices not ascending`);
    const keyTol = opts.tol ?? opts.sparseTol!;
    for (const k of new Set([...mine.keys(), ...want.sparse.keys()])) {
      const a = mine.get(k);
      const b = want.sparse.get(k);
      if (opts.tol !== undefined && (a === undefined || b === undefined)) errs.push(`${tag}: sparse key ${k} only in ${a === undefined ? "golden" : "ours"}`);
      else if (Math.abs((a ?? 0) - (b ?? 0)) > keyTol) errs.push(`${tag}: sparse[${k}] ${a} vs ${b}`);
    }
  }
  const c = got.colbert;
  if (!c || c.tokens !== want.colbert.rows || c.dim !== want.colbert.dim) errs.push(`${tag}: colbert shape ${c?.tokens}x${c?.dim} != ${want.colbert.rows}x${want.colbert.dim}`);
  else if (opts.tol !== undefined && maxAbs(c.data, want.colbert.data) > opts.tol) errs.push(`${tag}: colbert max diff ${maxAbs(c.data, want.colbert.data)}`);
  else if (opts.tol === undefined) {
    for (let r = 0; r < c.tokens; r++) {
      const cs = cosine(c.data.subarray(r * c.dim, (r + 1) * c.dim), want.colbert.data.subarray(r * c.dim, (r + 1) * c.dim));
      if (cs < opts.minCos!) errs.push(`${tag}: colbert row ${r} cosine ${cs}`);
    }
  }
  return errs;
}
