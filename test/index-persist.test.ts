import * as fsp from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isM3Error } from "../src/errors.js";
import { defaultColbertFactory } from "../src/index/default-colbert.js";
import { nodeFs, type IndexFs } from "../src/util/fs.js";
import type { ColbertStoreFactory } from "../src/index/colbert/types.js";
import { HybridIndex } from "../src/index/hybrid-index.js";
import { loadIndex, saveIndex } from "../src/index/persist.js";
import { search } from "../src/retrieve/search.js";
import type { M3Encoding } from "../src/types.js";
import { generateSyntheticCorpus, type SyntheticCorpusData as SyntheticCorpus } from "../bench/lib/synthetic.js";

let root: string;
let corpus: SyntheticCorpus;
const factory = defaultColbertFactory;

beforeAll(async () => {
  root = await fsp.mkdtemp(join(tmpdir(), "m3-persist-"));
  corpus = generateSyntheticCorpus({ docs: 700, queries: 6, denseDim: 32, colbertDim: 16, colbertTokens: [3, 12], seed: 3, clusters: 14 });
});
afterAll(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

async function build(n = 500): Promise<HybridIndex> {
  const index = await HybridIndex.create(corpus.fingerprint, { colbertDim: 16, colbert: { codec: "float32" }, colbertFactory: factory });
  await index.upsert(corpus.docs.slice(0, n));
  return index;
}

/** Everything observable: documents, and results of exhaustive and candidate searches. */
async function snapshot(index: HybridIndex, queries: M3Encoding[] = corpus.queries) {
  const docs = index.ids().sort().map((id) => index.get(id));
  const results = [];
  for (const q of queries) {
    results.push((await search(index, q, { k: 10, candidates: 100000 })).map((h) => [h.id, h.score, h.scores]));
    results.push((await search(index, q, { k: 10, candidates: 40 })).map((h) => [h.id, h.score, h.scores]));
  }
  return { docs, results, size: index.size };
}

const codeOf = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    return isM3Error(e) ? e.code : `untyped: ${String(e)}`;
  }
  return "no error";
};

describe("save / load", () => {
  it("save -> load -> add -> delete -> save -> load round-trips exactly", async () => {
    const dir = join(root, "rt");
    const a = await build();
    await saveIndex(a, dir);
    const b = await loadIndex(dir, { fingerprint: corpus.fingerprint, colbertFactory: factory });
    expect(await snapshot(b)).toEqual(await snapshot(a));
    for (const idx of [a, b]) {
      await idx.upsert(corpus.docs.slice(500, 560));
      await idx.upsert([{ ...corpus.docs[600]!, id: "doc-3" }]); // replace
      await idx.delete(corpus.docs.slice(100, 180).map((d) => d.id));
    }
    expect(await snapshot(b)).toEqual(await snapshot(a));
    await saveIndex(b, dir);
    const c = await loadIndex(dir, { fingerprint: corpus.fingerprint, colbertFactory: factory });
    expect(await snapshot(c)).toEqual(await snapshot(a));
    expect(c.stats().documents).toBe(480);
    // only the committed generation's files remain
    const manifest = JSON.parse(await fsp.readFile(join(dir, "manifest.json"), "utf8"));
    const named = new Set<string>([...manifest.files.map((f: { name: string }) => f.name), manifest.colbert.dataFile, "manifest.json"]);
    expect((await fsp.readdir(dir)).sort()).toEqual([...named].sort());
    for (const x of [a, b, c]) await x.close();
  });

  it("reclaims ColBERT space: a save after heavy deletion compacts the data file and removes the old one", async () => {
    const dir = join(root, "compact");
    const a = await build(500);
    await saveIndex(a, dir);
    const m1 = JSON.parse(await fsp.readFile(join(dir, "manifest.json"), "utf8"));
    await a.delete(corpus.docs.slice(0, 450).map((d) => d.id));
    await saveIndex(a, dir);
    const m2 = JSON.parse(await fsp.readFile(join(dir, "manifest.json"), "utf8"));
    expect(m2.colbert.dataFile).not.toBe(m1.colbert.dataFile);
    expect(m2.colbert.committedBytes).toBeLessThan(m1.colbert.committedBytes / 4);
    const files = await fsp.readdir(dir);
    expect(files).not.toContain(m1.colbert.dataFile);
    const b = await loadIndex(dir, { colbertFactory: factory });
    expect(await snapshot(b)).toEqual(await snapshot(a));
    await a.close();
    await b.close();
  });

  it("after a compaction, deletes the files the store calls obsolete (plain names in the directory only) once the manifest is committed", async () => {
    const dir = join(root, "compact-obsolete");
    const outside = join(root, "outside-obsolete.bin");
    await fsp.writeFile(outside, "keep");
    let compactions = 0;
    const reporting: ColbertStoreFactory = {
      create: async (dim, o) => {
        const store = await factory.create(dim, o);
        const compact = store.compact.bind(store);
        store.compact = async (d, g) => {
          compactions++;
          const r = await compact(d, g);
          return { ...r, obsoleteFiles: [...r.obsoleteFiles, "store-scratch.bin", "../outside-obsolete.bin", "", ".."] };
        };
        return store;
      },
      open: (d, part, o) => factory.open(d, part, o),
    };
    const a = await HybridIndex.create(corpus.fingerprint, { colbertDim: 16, colbert: { codec: "float32" }, colbertFactory: reporting });
    await a.upsert(corpus.docs.slice(0, 500));
    await saveIndex(a, dir);
    await fsp.writeFile(join(dir, "store-scratch.bin"), "left by the store");
    await saveIndex(a, dir); // no compaction: a file the manifest does not know is not touched
    expect(await fsp.readdir(dir)).toContain("store-scratch.bin");
    await a.delete(corpus.docs.slice(0, 450).map((d) => d.id));
    await saveIndex(a, dir);
    expect(compactions).toBe(1);
    expect(await fsp.readdir(dir)).not.toContain("store-scratch.bin");
    expect(await fsp.readFile(outside, "utf8")).toBe("keep");
    const b = await loadIndex(dir, { colbertFactory: factory });
    expect(await snapshot(b)).toEqual(await snapshot(a));
    await a.close();
    await b.close();
  });

  it("saves a loaded index into another directory", async () => {
    const a = await build(200);
    await saveIndex(a, join(root, "x1"));
    const b = await loadIndex(join(root, "x1"), { colbertFactory: factory });
    await saveIndex(b, join(root, "x2"));
    const c = await loadIndex(join(root, "x2"), { colbertFactory: factory });
    expect(await snapshot(c)).toEqual(await snapshot(a));
    for (const x of [a, b, c]) await x.close();
  });
});

describe("a failure in the middle of save leaves the previous index loadable and intact", () => {
  const failAt = (pred: (op: string, path: string) => boolean): IndexFs => ({
    writeFile: (p, d) => (pred("write", p) ? Promise.reject(new Error("injected: disk full")) : nodeFs.writeFile(p, d)),
    syncFile: (p) => (pred("sync", p) ? Promise.reject(new Error("injected: fsync failed")) : nodeFs.syncFile(p)),
    rename: (a, b) => (pred("rename", b) ? Promise.reject(new Error("injected: rename failed")) : nodeFs.rename(a, b)),
    syncDir: (d) => nodeFs.syncDir(d),
    unlink: (p) => nodeFs.unlink(p),
  });
  const cases: [string, (op: string, path: string) => boolean][] = [
    ["writing the docs file", (op, p) => op === "write" && p.includes("docs-")],
    ["writing the sparse file", (op, p) => op === "write" && p.includes("sparse-")],
    ["syncing the HNSW graph", (op, p) => op === "sync" && p.endsWith(".hnsw")],
    ["after the ColBERT store appended", (op, p) => op === "sync" && p.includes("colbert-offsets")],
    ["writing manifest.json.tmp", (op, p) => op === "write" && p.endsWith("manifest.json.tmp")],
    ["renaming the manifest", (op) => op === "rename"],
  ];
  for (const [name, pred] of cases) {
    it(name, async () => {
      const dir = join(root, `fail-${name.replace(/\W+/g, "-")}`);
      const a = await build(300);
      await saveIndex(a, dir);
      const before = await snapshot(a);
      await a.upsert(corpus.docs.slice(300, 400));
      await a.delete(["doc-1", "doc-2", "doc-250"]);
      const err = await saveIndex(a, dir, { fs: failAt(pred) }).catch((e: unknown) => e);
      expect(isM3Error(err, "IO_ERROR")).toBe(true);
      const loaded = await loadIndex(dir, { fingerprint: corpus.fingerprint, colbertFactory: factory });
      expect(await snapshot(loaded)).toEqual(before);
      await loaded.close();
      // the in-memory index is untouched by the failure, and a retry commits
      const after = await snapshot(a);
      await saveIndex(a, dir);
      const again = await loadIndex(dir, { colbertFactory: factory });
      expect(await snapshot(again)).toEqual(after);
      await again.close();
      await a.close();
    });
  }
});

describe("corrupt or foreign directories give typed errors", () => {
  let dir: string;
  beforeAll(async () => {
    dir = join(root, "good");
    const a = await build(150);
    await saveIndex(a, dir);
    await a.close();
  });
  async function damaged(name: string, damage: (dir: string, manifest: any) => Promise<void>): Promise<string> {
    const d = join(root, `bad-${name}`);
    await fsp.cp(dir, d, { recursive: true });
    const manifest = JSON.parse(await fsp.readFile(join(d, "manifest.json"), "utf8"));
    await damage(d, manifest);
    return d;
  }
  const file = (m: any, role: string) => m.files.find((f: any) => f.role === role).name as string;
  const flip = async (path: string, at = 40) => {
    const b = await fsp.readFile(path);
    b[at] = b[at]! ^ 0xff;
    await fsp.writeFile(path, b);
  };
  const truncate = async (path: string, by = 7) => {
    const st = await fsp.stat(path);
    await fsp.truncate(path, st.size - by);
  };
  const cases: [string, (d: string, m: any) => Promise<void>, string][] = [
    ["flipped byte in docs", (d, m) => flip(join(d, file(m, "docs"))), "INDEX_CORRUPT"],
    ["flipped byte in dense vectors", (d, m) => flip(join(d, file(m, "dense-vectors")), 100), "INDEX_CORRUPT"],
    ["flipped byte in the HNSW graph", (d, m) => flip(join(d, file(m, "dense-graph")), 200), "INDEX_CORRUPT"],
    ["truncated sparse", (d, m) => truncate(join(d, file(m, "sparse"))), "INDEX_CORRUPT"],
    ["truncated ColBERT offsets", (d, m) => truncate(join(d, file(m, "colbert-offsets"))), "INDEX_CORRUPT"],
    ["truncated ColBERT data", (d, m) => truncate(join(d, m.colbert.dataFile), 100), "INDEX_CORRUPT"],
    ["missing docs file", (d, m) => fsp.rm(join(d, file(m, "docs"))), "INDEX_CORRUPT"],
    ["manifest not JSON", (d) => fsp.writeFile(join(d, "manifest.json"), "{ nope"), "INDEX_CORRUPT"],
    ["no manifest", (d) => fsp.rm(join(d, "manifest.json")), "INDEX_CORRUPT"],
    ["future format version", (d, m) => fsp.writeFile(join(d, "manifest.json"), JSON.stringify({ ...m, formatVersion: 99 })), "INDEX_CORRUPT"],
  ];
  for (const [name, damage, code] of cases) {
    it(name, async () => {
      expect(await codeOf(loadIndex(await damaged(name.replace(/\W+/g, "-"), damage), { colbertFactory: factory }))).toBe(code);
    });
  }
  it("a different model fingerprint gives INDEX_MODEL_MISMATCH", async () => {
    for (const fp of [{ ...corpus.fingerprint, hiddenSize: 1024 }, { ...corpus.fingerprint, tokenizerSha256: "other" }, { ...corpus.fingerprint, layout: "encoder-only" }]) {
      expect(await codeOf(loadIndex(dir, { fingerprint: fp, colbertFactory: factory }))).toBe("INDEX_MODEL_MISMATCH");
    }
    const ok = await loadIndex(dir, { fingerprint: corpus.fingerprint, colbertFactory: factory });
    expect(ok.size).toBe(150);
    await ok.close();
  });
});
