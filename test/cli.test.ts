/**
 * The built `m3` CLI (dist/cli/main.js) run as a user runs it, on temporary folders, with the
 * tiny fixture model (test/fixtures/models/encoder-only).
 */
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync, mkdirSync, openSync, writeSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "..");
const CLI = path.join(ROOT, "dist/cli/main.js");
const MODEL = path.join(ROOT, "test/fixtures/models/encoder-only");
const OTHER_LAYOUT = path.join(ROOT, "test/fixtures/models/three-heads-aapot");

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function m3(args: string[], opts: { cwd?: string; env?: Record<string, string | undefined> } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const env = { ...process.env, M3_MODEL_DIR: undefined, ...opts.env };
    const c = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? ROOT, env: env as NodeJS.ProcessEnv });
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (d) => (stdout += d));
    c.stderr.on("data", (d) => (stderr += d));
    c.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

let tmp: string;
const t = (...p: string[]) => path.join(tmp, ...p);

function write(file: string, text: string | Buffer): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
}

function manifest(dir: string): { generation: number; counts: { documents: number } } {
  return JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8"));
}

async function queryJson(dir: string, text: string, extra: string[] = []): Promise<{ hits: { id: string; score: number; scores: Record<string, number>; metadata: Record<string, unknown> }[] }> {
  const r = await m3(["query", dir, text, "--json", ...extra]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
}

async function allIds(dir: string): Promise<string[]> {
  const res = await queryJson(dir, "the", ["-k", "10000", "--candidates", "100000"]);
  return res.hits.map((h) => h.id).sort();
}

function corpus(dir: string): void {
  write(path.join(dir, "notes/bread.md"), "# Bread\n\nBread dough rises because yeast ferments sugar.\n\nKneading develops gluten.\n");
  write(path.join(dir, "notes/sub/tides.txt"), "The Moon's gravity pulls on the oceans and raises the tides.");
  write(path.join(dir, "docs.jsonl"), [
    JSON.stringify({ id: "mars", text: "Mars is called the red planet.", metadata: { lang: "en" } }),
    JSON.stringify({ id: "mauer", text: "Die Berliner Mauer fiel 1989.", metadata: { lang: "de" } }),
    "not json",
    JSON.stringify({ id: "empty", text: "" }),
  ].join("\n"));
  write(path.join(dir, ".hidden/secret.txt"), "should not be indexed");
  write(path.join(dir, "paper.pdf"), "%PDF-1.4 not supported");
}

beforeAll(() => {
  if (!existsSync(CLI)) spawnSync("npx", ["tsup"], { cwd: ROOT, stdio: "ignore" });
  tmp = mkdtempSync(path.join(tmpdir(), "m3-cli-"));
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe("m3 usage", () => {
  it("--help works for every command and exits 0", async () => {
    for (const args of [["--help"], ["index", "--help"], ["query", "--help"], ["info", "--help"], ["help", "query"]]) {
      const r = await m3(args);
      expect(r.code, args.join(" ")).toBe(0);
      expect(r.stdout).toMatch(/Usage: m3/);
    }
    expect((await m3(["--version"])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("usage errors exit 2 with one line", async () => {
    const cases: string[][] = [
      [],
      ["bogus"],
      ["index", "x"], // --out missing
      ["index", "--out", t("u")], // no paths
      ["query", "idx"], // text missing
      ["query", "idx", "q", "-k", "0"],
      ["query", "idx", "q", "--weights", "1,2"],
      ["query", "idx", "q", "--weights", "0,0,0"],
      ["query", "idx", "q", "--mode", "bm25"],
      ["query", "idx", "q", "--fusion", "max"],
      ["query", "idx", "q", "--mode", "sparse", "--weights", "1,0,1"],
      ["index", ROOT + "/data", "--out", t("u"), "--model", MODEL, "--chunk-size", "100", "--chunk-overlap", "100"],
      ["index", ROOT + "/data", "--out", t("u"), "--model", MODEL, "--chunk-size", "ten"],
      ["index", ROOT + "/data", "--out", t("u"), "--model", MODEL, "--checkpoint", "-1"],
      ["index", ROOT + "/data", "--out", t("u"), "--model", MODEL, "--checkpoint", "1e3"],
      ["index", ROOT + "/data", "--out", t("u")], // no model anywhere
    ];
    for (const args of cases) {
      const r = await m3(args);
      expect(r.code, `m3 ${args.join(" ")}\n${r.stderr}`).toBe(2);
      expect(r.stdout).toBe("");
    }
    expect(existsSync(t("u"))).toBe(false);
  });
});

describe("m3 index / query / info", () => {
  it("indexes .txt, .md and .jsonl (skipping hidden, unsupported and bad lines), then queries and describes the index", async () => {
    const src = t("c1");
    corpus(src);
    const idx = t("c1-index");
    const r = await m3(["index", src, "--model", MODEL, "--out", idx]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/paper\.pdf: not \.txt, \.md or \.jsonl/);
    expect(r.stderr).toMatch(/docs\.jsonl:3: not valid JSON/);
    expect(r.stderr).toMatch(/docs\.jsonl:4: no "text" string/);
    expect(r.stderr).toMatch(/3 file\(s\): 3 new or changed, 0 unchanged/);
    expect(r.stderr).toMatch(/tok\/s/);
    const ids = await allIds(idx);
    expect(ids.some((id) => id.includes("secret"))).toBe(false);
    expect(ids).toContain("mars");
    expect(ids).toContain("mauer");
    expect(ids.some((id) => /notes\/bread\.md#0$/.test(id))).toBe(true);
    expect(ids.some((id) => /notes\/sub\/tides\.txt#0$/.test(id))).toBe(true);

    const q = await queryJson(idx, "Mars red planet", ["-k", "2"]);
    expect(q.hits).toHaveLength(2);
    for (const h of q.hits) {
      expect(Number.isFinite(h.scores["dense"])).toBe(true);
      expect(Number.isFinite(h.scores["sparse"])).toBe(true);
      expect(Number.isFinite(h.scores["colbert"])).toBe(true);
      expect(h.metadata["source"]).toBeTypeOf("string");
      const w = h.scores as { dense: number; sparse: number; colbert: number };
      expect(h.score).toBeCloseTo((0.4 * w.dense + 0.2 * w.sparse + 0.4 * w.colbert) / 1.0, 5);
    }
    const mars = (await queryJson(idx, "x", ["-k", "10"])).hits.find((h) => h.id === "mars");
    expect(mars?.metadata).toMatchObject({ lang: "en", line: 1 });

    const dense = await queryJson(idx, "Mars red planet", ["--mode", "dense", "-k", "3"]);
    expect(Object.keys(dense.hits[0]!.scores)).toEqual(["dense"]);
    expect(dense.hits[0]!.score).toBeCloseTo(dense.hits[0]!.scores["dense"]!, 6);

    const table = await m3(["query", idx, "Mars red planet", "-k", "3"]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/#\s+fused\s+dense\s+sparse\s+colbert\s+id\s+text/);
    expect(table.stdout.trim().split("\n")).toHaveLength(5);

    const cmp = await m3(["query", idx, "Mars red planet", "-k", "3", "--compare"]);
    expect(cmp.code).toBe(0);
    expect(cmp.stdout).toMatch(/dense\s+sparse\s+colbert\s+hybrid/);

    const info = await m3(["info", idx]);
    expect(info.code).toBe(0);
    expect(info.stdout).toMatch(/documents\s+4/);
    expect(info.stdout).toMatch(/source files\s+3/);
    expect(info.stdout).toMatch(/layout\s+encoder-only/);
    expect(info.stdout).toMatch(/tokenizer sha256\s+[0-9a-f]{64}/);
    expect(info.stdout).toMatch(/manifest\.json/);
    const infoJson = JSON.parse((await m3(["info", idx, "--json"])).stdout);
    expect(infoJson.documents).toBe(4);
    expect(infoJson.model.fingerprint.layout).toBe("encoder-only");
    expect(infoJson.disk.totalBytes).toBeGreaterThan(0);
  });

  it("is incremental: unchanged files are skipped, changed ones re-indexed, deleted ones removed", async () => {
    const src = t("c2");
    corpus(src);
    const idx = t("c2-index");
    expect((await m3(["index", src, "--model", MODEL, "--out", idx, "-q"])).code).toBe(0);
    const gen1 = manifest(idx).generation;

    // Nothing changed: nothing re-encoded, nothing saved; the model comes from the index.
    const again = await m3(["index", src, "--out", idx]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/0 new or changed, 3 unchanged/);
    expect(again.stderr).toMatch(/index is up to date/);
    expect(manifest(idx).generation).toBe(gen1);

    // Change one file, delete another, add a third.
    write(path.join(src, "notes/bread.md"), "# Bread\n\nSourdough uses wild yeast instead of baker's yeast.\n");
    unlinkSync(path.join(src, "notes/sub/tides.txt"));
    write(path.join(src, "new.txt"), "Jazz was born in New Orleans.");
    const r = await m3(["index", src, "--out", idx, "-q"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/3 file\(s\): 2 new or changed, 1 unchanged, 1 deleted/);
    expect(manifest(idx).generation).toBe(gen1 + 1);
    const ids = await allIds(idx);
    expect(ids.some((id) => id.includes("tides"))).toBe(false);
    expect(ids.some((id) => id.endsWith("new.txt#0"))).toBe(true);
    const bread = (await queryJson(idx, "Sourdough", ["-k", "10"])).hits.filter((h) => String(h.id).includes("bread.md"));
    expect(bread).toHaveLength(1);
    expect(JSON.stringify(bread[0])).toMatch(/Sourdough/);

    // A jsonl id used by another file is refused, not silently replaced.
    write(path.join(src, "dup.jsonl"), JSON.stringify({ id: "mars", text: "another mars" }));
    const dup = await m3(["index", src, "--out", idx, "-q"]);
    expect(dup.code).toBe(0);
    expect(dup.stderr).toMatch(/id "mars" is already used by/);
  });

  it("a binary file is skipped with a warning; a text file that turned binary loses its chunks", async () => {
    const src = t("c3");
    write(path.join(src, "good.md"), "Green tea and black tea come from the same plant.");
    write(path.join(src, "later.txt"), "This file will become binary.");
    const bytes = Buffer.alloc(4096);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + 7) % 256;
    write(path.join(src, "image.txt"), bytes);
    const idx = t("c3-index");
    const r = await m3(["index", src, "--model", MODEL, "--out", idx, "-q"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: skipping .*image\.txt: binary content/);
    expect((await allIds(idx)).length).toBe(2);
    write(path.join(src, "later.txt"), Buffer.from([0xff, 0xfe, 0x00, 0x41, 0x00, 0x42]));
    const r2 = await m3(["index", src, "--out", idx, "-q"]);
    expect(r2.code).toBe(0);
    expect(await allIds(idx)).toEqual([expect.stringMatching(/good\.md#0$/)]);
    // Only binary files: nothing to index, exit 1, no index written.
    const onlyBin = t("c3-bin");
    write(path.join(onlyBin, "a.txt"), bytes);
    const r3 = await m3(["index", onlyBin, "--model", MODEL, "--out", t("c3-bin-index")]);
    expect(r3.code).toBe(1);
    expect(r3.stderr).toMatch(/nothing to index/);
    expect(existsSync(path.join(t("c3-bin-index"), "manifest.json"))).toBe(false);
  });

  it("a missing model, an empty folder, a missing path, a non-index and another model fail with one line and exit 1", async () => {
    mkdirSync(t("empty"), { recursive: true });
    write(t("one/a.txt"), "hello");
    const missingModel = await m3(["index", t("one"), "--model", t("no-such-model"), "--out", t("m-index")]);
    expect(missingModel.code).toBe(1);
    expect(missingModel.stderr.trim().split("\n")).toHaveLength(1);
    expect(missingModel.stderr).toMatch(/^m3: .*does not exist.*\[MODEL_NOT_FOUND\]$/m);
    expect(existsSync(t("m-index"))).toBe(false);

    const verbose = await m3(["--verbose", "index", t("one"), "--model", t("no-such-model"), "--out", t("m-index")]);
    expect(verbose.code).toBe(1);
    expect(verbose.stderr).toMatch(/\n\s+at /);

    const empty = await m3(["index", t("empty"), "--model", MODEL, "--out", t("e-index")]);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/^m3: nothing to index: no \.txt, \.md or \.jsonl files in/m);
    expect(existsSync(path.join(t("e-index"), "manifest.json"))).toBe(false);

    const nopath = await m3(["index", t("nope"), "--model", MODEL, "--out", t("e-index")]);
    expect(nopath.code).toBe(1);
    expect(nopath.stderr).toMatch(/no such file or folder/);

    const notIndex = await m3(["query", t("empty"), "hello", "--model", MODEL]);
    expect(notIndex.code).toBe(1);
    expect(notIndex.stderr).toMatch(/is not an index/);
    expect((await m3(["info", t("empty")])).code).toBe(1);
    const badProvider = await m3(["query", t("empty"), "hello", "--provider", "gpu"]);
    expect(badProvider.code).toBe(2);
    expect(badProvider.stderr).toMatch(/--provider must be a comma-separated list of cpu, cuda/);

    const idx = t("one-index");
    expect((await m3(["index", t("one"), "--model", MODEL, "--out", idx, "-q"])).code).toBe(0);
    const other = await m3(["query", idx, "hello", "--model", OTHER_LAYOUT]);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/INDEX_MODEL_MISMATCH/);
  });

  it("info without an index shows the onnxruntime build and its providers; an unavailable provider fails with one line", async () => {
    const r = await m3(["info"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/onnxruntime-node\s+\d+\.\d+\.\d+ \(\w+\/\w+\)/);
    expect(r.stdout).toMatch(/providers\s+cpu/);
    const j = JSON.parse((await m3(["info", "--json"])).stdout) as { runtime: { providers: { name: string }[] } };
    expect(j.runtime.providers[0]!.name).toBe("cpu");
    if (!j.runtime.providers.some((p) => p.name === "dml")) {
      const src = t("prov");
      mkdirSync(src, { recursive: true });
      writeFileSync(path.join(src, "a.txt"), "hello world");
      const e = await m3(["index", src, "--model", MODEL, "--out", t("prov-index"), "--provider", "dml", "-q"]);
      expect(e.code).toBe(1);
      expect(e.stderr).toMatch(/PROVIDER_UNAVAILABLE/);
      expect(e.stderr).toMatch(/"dml" is not in this onnxruntime-node build/);
    }
  });

  it("quantize writes the int8 encoder, prints its fidelity, refuses to overwrite without --force; index runs on it", async () => {
    const dir = t("qmodel");
    cpSync(MODEL, dir, { recursive: true });
    rmSync(path.join(dir, "onnx/model_quantized.onnx"));
    const r = await m3(["quantize", dir, "-q"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/wrote .*onnx\/model_quantized\.onnx/);
    expect(r.stdout).toMatch(/12 MatMul weights \(per-column scales\) and 2 embedding tables/);
    expect(r.stdout).toMatch(/dense cosine\s+min 0\.99\d\d/);
    expect(r.stdout).toMatch(/MaxSim \|difference\| max/);
    const again = await m3(["quantize", dir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists; pass overwrite: true \(m3 quantize --force\)/);
    const forced = JSON.parse((await m3(["quantize", dir, "--force", "--per-tensor", "--json"])).stdout) as { scales: string; fidelity: { denseCosine: { min: number } } };
    expect(forced.scales).toBe("per-tensor");
    expect(forced.fidelity.denseCosine.min).toBeGreaterThan(0.99);
    const src = t("qsrc");
    write(path.join(src, "a.txt"), "Bread dough rises because yeast ferments sugar.");
    const idx = await m3(["index", src, "--model", dir, "--variant", "int8", "--out", t("qidx"), "-q"]);
    expect(idx.code, idx.stderr).toBe(0);
    const notBge = await m3(["quantize", OTHER_LAYOUT, "--no-check"]);
    expect(notBge.code).toBe(1);
    expect(notBge.stderr).toMatch(/not an encoder-only BGE-M3 graph.*\[INVALID_ARGUMENT\]/);
  });

  it("splits a long text file into chunks of at most --chunk-size tokens", async () => {
    const src = t("long");
    const para = (i: number) => `Paragraph ${i}. The Moon's gravity pulls on the oceans and raises the tides; bread dough rises because yeast ferments sugar.`;
    write(path.join(src, "long.txt"), Array.from({ length: 150 }, (_, i) => para(i)).join("\n\n"));
    const idx = t("long-index");
    const r = await m3(["index", src, "--model", MODEL, "--out", idx, "--chunk-size", "64", "--chunk-overlap", "8", "-q"]);
    expect(r.code, r.stderr).toBe(0);
    const { M3Tokenizer } = await import("../src/tokenize/tokenizer.js");
    const tok = await M3Tokenizer.load(path.join(MODEL, "tokenizer.json"));
    const res = await queryJson(idx, "tides", ["-k", "10000", "--candidates", "100000"]);
    expect(res.hits.length).toBeGreaterThan(20);
    const texts = (res.hits as unknown as { text: string }[]).map((h) => h.text);
    const lengths = (await tok.tokenize(texts, 100_000)).map((ids) => ids.length - 2);
    expect(Math.max(...lengths)).toBeLessThanOrEqual(64);
    expect(Math.max(...lengths)).toBeGreaterThan(32);
  });
});

describe("m3 index on a large file, interrupted", () => {
  it("Ctrl-C (SIGINT) mid-indexing exits 130 and leaves the last saved index intact", async () => {
    // A 5 MB text file (unique paragraphs, ~3M tokens with the fixture tokenizer). Indexing it
    // completely takes minutes with the tiny model on a 2-core machine, so the test interrupts
    // it once progress has been reported: it shows the file is streamed (progress moves while
    // the rest of the file is still being split) and that an interrupt never corrupts the index.
    const src = t("big");
    write(path.join(src, "small.md"), "Bread dough rises because yeast ferments sugar.");
    const idx = t("big-index");
    expect((await m3(["index", src, "--model", MODEL, "--out", idx, "-q"])).code).toBe(0);
    const before = readFileSync(path.join(idx, "manifest.json"));
    const beforeHits = await queryJson(idx, "bread");

    const big = path.join(src, "big.txt");
    const fd = openSync(big, "w");
    let size = 0;
    for (let i = 0; size < 5 * 1024 * 1024; i++) {
      const p = `Note ${i}. Light from the Sun needs about eight minutes to reach the Earth; the station circles it every ninety minutes.\n\n`;
      writeSync(fd, p);
      size += Buffer.byteLength(p);
    }
    closeSync(fd);

    const result = await new Promise<Run>((resolve) => {
      const c = spawn(process.execPath, [CLI, "index", src, "--out", idx, "--batch-docs", "8"], { cwd: ROOT });
      let stdout = "";
      let stderr = "";
      let signalled = false;
      c.stdout.on("data", (d) => (stdout += d));
      c.stderr.on("data", (d) => {
        stderr += d;
        // Once the progress bar names big.txt, indexing it is under way: interrupt then.
        if (!signalled && /%\s+[\d.]+ (B|KiB|MiB)\/5\.0 MiB .*ETA .*big\.txt/.test(stderr)) {
          signalled = true;
          c.kill("SIGINT");
        }
      });
      c.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
    });
    expect(result.code, result.stderr).toBe(130);
    expect(result.stderr).toMatch(/ETA/);
    expect(result.stderr).toMatch(/m3: interrupted; the index on disk is the last one saved/);
    // It stopped where it was: the last progress line is short of the whole 5 MiB (an interrupt
    // that waited for the file to be indexed would have drawn 100% first).
    const done = [...result.stderr.matchAll(/%\s+([\d.]+) (B|KiB|MiB)\/5\.0 MiB/g)].map((m) => Number(m[1]) * { B: 1, KiB: 1024, MiB: 1024 * 1024 }[m[2] as "B"]);
    expect(done.length).toBeGreaterThan(0);
    expect(done[done.length - 1]!).toBeLessThan(4.5 * 1024 * 1024);
    expect(readFileSync(path.join(idx, "manifest.json"))).toEqual(before);
    expect(await queryJson(idx, "bread")).toEqual(beforeHits);
    // The next run starts over on big.txt and keeps small.md.
    const info = JSON.parse((await m3(["info", idx, "--json"])).stdout);
    expect(info.documents).toBe(1);
  }, 300_000);

  it("with --checkpoint, an interrupt keeps the files finished before it", async () => {
    const src = t("ckpt");
    // Two small files, then a large one (~20k paragraphs, seconds of encoding even on an idle
    // machine). A 1 ms checkpoint saves after every file; the test interrupts as soon as a save is
    // on disk and the progress bar has moved on to z-big.txt, so the outcome does not depend on
    // how fast the machine is.
    for (let i = 0; i < 2; i++) write(path.join(src, `a-${i}.txt`), Array.from({ length: 600 }, (_, j) => `File ${i}, note ${j}: the Moon raises the tides twice a day.`).join("\n\n"));
    write(path.join(src, "z-big.txt"), Array.from({ length: 20_000 }, (_, j) => `Note ${j}: light from the Sun needs about eight minutes to reach the Earth.`).join("\n\n"));
    const idx = t("ckpt-index");
    const result = await new Promise<Run>((resolve) => {
      const c = spawn(process.execPath, [CLI, "index", src, "--model", MODEL, "--out", idx, "--checkpoint", "0.001", "--batch-docs", "4"], { cwd: ROOT });
      let stderr = "";
      c.stderr.on("data", (d) => (stderr += d));
      let signalled = false;
      const poll = setInterval(() => {
        if (!signalled && existsSync(path.join(idx, "manifest.json")) && /ckpt\/z/.test(stderr)) {
          signalled = true;
          clearInterval(poll);
          c.kill("SIGINT");
        }
      }, 50);
      c.on("close", (code, signal) => {
        clearInterval(poll);
        resolve({ code, signal, stdout: "", stderr });
      });
    });
    expect(result.code, result.stderr).toBe(130);
    const sources = new Set((await queryJson(idx, "tides", ["-k", "10000", "--candidates", "100000"])).hits.map((h) => String(h.metadata["source"])));
    expect([...sources].some((s) => s.endsWith("a-0.txt"))).toBe(true);
    expect([...sources].some((s) => s.endsWith("z-big.txt"))).toBe(false);
    // The next run finishes the job: the checkpointed files are unchanged and skipped.
    const again = await m3(["index", src, "--out", idx, "-q", "--checkpoint", "0"]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/unchanged/);
  }, 300_000);
});
