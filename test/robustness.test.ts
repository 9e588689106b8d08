/**
 * Careless-caller cases of issue 11: metadata JSON cannot hold, the save error's step, a save
 * that must settle where mkdir cannot create anything (/proc), loading a directory that does
 * not exist, holes in a text array, and search weights of the wrong type.
 */
import * as fsp from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSyntheticCorpus, type SyntheticCorpusData } from "../bench/lib/synthetic.js";
import { isM3Error } from "../src/errors.js";
import { HybridIndex } from "../src/index/hybrid-index.js";
import { loadIndex, saveIndex } from "../src/index/persist.js";
import { checkMetadata, MAX_METADATA_DEPTH } from "../src/backend/validate.js";
import { M3Embeddings } from "../src/langchain/embeddings.js";
import { M3HybridStore } from "../src/open.js";
import { resolveSearch } from "../src/retrieve/options.js";
import { makeDirs } from "../src/util/fs.js";
import { FakeM3Encoder } from "./helpers/fake-encoder.js";

let root: string;
let corpus: SyntheticCorpusData;
beforeAll(async () => {
  root = await fsp.mkdtemp(join(tmpdir(), "m3-robust-"));
  corpus = generateSyntheticCorpus({ docs: 12, queries: 1, denseDim: 8, colbertDim: 4, colbertTokens: [2, 4], seed: 11, clusters: 3 });
});
afterAll(() => fsp.rm(root, { recursive: true, force: true }));

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<{ code: string; message: string }> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    if (isM3Error(e)) return { code: e.code, message: e.message };
    return { code: `untyped: ${String(e)}`, message: String(e) };
  }
  return { code: "no error", message: "" };
}

const small = async (): Promise<HybridIndex> => {
  const index = await HybridIndex.create(corpus.fingerprint, { colbertDim: 4 });
  await index.upsert(corpus.docs.slice(0, 5));
  return index;
};

const deep = (levels: number): Record<string, unknown> => {
  let v: Record<string, unknown> = { leaf: 1 };
  for (let i = 1; i < levels; i++) v = { a: v };
  return v;
};

describe("metadata JSON cannot hold is refused at add, naming the key path", () => {
  const cyclic: Record<string, unknown> = { a: { b: [1] } };
  ((cyclic["a"] as Record<string, unknown>)["b"] as unknown[]).push(cyclic);
  class Point {
    constructor(readonly x: number) {}
  }
  const sparse = [1, , 3]; // a hole
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ["a cycle", cyclic, /\.metadata\.a\.b\[1\] .*a cycle/],
    ["a BigInt", { n: { big: 10n } }, /\.metadata\.n\.big is the BigInt 10n/],
    ["nesting 10,000 levels deep", deep(10_000), new RegExp(`nested more than ${MAX_METADATA_DEPTH} levels`)],
    [`nesting ${MAX_METADATA_DEPTH + 1} levels deep`, deep(MAX_METADATA_DEPTH + 1), /nested more than/],
    ["NaN", { score: NaN }, /\.metadata\.score is NaN, which JSON cannot hold \(it would be saved as null\)/],
    ["Infinity", { score: [Infinity] }, /\.metadata\.score\[0\] is Infinity/],
    ["a function", { f: () => 1 }, /\.metadata\.f is a function/],
    ["a symbol value", { s: Symbol("x") }, /\.metadata\.s is a symbol/],
    ["a Map", { m: new Map([["a", 1]]) }, /\.metadata\.m is a Map, which JSON would not keep/],
    ["a Set", { s: new Set([1]) }, /\.metadata\.s is a Set/],
    ["a class instance", { p: new Point(1) }, /\.metadata\.p is a Point/],
    ["a typed array", { v: new Float32Array(2) }, /\.metadata\.v is a Float32Array/],
    ["undefined in an array", { tags: ["a", undefined] }, /\.metadata\.tags\[1\] is undefined/],
    ["a hole in an array", { tags: sparse }, /\.metadata\.tags\[1\] is undefined/],
    ["an invalid Date", { when: new Date(NaN) }, /\.metadata\.when is a Date, which is an invalid Date/],
    ["a symbol key", { [Symbol("k")]: 1 }, /has symbol keys/],
    ["an odd key's path", { "a b": { c: 1n } }, /\.metadata\["a b"\]\.c is the BigInt/],
  ];
  for (const [what, metadata, re] of cases) {
    it(`${what} -> INVALID_ARGUMENT at add; the index still saves`, async () => {
      const store = await M3HybridStore.create(new FakeM3Encoder({ dim: 8 }), { colbert: { codec: "float32" } });
      try {
        await store.addDocuments([{ pageContent: "kept", id: "kept" }]);
        const f = await codeOf(store.addDocuments([{ pageContent: "x", id: "bad", metadata }]));
        expect(f.code).toBe("INVALID_ARGUMENT");
        expect(f.message).toMatch(re);
        expect(await store.get("bad")).toBeUndefined();
        const dir = join(root, `meta-${what.replace(/\W+/g, "-")}`);
        await store.save(dir); // used to fail "while preparing the directory" until the document was deleted
        expect((await store.get("kept"))?.pageContent).toBe("kept");
      } finally {
        await store.close();
      }
    });
  }

  it("the one conversion rule: Date -> ISO string, undefined properties dropped; the same before and after save/load", async () => {
    const when = new Date("2024-05-06T07:08:09.010Z");
    const input = { when, gone: undefined, nested: { list: [1, "two", null, true, { d: when }] }, ["__proto__"]: { evil: 1 } };
    const store = await M3HybridStore.create(new FakeM3Encoder({ dim: 8 }), { colbert: { codec: "float32" } });
    try {
      await store.addDocuments([{ pageContent: "doc", id: "d", metadata: input }]);
      const before = (await store.get("d"))!.metadata;
      expect(before).toEqual(JSON.parse(JSON.stringify(input)));
      expect(before["when"]).toBe("2024-05-06T07:08:09.010Z");
      expect("gone" in before).toBe(false);
      expect(Object.getPrototypeOf(before)).toBe(Object.prototype);
      expect(Object.keys(before)).toContain("__proto__");
      (input.nested.list as unknown[]).push("mutated after add");
      expect((await store.get("d"))!.metadata).toEqual(before); // a copy: later changes by the caller do not leak in
      const dir = join(root, "meta-roundtrip");
      await store.save(dir);
      const loaded = await M3HybridStore.load(dir, new FakeM3Encoder({ dim: 8 }));
      try {
        expect((await loaded.get("d"))!.metadata).toEqual(before);
      } finally {
        await loaded.close();
      }
    } finally {
      await store.close();
    }
  });

  it("a plain object without prototype and shared (non-cyclic) references are fine", () => {
    const shared = { x: 1 };
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: shared, b: shared });
    expect(checkMetadata(bare, "m")).toEqual({ a: { x: 1 }, b: { x: 1 } });
    expect(checkMetadata(deep(MAX_METADATA_DEPTH), "m")).toEqual(deep(MAX_METADATA_DEPTH));
  });
});

describe("save and load report the right step and code", () => {
  it("a failure while encoding the document table names that step, not 'preparing the directory'", async () => {
    const index = await small();
    // Simulate a record the table cannot encode (checkMetadata keeps such values out of the public path).
    const slot = index.docs.slotOf(corpus.docs[0]!.id)!;
    (index.docs.at(slot)!.metadata as Record<string, unknown>)["n"] = 1n;
    const f = await codeOf(saveIndex(index, join(root, "label")));
    expect(f.code).toBe("IO_ERROR");
    expect(f.message).toMatch(/failed while encoding docs-g1\.bin: .*BigInt/);
    await index.close();
  });

  it("save into a path under /proc settles with IO_ERROR (Node's recursive mkdir loops forever there)", async () => {
    const index = await small();
    for (const dir of ["/proc/m3-index", "/proc/self/m3/index"]) {
      const f = await codeOf(saveIndex(index, dir));
      expect(f.code, dir).toBe("IO_ERROR");
      expect(f.message).toMatch(/while creating the directory/);
    }
    await index.close();
  });

  it('save("") or load("") -> INVALID_ARGUMENT (it would mean the current directory); so do non-strings and NUL', async () => {
    const index = await small();
    for (const dir of ["", "a\0b", 42, null]) {
      expect((await codeOf(saveIndex(index, dir as string))).code, String(dir)).toBe("INVALID_ARGUMENT");
      expect((await codeOf(loadIndex(dir as string))).code, String(dir)).toBe("INVALID_ARGUMENT");
    }
    await index.close();
  });

  it("makeDirs creates missing levels, accepts existing ones, and refuses a file in the way", async () => {
    const dir = join(root, "mk", "a", "b");
    await makeDirs(dir);
    await makeDirs(dir);
    expect((await fsp.stat(dir)).isDirectory()).toBe(true);
    await fsp.writeFile(join(root, "mk", "file"), "x");
    await expect(makeDirs(join(root, "mk", "file", "c"))).rejects.toMatchObject({ code: "ENOTDIR" });
  });

  it("loading a directory that does not exist -> NOT_FOUND; a file -> NOT_FOUND; an empty directory -> INDEX_CORRUPT", async () => {
    const missing = await codeOf(loadIndex(join(root, "no-such-index")));
    expect(missing.code).toBe("NOT_FOUND");
    expect(missing.message).toMatch(/No index directory at .*no-such-index \(it does not exist\)/);
    await fsp.writeFile(join(root, "a-file"), "x");
    expect((await codeOf(loadIndex(join(root, "a-file")))).code).toBe("NOT_FOUND");
    await fsp.mkdir(join(root, "empty"));
    expect((await codeOf(loadIndex(join(root, "empty")))).code).toBe("INDEX_CORRUPT");
    expect((await codeOf(M3HybridStore.load(join(root, "no-such-index"), new FakeM3Encoder({ dim: 8 })))).code).toBe("NOT_FOUND");
  });
});

describe("untyped or silent argument cases", () => {
  it('embedDocuments(["a", , "b"]) -> INVALID_ARGUMENT naming the hole (no untyped tokenizer error)', async () => {
    const emb = new M3Embeddings({ modelPath: "/nonexistent/model" });
    // eslint-disable-next-line no-sparse-arrays
    const f = await codeOf(emb.embedDocuments(["a", , "b"] as string[]));
    expect(f.code).toBe("INVALID_ARGUMENT");
    expect(f.message).toMatch(/texts\[1\] must be a string; got a hole/);
    const g = await codeOf(emb.embedDocuments(["a", undefined as unknown as string]));
    expect(g.message).toMatch(/texts\[1\] must be a string; got undefined/);
  });

  it("computeScore with a hole among the pairs -> INVALID_ARGUMENT (it used to return a sparse result)", async () => {
    const emb = new M3Embeddings({ modelPath: "/nonexistent/model" });
    // eslint-disable-next-line no-sparse-arrays
    const f = await codeOf(emb.computeScore([["q", "p"], , ["q", "r"]] as Array<[string, string]>));
    expect(f.code).toBe("INVALID_ARGUMENT");
    expect(f.message).toMatch(/pairs\[1\] must be a \[query, passage\] pair of strings; got a hole/);
  });

  const badWeights: Array<[string, unknown]> = [
    ["null", null],
    ["an array", [0.4, 0.2, 0.4]],
    ["a string", "dense"],
    ["a number", 1],
    ["a Map", new Map([["dense", 1]])],
    ["a typo'd key", { dense: 1, sparce: 1 }],
  ];
  for (const [what, weights] of badWeights) {
    it(`weights: ${what} -> INVALID_ARGUMENT (it used to fall back to the defaults)`, async () => {
      const f = await codeOf(() => resolveSearch({ weights: weights as never }));
      expect(f.code).toBe("INVALID_ARGUMENT");
      expect(f.message).toMatch(/weights/);
    });
  }

  it("weights: a partial object takes the defaults for the rest", () => {
    expect(resolveSearch({ weights: { dense: 1 } }).weights).toEqual({ dense: 1, sparse: 0.2, colbert: 0.4 });
    expect(resolveSearch({ weights: { dense: 1, sparse: undefined } }).weights.sparse).toBe(0.2);
  });
});
