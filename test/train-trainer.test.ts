/**
 * The trainer (scripts/train) on a few steps: a fresh tokenizer and a tiny model trained on
 * 48 committed held-out pairs, seeded. Checks that the per-epoch losses go down in both stages
 * (stage 1 dense InfoNCE, stage 2 self-distillation), that the log has every mode's loss and
 * in-batch accuracy, and that the folder it writes loads in the package (fp32 and int8) and
 * retrieves its own training pairs better than chance.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { M3Encoder } from "../src/encode/index.js";
import { denseScore } from "../src/math/scores.js";

const ROOT = path.resolve(import.meta.dirname, "..");
const PY = "/usr/bin/python3";
const hasPython = spawnSync(PY, ["-c", "import torch, onnx, sentencepiece, numpy"]).status === 0;
const tmp = mkdtempSync(path.join(os.tmpdir(), "m3-trainer-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Pair { query: string; positive: string; negatives?: string[] }
interface Epoch { stage: number; loss: number; dense_loss: number; dense_acc: number; lex_loss: number; lex_acc: number; mul_loss: number; mul_acc: number }

function py(args: string[]): string {
  const r = spawnSync(PY, args, { cwd: ROOT, encoding: "utf8", timeout: 240_000 });
  if (r.status !== 0) throw new Error(`python ${args[0]} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

describe.skipIf(!hasPython)("scripts/train on a few steps", () => {
  const pairs = readFileSync(path.join(ROOT, "data/manpages/heldout-pairs.jsonl"), "utf8").trim().split("\n").slice(0, 48).map((l) => JSON.parse(l) as Pair);
  const modelDir = path.join(tmp, "model");
  let epochs: Epoch[] = [];

  it("trains (losses go down in both stages) and writes the BAAI encoder-only layout", () => {
    writeFileSync(path.join(tmp, "pairs.jsonl"), pairs.map((p) => JSON.stringify(p)).join("\n") + "\n");
    writeFileSync(path.join(tmp, "text.txt"), pairs.flatMap((p) => [p.query, p.positive, ...(p.negatives ?? [])]).join("\n") + "\n");
    py(["scripts/train/tokenizer.py", "--text", path.join(tmp, "text.txt"), "--out", path.join(tmp, "tok"), "--vocab-size", "600"]);
    py([
      "scripts/train/train.py", "--pairs", path.join(tmp, "pairs.jsonl"), "--tokenizer", path.join(tmp, "tok"), "--out", modelDir,
      "--hidden", "32", "--layers", "1", "--heads", "2", "--ffn", "64", "--batch", "16", "--lr", "5e-3",
      "--stage1-steps", "12", "--stage2-steps", "12", "--steps-per-epoch", "6", "--seed", "7", "--threads", "1",
      "--log", path.join(tmp, "log.json"),
    ]);
    epochs = (JSON.parse(readFileSync(path.join(tmp, "log.json"), "utf8")) as { epochs: Epoch[] }).epochs;
    expect(epochs.map((e) => e.stage)).toEqual([1, 1, 2, 2]);
    for (const e of epochs) for (const k of ["dense_loss", "lex_loss", "mul_loss", "dense_acc", "lex_acc", "mul_acc"] as const) expect(Number.isFinite(e[k])).toBe(true);
    expect(epochs[1]!.dense_loss).toBeLessThan(epochs[0]!.dense_loss);
    expect(epochs[3]!.loss).toBeLessThan(epochs[2]!.loss);
    const config = JSON.parse(readFileSync(path.join(modelDir, "config.json"), "utf8")) as { hidden_size: number; _training: { seed: number; command: string } };
    expect(config.hidden_size).toBe(32);
    expect(config._training.seed).toBe(7);
    expect(config._training.command).toContain("scripts/train/train.py");
  }, 300_000);

  it.each(["fp32", "int8"] as const)("the written model loads in the package (%s) and its dense mode ranks its own positives above chance", async (variant) => {
    const enc = await M3Encoder.load({ modelPath: modelDir, variant });
    try {
      const q = await enc.encode(pairs.slice(0, 16).map((p) => p.query));
      const d = await enc.encode(pairs.slice(0, 16).map((p) => p.positive));
      expect(q[0]!.dense!.length).toBe(32);
      expect(q[0]!.colbert!.dim).toBe(32);
      let top1 = 0;
      q.forEach((qe, i) => {
        const s = d.map((de) => denseScore(qe.dense!, de.dense!));
        if (s.indexOf(Math.max(...s)) === i) top1++;
      });
      expect(top1).toBeGreaterThan(3); // chance: 1 of 16
    } finally {
      await enc.dispose();
    }
  }, 120_000);
});
