/**
 * The head fine-tuning loss and its hand-written gradient against torch autograd: the
 * committed golden file (scripts/fixtures/make_finetune_golden.py), and, where
 * /usr/bin/python3 has torch, a fresh oracle run on another seed.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runBatch } from "../src/finetune/batch.js";
import type { HeadParams } from "../src/finetune/heads.js";
import { zerosLike } from "../src/finetune/heads.js";
import { MODES, type LossConfig } from "../src/finetune/loss.js";

interface GoldenCase {
  seed: number;
  hidden: number;
  drop: number[];
  config: LossConfig;
  texts: Array<{ ids: number[]; x: number[] }>;
  queries: number[];
  candidates: number[];
  labels: number[];
  params: Record<"sparseWeight" | "sparseBias" | "colbertWeight" | "colbertBias", number[]>;
  loss: number;
  modes: Record<string, { infoNce: number; distill: number; correct: number }>;
  grad: Record<"sparseWeight" | "sparseBias" | "colbertWeight" | "colbertBias", number[]>;
}

const GOLDEN = "test/fixtures/golden/finetune-grad.json";
const KEYS = ["sparseWeight", "sparseBias", "colbertWeight", "colbertBias"] as const;

function check(c: GoldenCase): void {
  const p: HeadParams = {
    hidden: c.hidden,
    sparseWeight: Float64Array.from(c.params.sparseWeight),
    sparseBias: Float64Array.from(c.params.sparseBias),
    colbertWeight: Float64Array.from(c.params.colbertWeight),
    colbertBias: Float64Array.from(c.params.colbertBias),
  };
  const texts = c.texts.map((t) => ({ ids: Int32Array.from(t.ids), x: Float32Array.from(t.x) }));
  const g = zerosLike(p);
  const res = runBatch(p, { queries: c.queries, candidates: c.candidates, labels: Int32Array.from(c.labels) }, (i) => texts[i]!, new Set(c.drop), c.config, g);
  // The oracle works on float64 hidden states, these are float32 copies: agreement to ~1e-6 relative.
  expect(Math.abs(res.loss - c.loss)).toBeLessThan(1e-4 * Math.max(1, Math.abs(c.loss)));
  for (const m of MODES) {
    expect(res.modes[m].infoNce).toBeCloseTo(c.modes[m]!.infoNce, 4);
    expect(res.modes[m].distill).toBeCloseTo(c.modes[m]!.distill, 4);
    expect(res.modes[m].correct).toBe(c.modes[m]!.correct);
  }
  for (const k of KEYS) {
    const want = c.grad[k];
    const got = g[k];
    expect(got.length).toBe(want.length);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    const scale = Math.max(1, ...want.map(Math.abs));
    expect(worst / scale, `${k}: max |grad - torch grad|`).toBeLessThan(1e-4);
    // Not a vacuous comparison: the torch gradient has entries well away from zero.
    expect(Math.max(...want.map(Math.abs))).toBeGreaterThan(1e-3);
  }
}

const golden = JSON.parse(readFileSync(GOLDEN, "utf8")) as { cases: GoldenCase[] };

describe("fine-tuning gradient vs torch autograd", () => {
  it.each(golden.cases.map((c, i) => [i, c] as const))("golden case %i", (_i, c) => check(c));

  const python = "/usr/bin/python3";
  let hasTorch = false;
  try {
    execFileSync(python, ["-c", "import torch"], { stdio: "ignore" });
    hasTorch = true;
  } catch {
    hasTorch = false;
  }
  it.skipIf(!hasTorch)("a fresh oracle run on another seed", () => {
    const dir = mkdtempSync(join(tmpdir(), "m3-ft-grad-"));
    try {
      const out = join(dir, "g.json");
      const seed = 1000 + (Date.now() % 9000);
      execFileSync(python, ["scripts/fixtures/make_finetune_golden.py", "--out", out, "--seed", String(seed)], { stdio: "pipe" });
      const fresh = JSON.parse(readFileSync(out, "utf8")) as { cases: GoldenCase[] };
      for (const c of fresh.cases) check(c);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
