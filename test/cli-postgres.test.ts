/**
 * The built `m3` CLI with `--pg`: index into, query and describe a Postgres collection (PGlite + pgvector served
 * over TCP by test/helpers/pg-server.ts), with the tiny fixture model; the same corpus indexed into a folder gives
 * the same exact dense + sparse results.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deadPort, startPgServer, type PgServer } from "./helpers/pg-server.js";

const ROOT = path.resolve(__dirname, "..");
const CLI = path.join(ROOT, "dist/cli/main.js");
const MODEL = path.join(ROOT, "test/fixtures/models/encoder-only");
const OTHER_LAYOUT = path.join(ROOT, "test/fixtures/models/three-heads-aapot");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function m3(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [CLI, ...args], { cwd: tmp, env: { ...process.env, M3_MODEL_DIR: undefined } as NodeJS.ProcessEnv });
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (d) => (stdout += d));
    c.stderr.on("data", (d) => (stderr += d));
    c.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

let tmp: string;
let server: PgServer;

function write(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
}

interface Hit {
  id: string;
  score: number;
  scores: Record<string, number>;
  metadata: Record<string, unknown>;
}

async function queryJson(where: string[], text: string, extra: string[] = []): Promise<Hit[]> {
  const r = await m3(["query", ...where, text, "--json", ...extra]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as { hits: Hit[] }).hits;
}

beforeAll(async () => {
  if (!existsSync(CLI)) spawnSync("npx", ["tsup"], { cwd: ROOT, stdio: "ignore" });
  tmp = mkdtempSync(path.join(tmpdir(), "m3-cli-pg-"));
  write(path.join(tmp, "corpus/notes/bread.md"), "# Bread\n\nBread dough rises because yeast ferments sugar.\n\nKneading develops gluten.\n");
  write(path.join(tmp, "corpus/notes/tides.txt"), "The Moon's gravity pulls on the oceans and raises the tides.");
  write(path.join(tmp, "corpus/docs.jsonl"), [
    JSON.stringify({ id: "mars", text: "Mars is called the red planet.", metadata: { lang: "en" } }),
    JSON.stringify({ id: "mauer", text: "Die Berliner Mauer fiel 1989.", metadata: { lang: "de" } }),
  ].join("\n"));
  server = await startPgServer();
});

afterAll(async () => {
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe("m3 --pg", () => {
  it("indexes into a collection, queries it like the folder index, describes it, and re-runs incrementally", async () => {
    const pg = ["--pg", server.url, "--table", "notes"];
    let r = await m3(["index", "corpus", "--model", MODEL, ...pg, "-q"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/3 file\(s\): 3 new or changed/);
    expect(r.stderr).toMatch(/table notes holds 4 document\(s\)/);

    r = await m3(["index", "corpus", "--model", MODEL, "--out", "folder-index", "-q"]);
    expect(r.code).toBe(0);
    const all = ["-k", "10", "--candidates", "1000", "--mode", "dense+sparse"];
    const fromPg = await queryJson(pg, "Why does bread dough rise?", all);
    const fromDir = await queryJson(["folder-index"], "Why does bread dough rise?", all);
    expect(fromPg.map((h) => h.id)).toEqual(fromDir.map((h) => h.id));
    fromPg.forEach((h, i) => {
      expect(h.scores.dense).toBeCloseTo(fromDir[i]!.scores.dense!, 5);
      expect(h.scores.sparse).toBeCloseTo(fromDir[i]!.scores.sparse!, 5);
    });
    expect(fromPg[0]!.metadata.source).toBe("corpus/notes/bread.md");
    const hybrid = await queryJson(pg, "Mars", ["-k", "1"]);
    expect(hybrid[0]!.id).toBe("mars");

    r = await m3(["info", ...pg, "--json"]);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout) as { documents: number; sourceFiles: number; chunking: { chunkSize: number }; storage: { colbert: string }; bytes: { total: number } };
    expect(info.documents).toBe(4);
    expect(info.sourceFiles).toBe(3);
    expect(info.chunking.chunkSize).toBe(510);
    expect(info.storage.colbert).toBe("int8");
    expect(info.bytes.total).toBeGreaterThan(0);
    r = await m3(["info", ...pg]);
    expect(r.stdout).toMatch(/documents\s+4/);

    r = await m3(["index", "corpus", "--model", MODEL, ...pg, "-q"]);
    expect(r.stderr).toMatch(/0 new or changed, 3 unchanged/);
    write(path.join(tmp, "corpus/notes/tides.txt"), "Tides rise and fall twice a day.");
    unlinkSync(path.join(tmp, "corpus/docs.jsonl"));
    r = await m3(["index", "corpus", ...pg, "-q"]); // the model recorded in the collection
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/1 new or changed, 1 unchanged, 1 deleted/);
    expect(r.stderr).toMatch(/holds 2 document\(s\)/);
    const tides = await queryJson(pg, "twice a day", ["-k", "1"]);
    expect(tides[0]!.metadata.source).toBe("corpus/notes/tides.txt");
  });

  it("usage errors exit 2; a server that is down, a missing collection and another model exit 1 with one line", async () => {
    for (const args of [
      ["index", "corpus", "--model", MODEL],
      ["index", "corpus", "--model", MODEL, "--out", "x", "--pg", server.url],
      ["index", "corpus", "--model", MODEL, "--pg", "localhost:5432"],
      ["index", "corpus", "--model", MODEL, "--pg", server.url, "--table", "Bad-Name"],
      ["index", "corpus", "--model", MODEL, "--out", "x", "--table", "t"],
      ["query", "--pg", server.url, "folder", "text"],
      ["info", "folder", "--pg", server.url],
    ]) {
      const r = await m3(args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr.trim().split("\n").length).toBeLessThanOrEqual(2);
    }
    const down = `postgres://postgres@127.0.0.1:${await deadPort()}/postgres`;
    let r = await m3(["query", "--pg", down, "bread", "--model", MODEL]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^m3: .*\[BACKEND_UNAVAILABLE\]\n$/);
    r = await m3(["query", "--pg", server.url, "--table", "nothing_here", "bread", "--model", MODEL]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not an M3 collection/);
    r = await m3(["index", "corpus", "--model", MODEL, "--pg", server.url, "--table", "model_a", "-q"]);
    expect(r.code).toBe(0);
    r = await m3(["query", "--pg", server.url, "--table", "model_a", "bread", "--model", OTHER_LAYOUT]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\[INDEX_MODEL_MISMATCH\]/);
  });
});
