/** `m3 finetune` (the built CLI): writes a new folder, Ctrl-C writes nothing (exit 130), bad input exits 1 with the line named. */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { syntheticPairs } from "./helpers/finetune-pairs.js";

const ROOT = path.resolve(__dirname, "..");
const CLI = path.join(ROOT, "dist/cli/main.js");
const MODEL = path.join(ROOT, "test/fixtures/models/encoder-only");
const tmp = mkdtempSync(path.join(tmpdir(), "m3-cli-finetune-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const pairs = path.join(tmp, "pairs.jsonl");
writeFileSync(pairs, syntheticPairs(60).map((p) => JSON.stringify(p)).join("\n") + "\n");

interface Run { code: number | null; stdout: string; stderr: string }

/** Runs the CLI; `onStderr` sees the stderr text so far and may act on the child (e.g. send SIGINT). */
function m3(args: string[], onStderr?: (text: string, kill: (s: NodeJS.Signals) => void) => void): Promise<Run> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [CLI, ...args], { cwd: ROOT });
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (d) => (stdout += d));
    c.stderr.on("data", (d) => {
      stderr += d;
      onStderr?.(stderr, (s) => c.kill(s));
    });
    c.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("m3 finetune", () => {
  it("writes a new model folder and reports before/after", async () => {
    const out = path.join(tmp, "tuned");
    const r = await m3(["finetune", MODEL, "--pairs", pairs, "--out", out, "--epochs", "2", "--lr", "3e-3", "--temperature", "0.1"]);
    expect(r.stderr).toMatch(/epoch 1\/2/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/wrote .*tuned \(heads of epoch \d/);
    expect(r.stdout).toMatch(/passages without lexical weights: 0\.0% -> 0\.0%/);
    expect(existsSync(path.join(out, "sparse_linear.pt"))).toBe(true);
    const again = await m3(["finetune", MODEL, "--pairs", pairs, "--out", out]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists.*\[INVALID_ARGUMENT\]/);
  });

  it("Ctrl-C during training exits 130 and writes nothing", async () => {
    const out = path.join(tmp, "interrupted");
    let sent = false;
    const r = await m3(["finetune", MODEL, "--pairs", pairs, "--out", out, "--epochs", "10000", "--patience", "10000", "--lr", "1e-6"], (text, kill) => {
      if (!sent && text.includes("epoch 1/")) {
        sent = true;
        kill("SIGINT");
      }
    });
    expect(sent).toBe(true);
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/nothing will be written/);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(tmp).filter((f) => f.includes(".partial-"))).toEqual([]);
  });

  it("bad input: exit 1 naming the line; a bad option value: exit 2", async () => {
    const bad = path.join(tmp, "bad.jsonl");
    writeFileSync(bad, '{"query": "a", "positive": "b"}\n{"query": "c"}\n');
    const r = await m3(["finetune", MODEL, "--pairs", bad, "--out", path.join(tmp, "x")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad\.jsonl line 2: has no "positive".*\[PAIRS_INVALID\]/);
    const u = await m3(["finetune", MODEL, "--pairs", pairs, "--out", path.join(tmp, "y"), "--lr", "fast"]);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/--lr must be a positive number/);
    expect(existsSync(path.join(tmp, "x")) || existsSync(path.join(tmp, "y"))).toBe(false);
  });
});
