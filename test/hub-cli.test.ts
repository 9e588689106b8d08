import { join } from "node:path";
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { progressLine, registerDownload } from "../src/cli/commands/download.js";
import { isM3Error } from "../src/errors.js";
import { useMockHub } from "./helpers/hub-env.js";

const env = useMockHub({ cachePrefix: "m3-hubcli-" });
const { hub } = env;

async function run(args: string[]): Promise<{ out: string; err: string; error?: unknown }> {
  let out = "";
  let err = "";
  const program = new Command().exitOverride();
  registerDownload(program, {
    stdout: { write: (s: string) => ((out += s), true) },
    stderr: { write: (s: string) => ((err += s), true), isTTY: false },
    endpoint: hub.url,
  });
  try {
    await program.parseAsync(["node", "m3", "download", ...args]);
    return { out, err };
  } catch (error) {
    return { out, err, error };
  }
}

describe("m3 download", () => {
  it("prints progress on stderr and the folder to load on stdout", async () => {
    const r = await run(["Xenova/bge-m3", "--variant", "int8", "--cache-dir", env.cache]);
    expect(r.error).toBeUndefined();
    expect(r.out.trim().startsWith(join(env.cache, "models--Xenova--bge-m3", "langchain-m3", "int8-"))).toBe(true);
    expect(r.out.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(/onnx\/model_quantized\.onnx {2}.* \/ .*%/);
    expect(r.err.trim().split("\n").at(-1)).toMatch(/ \/ .*100% {2}.*\/s {2}ETA 0:00$/);
  });

  it("--local-files-only without a cache fails with HUB_OFFLINE naming the command to run", async () => {
    const r = await run(["BAAI/bge-m3", "--local-files-only", "--cache-dir", env.cache]);
    expect(isM3Error(r.error, "HUB_OFFLINE")).toBe(true);
    expect((r.error as Error).message).toContain("m3 download BAAI/bge-m3");
    expect(r.out).toBe("");
  });

  it("rejects an unknown variant as a usage error", async () => {
    const r = await run(["--variant", "int4", "--cache-dir", env.cache]);
    expect((r.error as Error).name).toBe("UsageError");
  });

  it("formats a progress line with bytes, percent, rate and ETA", () => {
    const line = progressLine({ repo: "r", file: "onnx/model.onnx_data", fileBytes: 1, fileTotal: 2, bytes: 512 * 1024 * 1024, total: 2 * 1024 ** 3, rate: 10 * 1024 * 1024, etaSeconds: 153.6, fileDone: false });
    expect(line).toBe("onnx/model.onnx_data  512 MiB / 2.0 GiB  25%  10.0 MiB/s  ETA 2:34");
  });
});
