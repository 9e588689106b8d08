import * as fs from "node:fs/promises";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { randomMatrix, SynthCorpus } from "../bench/lib/colbert-synth.js";
import { createColbertStore, openColbertStore } from "../src/index/colbert/index.js";
import type { ColbertStore } from "../src/index/colbert/index.js";
import { colbertScore } from "../src/math/scores.js";
import type { MultiVector } from "../src/types.js";
import { colbertTestEnv, expectCode } from "./helpers/colbert-env.js";

const DIM = 64;
const env = colbertTestEnv("colbert-");
const { track } = env;

function corpus(n: number, seed = 1): { docs: MultiVector[]; q: MultiVector } {
  const c = new SynthCorpus({ dim: DIM, vocab: 256, topics: 6, minTokens: 5, maxTokens: 40, seed });
  const docs = Array.from({ length: n }, () => c.doc());
  return { docs: docs.map((d) => d.matrix), q: c.query(docs[0]!, 9) };
}

async function fill(store: ColbertStore, docs: MultiVector[]): Promise<void> {
  for (let i = 0; i < docs.length; i++) await store.put(i, docs[i]!);
}
const allSlots = (n: number) => Uint32Array.from({ length: n }, (_, i) => i);

describe("ColBERT store", () => {
  it("float32 scores equal colbertScore (in memory and disk-backed); missing slots are NaN", async () => {
    const { docs, q } = corpus(30);
    const s = track(createColbertStore({ dim: DIM, codec: "float32" }));
    await fill(s, docs);
    const slots = Uint32Array.from([...allSlots(30), 999]);
    const mem = await s.score(q, slots);
    docs.forEach((d, i) => expect(Math.abs(mem[i]! - colbertScore(q, d))).toBeLessThan(1e-5));
    expect(Number.isNaN(mem[30]!)).toBe(true);
    await s.persist(env.dir, 1);
    expect(Array.from(await s.score(q, slots))).toEqual(Array.from(mem));
    expect(await s.get(999)).toBeUndefined();
    expect(Array.from((await s.get(3))!.data)).toEqual(Array.from(docs[3]!.data));
  });

  it("int8/float16 within tight tolerance, binary correlated, pooled scores close", async () => {
    const { docs, q } = corpus(40, 2);
    const exact = docs.map((d) => colbertScore(q, d));
    const run = async (codec: "float16" | "int8" | "binary", poolFactor = 1) => {
      const s = track(createColbertStore({ dim: DIM, codec, poolFactor }));
      await fill(s, docs);
      return Array.from(await s.score(q, allSlots(40)));
    };
    (await run("float16")).forEach((v, i) => expect(Math.abs(v - exact[i]!)).toBeLessThan(1e-3));
    (await run("int8")).forEach((v, i) => expect(Math.abs(v - exact[i]!)).toBeLessThan(6e-3));
    expect(spearman(await run("binary"), exact)).toBeGreaterThan(0.8);
    expect(spearman(await run("int8", 2), exact)).toBeGreaterThan(0.8);
  });

  it("pooling reduces stored tokens and keeps rows normalised", async () => {
    const { docs } = corpus(3, 3);
    const s = track(createColbertStore({ dim: DIM, codec: "float32", poolFactor: 2 }));
    await fill(s, docs);
    const m = (await s.get(1))!;
    expect(m.tokens).toBe(Math.ceil(docs[1]!.tokens / 2));
    for (let j = 0; j < m.tokens; j++) {
      let n = 0;
      for (let k = 0; k < DIM; k++) n += m.data[j * DIM + k]! ** 2;
      expect(Math.sqrt(n)).toBeCloseTo(1, 5);
    }
  });

  it("persist -> open -> identical scores; put after reopen appends; round-trips again", async () => {
    const { docs, q } = corpus(20, 4);
    for (const codec of ["float32", "float16", "int8", "binary"] as const) {
      const sub = path.join(env.dir, codec);
      await fs.mkdir(sub);
      const s = track(createColbertStore({ dim: DIM, codec }));
      await fill(s, docs.slice(0, 15));
      const before = await s.score(q, allSlots(20));
      const part = await s.persist(sub, 1);
      expect(part).toMatchObject({ codec, dim: DIM, poolFactor: 1, dataFile: "colbert-data.1.bin", offsetsFile: "colbert-offsets.1.bin", liveSlots: 15 });
      const r = track(await openColbertStore(sub, part, { cacheBytes: 1 << 20 }));
      expect(Array.from(await r.score(q, allSlots(20)))).toEqual(Array.from(before));
      for (let i = 15; i < 20; i++) await r.put(i, docs[i]!);
      r.remove(0);
      const part2 = await r.persist(sub, 2);
      expect(part2.dataFile).toBe("colbert-data.1.bin");
      expect(part2.committedBytes).toBeGreaterThan(part.committedBytes);
      expect(part2.offsetsFile).toBe("colbert-offsets.2.bin");
      const after = await r.score(q, allSlots(20));
      const r2 = track(await openColbertStore(sub, part2));
      expect(Array.from(await r2.score(q, allSlots(20)))).toEqual(Array.from(after));
      expect(r2.size).toBe(19);
      expect(Number.isNaN(after[0]!)).toBe(true);
      // the older manifest still opens to the older contents
      const r1 = track(await openColbertStore(sub, part));
      expect(Array.from(await r1.score(q, allSlots(20)))).toEqual(Array.from(before));
    }
  });

  it("detects a corrupted record (crc32) and a corrupted offsets file", async () => {
    const { docs, q } = corpus(5, 5);
    const s = track(createColbertStore({ dim: DIM, codec: "int8" }));
    await fill(s, docs);
    const part = await s.persist(env.dir, 1);
    await s.close();
    const data = path.join(env.dir, part.dataFile);
    const bytes = await fs.readFile(data);
    bytes[bytes.length - 30] ^= 0x40; // inside the last record's payload
    await fs.writeFile(data, bytes);
    const r = track(await openColbertStore(env.dir, part));
    await r.score(q, Uint32Array.of(0, 1)); // untouched records still read fine
    await expectCode(r.score(q, allSlots(5)), "INDEX_CORRUPT");
    const off = path.join(env.dir, part.offsetsFile);
    const ob = await fs.readFile(off);
    ob[ob.length - 1] ^= 1;
    await fs.writeFile(off, ob);
    await expectCode(openColbertStore(env.dir, part), "INDEX_CORRUPT");
    await fs.rm(off);
    await expectCode(openColbertStore(env.dir, part), "INDEX_CORRUPT");
  });

  it("detects a truncated data file and a manifest that does not match the files", async () => {
    const { docs } = corpus(4, 6);
    const s = track(createColbertStore({ dim: DIM, codec: "float16" }));
    await fill(s, docs);
    const part = await s.persist(env.dir, 1);
    await s.close();
    await expectCode(openColbertStore(env.dir, { ...part, codec: "int8" }), "INDEX_CORRUPT");
    await expectCode(openColbertStore(env.dir, { ...part, liveSlots: 3 }), "INDEX_CORRUPT");
    await expectCode(openColbertStore(env.dir, { ...part, dataFile: "../x.bin" }), "INDEX_CORRUPT");
    await fs.truncate(path.join(env.dir, part.dataFile), part.committedBytes - 8);
    await expectCode(openColbertStore(env.dir, part), "INDEX_CORRUPT");
  });

  it("ignores bytes past committedBytes (a crashed append) and truncates them before appending", async () => {
    const { docs, q } = corpus(6, 7);
    const s = track(createColbertStore({ dim: DIM, codec: "float32" }));
    await fill(s, docs.slice(0, 3));
    const part = await s.persist(env.dir, 1);
    await s.put(3, docs[3]!); // appended but never committed
    await s.close();
    await fs.appendFile(path.join(env.dir, part.dataFile), Buffer.from("garbage of a crashed write"));
    const r = track(await openColbertStore(env.dir, part));
    expect(r.size).toBe(3);
    expect(r.has(3)).toBe(false);
    await r.put(4, docs[4]!);
    const p2 = await r.persist(env.dir, 2);
    expect((await fs.stat(path.join(env.dir, part.dataFile))).size).toBe(p2.committedBytes);
    const r2 = track(await openColbertStore(env.dir, p2));
    const got = await r2.score(q, Uint32Array.of(0, 4));
    expect(Math.abs(got[1]! - colbertScore(q, docs[4]!))).toBeLessThan(1e-5);
  });

  it("remove + compact reclaims bytes, keeps scores, and reports the old files", async () => {
    const { docs, q } = corpus(30, 8);
    const s = track(createColbertStore({ dim: DIM, codec: "int8" }));
    await fill(s, docs);
    const part1 = await s.persist(env.dir, 1);
    for (let i = 0; i < 30; i += 2) s.remove(i);
    await s.put(1, docs[0]!); // replace: the old record of slot 1 is dead too
    const before = await s.score(q, allSlots(30));
    expect(s.stats().liveBytes).toBeLessThan(s.stats().totalBytes / 2 + 1000);
    const { part, obsoleteFiles } = await s.compact(env.dir, 2);
    expect(part.dataFile).toBe("colbert-data.2.bin");
    expect(obsoleteFiles.sort()).toEqual(["colbert-data.1.bin", "colbert-offsets.1.bin"]);
    expect(part.committedBytes).toBeLessThan(part1.committedBytes * 0.55);
    expect(s.stats().totalBytes).toBe(part.committedBytes);
    expect(Array.from(await s.score(q, allSlots(30)))).toEqual(Array.from(before));
    for (const f of obsoleteFiles) await fs.rm(path.join(env.dir, f));
    const r = track(await openColbertStore(env.dir, part));
    expect(Array.from(await r.score(q, allSlots(30)))).toEqual(Array.from(before));
    // a retried save (the manifest of generation 2 was never committed) may reuse generation 2
    const retried = await s.compact(env.dir, 2);
    expect(retried.obsoleteFiles).toEqual([]);
    expect(retried.part).toEqual(part);
    expect(await s.persist(env.dir, 2)).toEqual(part);
    const r2 = track(await openColbertStore(env.dir, part));
    expect(Array.from(await r2.score(q, allSlots(30)))).toEqual(Array.from(before));
  });

  it("persist into another directory writes a compact copy there", async () => {
    const { docs, q } = corpus(8, 9);
    const s = track(createColbertStore({ dim: DIM, codec: "binary" }));
    await fill(s, docs);
    await s.persist(env.dir, 1);
    s.remove(2);
    const other = path.join(env.dir, "moved");
    await fs.mkdir(other);
    const part = await s.persist(other, 2);
    expect(part.liveSlots).toBe(7);
    const r = track(await openColbertStore(other, part));
    expect(Array.from(await r.score(q, allSlots(8)))).toEqual(Array.from(await s.score(q, allSlots(8))));
  });

  it("concurrent puts, scores and a compaction stay consistent", async () => {
    const { docs, q } = corpus(24, 11);
    const s = track(createColbertStore({ dim: DIM, codec: "float32" }));
    await s.persist(env.dir, 1);
    await Promise.all(docs.map((d, i) => s.put(i, d))); // not awaited one by one
    await s.put(5, docs[6]!); // replace
    const exact = docs.map((d, i) => colbertScore(q, i === 5 ? docs[6]! : d));
    const [a, compaction, b] = await Promise.all([
      s.score(q, allSlots(24)),
      (async () => { s.remove(7); return s.compact(env.dir, 2); })(),
      s.score(q, allSlots(24)),
    ]);
    for (const got of [a, b, await s.score(q, allSlots(24))]) {
      exact.forEach((e, i) => { if (i !== 7) expect(Math.abs(got[i]! - e)).toBeLessThan(1e-5); });
    }
    expect(compaction.part.liveSlots).toBe(23);
    const r = track(await openColbertStore(env.dir, compaction.part));
    expect(r.has(7)).toBe(false);
    expect(Math.abs((await r.score(q, Uint32Array.of(5)))[0]! - exact[5]!)).toBeLessThan(1e-5);
  });

  it("in-memory stores reclaim removed records by themselves", async () => {
    const big = randomMatrix(400, 1024, 3); // 1.6 MB per float32 record
    const s = track(createColbertStore({ dim: 1024, codec: "float32" }));
    for (let i = 0; i < 6; i++) await s.put(i, big);
    for (let i = 0; i < 5; i++) s.remove(i);
    const st = s.stats();
    expect(s.size).toBe(1);
    expect(st.totalBytes).toBeLessThan(4 * st.liveBytes); // 6 records were written
    expect(st.totalBytes).toBeLessThanOrEqual(2 * st.liveBytes + 4 * 1024 * 1024 + 32);
  });

  it("keeps resident bytes under cacheBytes after scoring many documents", async () => {
    const c = new SynthCorpus({ dim: 128, vocab: 256, topics: 4, minTokens: 64, maxTokens: 128, seed: 10 });
    const s = track(createColbertStore({ dim: 128, codec: "float16" }));
    const docs = Array.from({ length: 120 }, () => c.doc());
    for (let i = 0; i < docs.length; i++) await s.put(i, docs[i]!.matrix);
    const part = await s.persist(env.dir, 1);
    const cacheBytes = 200_000; // ~6 of ~25 KB records
    const r = track(await openColbertStore(env.dir, part, { cacheBytes }));
    const q = c.query(docs[0]!, 16);
    for (let round = 0; round < 3; round++) {
      const got = await r.score(q, allSlots(120));
      expect(Array.from(got)).toEqual(Array.from(await s.score(q, allSlots(120))));
      expect(r.stats().residentBytes).toBeLessThanOrEqual(cacheBytes);
      expect(r.stats().residentBytes).toBeGreaterThan(0);
    }
    const none = track(await openColbertStore(env.dir, part, { cacheBytes: 0 }));
    await none.score(q, allSlots(120));
    expect(none.stats().residentBytes).toBe(0);
  });

  it("disk-backed scores read into the store's kept buffer: concurrent and successive calls over different slots equal in-memory scores", async () => {
    const { docs, q } = corpus(60, 12);
    const s = track(createColbertStore({ dim: DIM, codec: "int8" }));
    await fill(s, docs);
    const subsets = [allSlots(60), Uint32Array.from([59, 3, 17, 3, 40]), Uint32Array.from({ length: 30 }, (_, i) => 2 * i + 1), Uint32Array.from([7])];
    const expected = await Promise.all(subsets.map((sl) => s.score(q, sl).then((a) => Array.from(a))));
    await s.persist(env.dir, 1);
    // Successive calls reuse one buffer (a later read overwrites an earlier one's bytes) ...
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < subsets.length; i++) expect(Array.from(await s.score(q, subsets[i]!))).toEqual(expected[i]);
    }
    // ... and concurrent calls do not share it: one holds it, the others read into fresh buffers.
    const together = await Promise.all(subsets.map((sl) => s.score(q, sl)));
    together.forEach((got, i) => expect(Array.from(got)).toEqual(expected[i]));
    expect(s.stats().residentBytes).toBe(0); // no record cache by default
  });

  it("an in-memory store past V8's largest array refuses the append with OUT_OF_RANGE (and says to save to disk), keeping what it holds", async () => {
    const { MemoryBacking } = await import("../src/index/colbert/backing.js");
    const b = new MemoryBacking(new Uint8Array(16));
    await b.append(new Uint8Array(8).fill(7));
    b.end = 2 ** 32 - 16; // as if ~4 GiB were stored, without allocating them
    await expectCode(() => b.append(new Uint8Array(64)), "OUT_OF_RANGE");
    b.end = 24;
    expect(Array.from(b.view({ offset: 16, length: 8 }))).toEqual([7, 7, 7, 7, 7, 7, 7, 7]);
  });

  it("putMany stores what put stores (one append per batch), in memory and disk-backed; a later entry for a slot wins", async () => {
    const { docs, q } = corpus(24, 5);
    const a = track(createColbertStore({ dim: DIM, codec: "int8" }));
    const b = track(createColbertStore({ dim: DIM, codec: "int8" }));
    await fill(a, docs.slice(0, 12));
    await b.putMany!(docs.slice(0, 12).map((matrix, slot) => ({ slot, matrix })));
    expect(Array.from(await b.score(q, allSlots(12)))).toEqual(Array.from(await a.score(q, allSlots(12))));
    await b.persist(env.dir, 1); // disk-backed from here
    for (let i = 12; i < 24; i++) await a.put(i, docs[i]!);
    await b.putMany!([...docs.slice(12).map((matrix, i) => ({ slot: 12 + i, matrix })), { slot: 3, matrix: docs[20]! }]);
    await a.put(3, docs[20]!);
    expect(b.size).toBe(24);
    expect(Array.from(await b.score(q, allSlots(24)))).toEqual(Array.from(await a.score(q, allSlots(24))));
    await b.putMany!([]);
    await expectCode(b.putMany!([{ slot: 0, matrix: randomMatrix(2, DIM + 1, 1) }]), "INVALID_ARGUMENT");
    await expectCode(b.putMany!([{ slot: -2, matrix: docs[0]! }]), "OUT_OF_RANGE");
    await expectCode(b.putMany!("x" as never), "INVALID_ARGUMENT");
    expect(b.size).toBe(24);
  });

  it("bad inputs give typed errors", async () => {
    const s = track(createColbertStore({ dim: DIM }));
    expect(s.codec).toBe("int8");
    const ok = randomMatrix(2, DIM, 1);
    await expectCode(s.put(0, randomMatrix(2, DIM + 1, 1)), "INVALID_ARGUMENT");
    const nan = randomMatrix(2, DIM, 1);
    nan.data[5] = NaN;
    await expectCode(s.put(0, nan), "INVALID_ARGUMENT");
    const inf = randomMatrix(3, DIM, 2);
    inf.data[2 * DIM + 7] = -Infinity;
    await expect(s.put(0, inf)).rejects.toThrow(/-Infinity\)? at row 2, column 7/);
    await expectCode(s.put(0, { data: new Float32Array(3), tokens: 2, dim: DIM }), "INVALID_ARGUMENT");
    await expectCode(s.put(-1, ok), "OUT_OF_RANGE");
    await expectCode(s.put(1.5, ok), "OUT_OF_RANGE");
    await expectCode(s.score(randomMatrix(1, 8, 1), Uint32Array.of(0)), "INVALID_ARGUMENT");
    await expectCode(s.score(ok, [0] as unknown as Uint32Array), "INVALID_ARGUMENT");
    await expectCode(() => createColbertStore({ dim: DIM, codec: "fp8" as never }), "INVALID_ARGUMENT");
    await expectCode(() => createColbertStore({ dim: DIM, poolFactor: 0.5 }), "OUT_OF_RANGE");
    await expectCode(() => createColbertStore({ dim: DIM, poolFactor: NaN }), "OUT_OF_RANGE");
    await expectCode(() => createColbertStore({ dim: 0 }), "OUT_OF_RANGE");
    await expectCode(() => createColbertStore({ dim: DIM, cacheBytes: -1 }), "OUT_OF_RANGE");
    await expectCode(s.persist(env.dir, -1), "OUT_OF_RANGE");
    await expectCode(s.persist(path.join(env.dir, "missing", "deeper"), 1), "IO_ERROR");
    await s.put(0, ok);
    expect(Array.from(await s.score({ data: new Float32Array(0), tokens: 0, dim: DIM }, Uint32Array.of(0, 1))).map(String)).toEqual(["0", "NaN"]);
    await s.close();
    await expectCode(s.put(0, ok), "DISPOSED");
  });
});

function spearman(a: number[], b: number[]): number {
  const rank = (x: number[]) => { const r = new Array<number>(x.length); x.map((v, i) => [v, i] as const).sort((p, q) => p[0] - q[0]).forEach(([, i], k) => { r[i] = k; }); return r; };
  const ra = rank(a), rb = rank(b), n = a.length;
  let d = 0;
  for (let i = 0; i < n; i++) d += (ra[i]! - rb[i]!) ** 2;
  return 1 - (6 * d) / (n * (n * n - 1));
}
