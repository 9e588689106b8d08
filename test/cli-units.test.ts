/** Pure parts of the CLI: incremental planning, option parsing, text layout, progress, windows, error lines. */
import path from "node:path";
import { describe, expect, it } from "vitest";
import { windows } from "../src/cli/chunk.js";
import { ExitCode, UsageError, exitCodeFor, formatError } from "../src/cli/exit.js";
import { displayWidth, formatBytes, formatDuration, truncate, truncateStart } from "../src/cli/format.js";
import { parseIntOption, parseModes, parseProviders, parseWeights } from "../src/cli/options.js";
import { Progress } from "../src/cli/progress.js";
import { planIncremental, sourceName, sourcesOf } from "../src/cli/state.js";
import { M3Error } from "../src/errors.js";

describe("incremental plan", () => {
  const base = "/data";
  const recorded = sourcesOf([
    { id: "a#0", metadata: { source: "docs/a.txt", sourceHash: "h1" } },
    { id: "a#1", metadata: { source: "docs/a.txt", sourceHash: "h1" } },
    { id: "b#0", metadata: { source: "docs/b.txt", sourceHash: "h2" } },
    { id: "c#0", metadata: { source: "docs/c.txt", sourceHash: "h3" } },
    { id: "o#0", metadata: { source: "other/o.txt", sourceHash: "h4" } },
    { id: "x", metadata: {} },
  ]);
  it("groups documents by source", () => {
    expect([...recorded.keys()].sort()).toEqual(["docs/a.txt", "docs/b.txt", "docs/c.txt", "other/o.txt"]);
    expect(recorded.get("docs/a.txt")!.ids).toEqual(["a#0", "a#1"]);
  });
  it("skips unchanged, re-indexes changed and new, drops deleted under the roots, keeps others", () => {
    const plan = planIncremental({
      files: [
        { source: "docs/a.txt", absPath: "/data/docs/a.txt", sha256: "h1" },
        { source: "docs/b.txt", absPath: "/data/docs/b.txt", sha256: "CHANGED" },
        { source: "docs/n.txt", absPath: "/data/docs/n.txt", sha256: "h9" },
      ],
      refused: [],
      recorded,
      roots: [path.join(base, "docs")],
      baseDir: base,
      reindexAll: false,
      exists: (p) => p === "/data/other/o.txt",
    });
    expect(plan.unchanged.map((f) => f.source)).toEqual(["docs/a.txt"]);
    expect(plan.toIndex.map((f) => f.source)).toEqual(["docs/b.txt", "docs/n.txt"]);
    expect(plan.deletedSources).toEqual(["docs/c.txt"]);
    expect(plan.removeIds.sort()).toEqual(["b#0", "c#0"]);
  });
  it("re-indexes everything when the settings changed, and drops files that turned binary", () => {
    const plan = planIncremental({
      files: [{ source: "docs/a.txt", absPath: "/data/docs/a.txt", sha256: "h1" }],
      refused: ["docs/b.txt"],
      recorded,
      roots: ["/data/docs/a.txt", "/data/docs/b.txt"],
      baseDir: base,
      reindexAll: true,
      exists: () => true,
    });
    expect(plan.toIndex.map((f) => f.source)).toEqual(["docs/a.txt"]);
    expect(plan.removeIds.sort()).toEqual(["a#0", "a#1", "b#0"]);
    expect(plan.deletedSources).toEqual([]);
  });
  it("names sources relative to the base folder, absolute outside it", () => {
    expect(sourceName("/data/docs/a.txt", "/data")).toBe("docs/a.txt");
    expect(sourceName("/elsewhere/a.txt", "/data")).toBe("/elsewhere/a.txt");
  });
});

describe("options", () => {
  it("parses and rejects values", () => {
    expect(parseIntOption("-k", "5", 1, 10, 3)).toBe(5);
    expect(parseIntOption("-k", undefined, 1, 10, 3)).toBe(3);
    for (const bad of ["0", "11", "2.5", "x", ""]) expect(() => parseIntOption("-k", bad, 1, 10, 3)).toThrow(UsageError);
    expect(parseWeights("1, 0, 2", { dense: 0.4, sparse: 0.2, colbert: 0.4 })).toEqual({ dense: 1, sparse: 0, colbert: 2 });
    for (const bad of ["1,2", "0,0,0", "-1,1,1", "a,b,c", "1,,1"]) expect(() => parseWeights(bad, { dense: 1, sparse: 1, colbert: 1 })).toThrow(UsageError);
    expect(parseModes(undefined)).toEqual(["dense", "sparse", "colbert"]);
    expect(parseModes("hybrid")).toEqual(["dense", "sparse", "colbert"]);
    expect(parseModes("sparse+dense")).toEqual(["dense", "sparse"]);
    expect(() => parseModes("bm25")).toThrow(UsageError);
  });

  it("--provider: names in order, cuda/tensorrt/dml with a device index", () => {
    expect(parseProviders(undefined)).toBeUndefined();
    expect(parseProviders("cpu")).toEqual(["cpu"]);
    expect(parseProviders("CUDA:1, cpu")).toEqual([{ name: "cuda", deviceId: 1 }, "cpu"]);
    expect(parseProviders("webgpu,cpu")).toEqual(["webgpu", "cpu"]);
    for (const bad of ["", "gpu", "cuda,", "cpu:0", "cuda:x", "cuda:1:2", "cuda:1234"]) expect(() => parseProviders(bad)).toThrow(UsageError);
  });
});

describe("text layout", () => {
  it("measures CJK as two columns and truncates by width", () => {
    expect(displayWidth("abc")).toBe(3);
    expect(displayWidth("月亮")).toBe(4);
    expect(displayWidth("e\u0301")).toBe(1);
    expect(truncate("月亮怎样影响潮汐", 7)).toBe("月亮怎…");
    expect(truncate("a\nb\tc", 10)).toBe("a b c");
    expect(truncateStart("data/sample-corpus/docs/a.md#3", 12)).toBe("…docs/a.md#3");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatDuration(65)).toBe("1:05");
    expect(formatDuration(3723)).toBe("1:02:03");
    expect(formatDuration(Number.NaN)).toBe("--:--");
  });
});

describe("progress", () => {
  it("prints a line per 10 % without a TTY, with rate and ETA", () => {
    const lines: string[] = [];
    let now = 0;
    const p = new Progress({ total: 1000, stream: { write: (s) => (lines.push(s), true), isTTY: false }, now: () => now });
    for (let i = 0; i < 20; i++) {
      now += 500;
      p.advance(50, 100);
    }
    p.finish();
    expect(lines.length).toBe(11);
    expect(lines.at(-1)).toMatch(/100%.*200 tok\/s.*ETA 0:00/);
    expect(lines[5]).toMatch(/50%.*ETA 0:05/);
  });
  it("redraws one line on a TTY", () => {
    const out: string[] = [];
    let now = 0;
    const p = new Progress({ total: 10, stream: { write: (s) => (out.push(s), true), isTTY: true, columns: 120 }, now: () => now });
    p.setLabel("file.txt");
    now = 1000;
    p.advance(10, 5);
    p.finish();
    expect(out.every((s) => s.startsWith("\r") || s === "\n")).toBe(true);
    expect(out.join("")).toMatch(/file\.txt/);
  });
});

describe("windows", () => {
  it("cuts long text at blank lines and loses nothing", () => {
    const text = Array.from({ length: 500 }, (_, i) => `para ${i} ${"x".repeat(i % 50)}`).join("\n\n");
    const parts = [...windows(text, 1000)];
    expect(parts.join("")).toBe(text);
    expect(parts.length).toBeGreaterThan(10);
    for (const p of parts.slice(1)) expect(p.startsWith("\n\n")).toBe(true);
    expect([...windows("no breaks at all".repeat(100), 64)].join("")).toBe("no breaks at all".repeat(100));
  });
});

describe("errors", () => {
  it("maps errors to exit codes and one line", () => {
    expect(exitCodeFor(new UsageError("x"))).toBe(ExitCode.USAGE);
    expect(exitCodeFor(new M3Error("ABORTED", "stop"))).toBe(ExitCode.INTERRUPTED);
    expect(exitCodeFor(new Error("x"))).toBe(ExitCode.RUNTIME);
    const e = new M3Error("MODEL_NOT_FOUND", "no model\nin /x");
    expect(formatError(e, false)).toBe("m3: no model in /x [MODEL_NOT_FOUND]");
    expect(formatError(e, true).split("\n").length).toBeGreaterThan(2);
  });
});
