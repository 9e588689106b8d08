/**
 * Execution providers on the CPU build: option validation (names, provider options, both
 * spellings), the CPU fallback order, what the installed onnxruntime-node lists, and the
 * PROVIDER_UNAVAILABLE errors for providers it cannot give (never MODEL_INVALID).
 */
import { copyFileSync, mkdtempSync, writeFileSync, cpSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { describe, expect, it, vi } from "vitest";
import { M3Encoder } from "../src/encode/encoder.js";
import { checkProvidersAvailable, providerSupport, type ProviderSupport } from "../src/encode/provider-support.js";
import { resolveProviders } from "../src/encode/providers.js";
import { createOrtRowScorer } from "../src/multivector/maxsim/row-scorer.js";
import { resolveEncoderOptions } from "../src/encode/options.js";
import { INT8_DISABLED_OPTIMIZERS, sessionOptions } from "../src/encode/session.js";
import { isM3Error, type ErrorCode } from "../src/errors.js";

vi.setConfig({ testTimeout: 60_000 });

const TINY = join(import.meta.dirname, "fixtures/models/encoder-only");

function codeOf(fn: () => unknown): ErrorCode | undefined {
  try {
    fn();
  } catch (e) {
    if (isM3Error(e)) return e.code;
    throw e;
  }
  return undefined;
}

async function failure(p: Promise<unknown>): Promise<Error & { code: ErrorCode }> {
  try {
    await p;
  } catch (e) {
    if (isM3Error(e)) return e as Error & { code: ErrorCode };
    throw e;
  }
  throw new Error("expected a rejection");
}

describe("executionProviders: validation and fallback order", () => {
  it("defaults to the CPU; names become objects; cpu is appended last when absent", () => {
    expect(resolveProviders(undefined)).toEqual([{ name: "cpu" }]);
    expect(resolveProviders(["cuda"])).toEqual([{ name: "cuda", deviceId: 0 }, { name: "cpu" }]);
    expect(resolveProviders([{ name: "tensorrt", deviceId: 2 }, "cuda"])).toEqual([
      { name: "tensorrt", deviceId: 2 },
      { name: "cuda", deviceId: 0 },
      { name: "cpu" },
    ]);
    expect(resolveProviders(["cpu", "webgpu"])).toEqual([{ name: "cpu" }, { name: "webgpu" }]);
    expect(resolveProviders([{ name: "coreml", coreMlFlags: 1 }])).toEqual([{ name: "coreml", coreMlFlags: 1 }, { name: "cpu" }]);
    expect(resolveProviders([{ name: "webgpu", preferredLayout: "NHWC", forceCpuNodeNames: ["a"] }])[0]).toEqual({
      name: "webgpu",
      preferredLayout: "NHWC",
      forceCpuNodeNames: ["a"],
    });
  });

  it("does not mutate the caller's list or objects", () => {
    const entry = { name: "cuda" as const };
    const list = [entry];
    resolveProviders(list);
    expect(list).toEqual([{ name: "cuda" }]);
    expect(entry).toEqual({ name: "cuda" });
  });

  it.each([
    ["not an array", "cuda"],
    ["an empty list", []],
    ["an unknown name", ["gpu"]],
    ["a wrong-case name", ["CUDA"]],
    ["an object without a name", [{ deviceId: 0 }]],
    ["null", [null]],
    ["a duplicate", ["cuda", { name: "cuda", deviceId: 1 }]],
    ["deviceId as a string", [{ name: "cuda", deviceId: "0" }]],
    ["a negative deviceId", [{ name: "dml", deviceId: -1 }]],
    ["a fractional deviceId", [{ name: "tensorrt", deviceId: 0.5 }]],
    ["an option the provider does not take", [{ name: "cuda", gpuMemLimit: 1 }]],
    ["options on cpu", [{ name: "cpu", useArena: true }]],
    ["coreMlFlags not an integer", [{ name: "coreml", coreMlFlags: "1" }]],
    ["a bad webgpu layout", [{ name: "webgpu", preferredLayout: "nchw" }]],
    ["forceCpuNodeNames not strings", [{ name: "webgpu", forceCpuNodeNames: [1] }]],
    ["enableRobustness not a boolean", [{ name: "webgpu", enableRobustness: "yes" }]],
  ])("%s -> INVALID_ARGUMENT", (_label, value) => {
    expect(codeOf(() => resolveProviders(value))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => new M3Encoder({ modelPath: TINY, executionProviders: value as never }))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => createOrtRowScorer({ executionProviders: value as never }))).toBe("INVALID_ARGUMENT");
  });

  it("messages name the entry, what is accepted and what arrived", () => {
    expect(() => resolveProviders(["gpu"])).toThrow(/executionProviders\[0\] must be one of cpu, cuda, tensorrt, dml, coreml, webgpu.*got "gpu"/);
    expect(() => resolveProviders([{ name: "cuda", deviceId: "0" }])).toThrow(/executionProviders\[0\]\.deviceId must be an integer from 0 to 255.*got "0"/);
    expect(() => resolveProviders([{ name: "cuda", foo: 1 }])).toThrow(/"cuda" takes the options deviceId; got an unknown option "foo"/);
  });

  it("sessionOptions.executionProviders is validated the same way; giving both is refused", () => {
    expect(codeOf(() => new M3Encoder({ modelPath: TINY, sessionOptions: { executionProviders: ["nope"] } }))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => new M3Encoder({ modelPath: TINY, executionProviders: ["cpu"], sessionOptions: { executionProviders: ["cpu"] } }))).toBe(
      "INVALID_ARGUMENT",
    );
  });

  it("an explicit CPU list loads and encodes; info reports the providers and the device", async () => {
    const e = await M3Encoder.load({ modelPath: TINY, executionProviders: ["cpu"], intraOpNumThreads: 1 });
    try {
      expect(e.info).toMatchObject({ executionProviders: ["cpu"], device: "cpu" });
      const [r] = await e.encode(["hello world"]);
      expect(r!.dense!.length).toBe(e.info!.hiddenSize);
    } finally {
      await e.dispose();
    }
  });
});

describe("session options", () => {
  it("providers last (the caller's sessionOptions cannot bypass the validated list); int8 turns off the SkipLayerNorm fusion unless overridden", () => {
    const fp32 = sessionOptions(resolveEncoderOptions({ modelPath: TINY, executionProviders: ["cpu"], sessionOptions: { logSeverityLevel: 3 } }));
    expect(fp32).toMatchObject({ executionProviders: [{ name: "cpu" }], logSeverityLevel: 3 });
    expect(fp32.extra).toBeUndefined();
    const int8 = sessionOptions(resolveEncoderOptions({ modelPath: TINY, variant: "int8" }));
    expect(int8.extra).toEqual({ "optimization.disable_specified_optimizers": INT8_DISABLED_OPTIMIZERS });
    const own = sessionOptions(resolveEncoderOptions({ modelPath: TINY, variant: "int8", sessionOptions: { extra: { "optimization.disable_specified_optimizers": "" } } }));
    expect(own.extra).toEqual({ "optimization.disable_specified_optimizers": "" });
  });
});

describe("what the installed onnxruntime-node can give", () => {
  it("lists what the binding lists, cpu bundled and installed", () => {
    const support = providerSupport();
    const listed = (ort as unknown as { listSupportedBackends: () => Array<{ name: string; bundled: boolean }> }).listSupportedBackends();
    expect(support.map((s) => s.name)).toEqual(listed.map((b) => b.name));
    expect(support.find((s) => s.name === "cpu")).toEqual({ name: "cpu", bundled: true, installed: true });
    for (const s of support) if (s.bundled) expect(s.installed).toBe(true);
  });

  const fake: ProviderSupport[] = [
    { name: "cpu", bundled: true, installed: true },
    { name: "cuda", bundled: false, installed: false },
  ];

  it("a provider not compiled in -> PROVIDER_UNAVAILABLE saying what was asked and what there is", () => {
    const e = (() => {
      try {
        checkProvidersAvailable(resolveProviders(["coreml"]), fake);
      } catch (err) {
        return err as Error & { code: string; details: Record<string, unknown> };
      }
      throw new Error("expected a throw");
    })();
    expect(e.code).toBe("PROVIDER_UNAVAILABLE");
    expect(e.message).toMatch(/"coreml" is not in this onnxruntime-node build/);
    expect(e.message).toMatch(/it has: cpu\./);
    expect(e.message).toMatch(/macOS builds only/);
    expect(e.details).toMatchObject({ provider: "coreml", available: ["cpu"] });
  });

  it("a listed provider whose libraries are missing -> PROVIDER_UNAVAILABLE with the install step", () => {
    expect(() => checkProvidersAvailable(resolveProviders(["cuda"]), fake)).toThrow(
      /"cuda" is supported by this onnxruntime-node build but its library \(.*onnxruntime_providers_cuda.*\) is not installed; available now: cpu\..*ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node/s,
    );
    expect(codeOf(() => checkProvidersAvailable(resolveProviders(["cuda"]), fake))).toBe("PROVIDER_UNAVAILABLE");
    expect(codeOf(() => checkProvidersAvailable(resolveProviders(["cpu"]), fake))).toBeUndefined();
  });

  const support = providerSupport();
  const cuda = support.find((s) => s.name === "cuda");

  it.runIf(cuda === undefined || cuda.installed === false)("cuda here -> PROVIDER_UNAVAILABLE at load, not MODEL_INVALID", async () => {
    const e = await failure(M3Encoder.load({ modelPath: TINY, executionProviders: ["cuda", "cpu"], intraOpNumThreads: 1 }));
    expect(e.code).toBe("PROVIDER_UNAVAILABLE");
    expect(e.message).toMatch(/"cuda"/);
    expect(e.message).not.toMatch(/corrupt/);
  });

  it.runIf(!support.some((s) => s.name === "dml"))("dml (a Windows provider) here -> PROVIDER_UNAVAILABLE listing the available ones", async () => {
    const e = await failure(M3Encoder.load({ modelPath: TINY, executionProviders: [{ name: "dml", deviceId: 0 }] }));
    expect(e.code).toBe("PROVIDER_UNAVAILABLE");
    expect(e.message).toMatch(/it has: cpu/);
  });

  it.runIf(support.some((s) => s.name === "webgpu"))("webgpu: loads where a device exists, else PROVIDER_UNAVAILABLE (the model itself is fine)", async () => {
    try {
      const e = await M3Encoder.load({ modelPath: TINY, executionProviders: ["webgpu"], intraOpNumThreads: 1 });
      expect(e.info).toMatchObject({ executionProviders: ["webgpu", "cpu"], device: "webgpu" });
      await e.dispose();
    } catch (err) {
      expect(isM3Error(err, "PROVIDER_UNAVAILABLE")).toBe(true);
      expect((err as Error).message).toMatch(/could not start the execution provider webgpu \(the same model loads with the CPU provider\)/);
    }
  });

  it.runIf(support.some((s) => s.name === "webgpu"))("a corrupt graph with a GPU provider is still MODEL_INVALID", async () => {
    const dir = mkdtempSync(join(tmpdir(), "m3-ep-"));
    cpSync(TINY, dir, { recursive: true });
    writeFileSync(join(dir, "onnx", "model.onnx"), Buffer.from("not a protobuf at all"));
    copyFileSync(join(TINY, "tokenizer.json"), join(dir, "tokenizer.json"));
    const e = await failure(M3Encoder.load({ modelPath: dir, executionProviders: ["webgpu"] }));
    expect(e.code).toBe("MODEL_INVALID");
  });

  it.runIf(!support.some((s) => s.name === "dml"))("the rerank kernel's scorer reports PROVIDER_UNAVAILABLE on its first score", async () => {
    const scorer = createOrtRowScorer({ executionProviders: ["dml"], intraOpNumThreads: 1 });
    const q = new Float32Array([1, 0]);
    const e = await failure(scorer.score(q, 1, { type: "float32", data: new Float32Array([1, 0, 0, 1]), rows: 2, dim: 2 }));
    expect(e.code).toBe("PROVIDER_UNAVAILABLE");
    await scorer.release();
  });

  it("the rerank kernel's scorer on an explicit CPU list scores", async () => {
    const scorer = createOrtRowScorer({ executionProviders: [{ name: "cpu" }], intraOpNumThreads: 1 });
    const s = await scorer.score(new Float32Array([1, 2]), 1, { type: "float32", data: new Float32Array([1, 0, 0, 1]), rows: 2, dim: 2 });
    expect(Array.from(s)).toEqual([1, 2]);
    await scorer.release();
  });
});
