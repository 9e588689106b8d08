/**
 * Which execution providers the installed onnxruntime-node can give: the providers its binding
 * was compiled with (`listSupportedBackends()`), and for those not bundled in the npm package
 * (CUDA and TensorRT on Linux x64) whether the install script put their libraries next to it.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ErrorCodes, M3Error } from "../errors.js";
import type { ResolvedProvider } from "./providers.js";
import * as ort from "onnxruntime-node";

export interface ProviderSupport {
  name: string;
  /** Its libraries ship inside the npm package. */
  bundled: boolean;
  /**
   * The provider library is present (always true when bundled); undefined when the binding's
   * folder could not be located. A provider can be installed and still fail to start (no GPU,
   * driver or CUDA/cuDNN libraries): session creation then reports PROVIDER_UNAVAILABLE.
   */
  installed: boolean | undefined;
}

/** How to get the GPU providers of onnxruntime-node (npm skips them with ONNXRUNTIME_NODE_INSTALL=skip). */
export const CUDA_INSTALL_HINT =
  "onnxruntime-node downloads the CUDA and TensorRT provider libraries (NuGet package Microsoft.ML.OnnxRuntime.Gpu.Linux) " +
  "in its install script, which ONNXRUNTIME_NODE_INSTALL=skip (or ONNXRUNTIME_NODE_INSTALL_CUDA=skip) turns off. Run it again: " +
  "`ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node` (Linux x64; needs an NVIDIA driver, CUDA 12 and cuDNN 9 " +
  "on the machine, and TensorRT 10 for tensorrt).";

function hint(name: string): string {
  if (name === "cuda" || name === "tensorrt") return CUDA_INSTALL_HINT;
  if (name === "dml") return "DirectML is in onnxruntime-node's Windows builds only.";
  if (name === "coreml") return "CoreML is in onnxruntime-node's macOS builds only.";
  if (name === "webgpu") return "WebGPU (experimental) is in onnxruntime-node's Windows, macOS and Linux x64 builds.";
  return "";
}

/** The folder holding onnxruntime_binding.node (and the provider libraries), if found. */
function bindingFolder(): string | undefined {
  try {
    const here = typeof __filename === "string" ? __filename : fileURLToPath(import.meta.url);
    const entry = createRequire(here).resolve("onnxruntime-node");
    const dir = join(dirname(entry), "..", "bin", "napi-v6", process.platform, process.arch);
    return existsSync(dir) ? dir : undefined;
  } catch {
    return undefined;
  }
}

function libraryName(provider: string): string {
  if (process.platform === "win32") return `onnxruntime_providers_${provider}.dll`;
  return `libonnxruntime_providers_${provider}.${process.platform === "darwin" ? "dylib" : "so"}`;
}

let cached: ProviderSupport[] | undefined;

/** The providers of the installed onnxruntime-node (computed once per process). */
export function providerSupport(): ProviderSupport[] {
  if (cached !== undefined) return cached.map((s) => ({ ...s }));
  const listed = (ort as unknown as { listSupportedBackends?: () => Array<{ name: string; bundled: boolean }> }).listSupportedBackends?.() ?? [
    { name: "cpu", bundled: true },
  ];
  const dir = bindingFolder();
  cached = listed.map(({ name, bundled }) => ({
    name,
    bundled,
    installed: bundled ? true : dir === undefined ? undefined : existsSync(join(dir, libraryName(name))),
  }));
  return cached.map((s) => ({ ...s }));
}

/** The onnxruntime-node version (e.g. "1.30.0"). */
export function onnxruntimeVersion(): string {
  return String((ort.env.versions as Record<string, unknown>)["node"] ?? (ort.env.versions as Record<string, unknown>)["common"] ?? "unknown");
}

/**
 * Throws PROVIDER_UNAVAILABLE for the first requested provider the installed build cannot
 * give: not compiled in, or (for CUDA/TensorRT) its libraries not installed.
 */
export function checkProvidersAvailable(providers: readonly ResolvedProvider[], support = providerSupport()): void {
  const available = support.filter((s) => s.installed !== false).map((s) => s.name);
  for (const p of providers) {
    const s = support.find((x) => x.name === p.name);
    if (s === undefined) {
      throw new M3Error(
        ErrorCodes.PROVIDER_UNAVAILABLE,
        `Execution provider "${p.name}" is not in this onnxruntime-node build (${onnxruntimeVersion()} on ${process.platform}/${process.arch}); ` +
          `it has: ${available.join(", ")}. ${hint(p.name)}`.trim(),
        { details: { provider: p.name, available, platform: `${process.platform}/${process.arch}` } },
      );
    }
    if (s.installed === false) {
      throw new M3Error(
        ErrorCodes.PROVIDER_UNAVAILABLE,
        `Execution provider "${p.name}" is supported by this onnxruntime-node build but its library (${libraryName(p.name)}) is ` +
          `not installed; available now: ${available.join(", ")}. ${hint(p.name)}`,
        { details: { provider: p.name, available, platform: `${process.platform}/${process.arch}` } },
      );
    }
  }
}

/** The error for a provider that is installed but failed to start (onnxruntime's message attached). */
export function providerFailed(providers: readonly ResolvedProvider[], err: unknown): M3Error {
  const names = providers.map((p) => p.name).filter((n) => n !== "cpu");
  const available = providerSupport().filter((s) => s.installed !== false).map((s) => s.name);
  return new M3Error(
    ErrorCodes.PROVIDER_UNAVAILABLE,
    `onnxruntime could not start the execution provider${names.length > 1 ? "s" : ""} ${names.join(", ")} (the same model loads ` +
      `with the CPU provider): ${(err as Error).message}. Check that the device exists and its driver and runtime libraries are ` +
      `installed, or use executionProviders: ["cpu"]. ${names.some((n) => n === "cuda" || n === "tensorrt") ? CUDA_INSTALL_HINT : hint(names[0] ?? "")}`.trim(),
    { cause: err, details: { providers: names, available } },
  );
}
