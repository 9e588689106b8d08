/**
 * onnxruntime execution providers: the names and provider options onnxruntime-node 1.30
 * accepts, their validation (pure, no onnxruntime import) and the resolved list a session is
 * created with. Availability in the installed build lives in `provider-support.ts`.
 */
import { ErrorCodes, M3Error } from "../errors.js";
import { describe } from "../util/validate.js";

/**
 * Provider names onnxruntime-node can be built with: `cpu` everywhere, `cuda` and `tensorrt`
 * on Linux x64, `dml` (DirectML) on Windows, `coreml` on macOS, `webgpu` (experimental) on
 * Windows, macOS and Linux x64.
 */
export const PROVIDER_NAMES = ["cpu", "cuda", "tensorrt", "dml", "coreml", "webgpu"] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

/** `{ name: "cpu" }`: no options (the Node binding reads none). */
export interface CpuProvider {
  name: "cpu";
}
/** A GPU provider chosen by device index: CUDA, TensorRT (Linux x64) or DirectML (Windows). */
export interface DeviceProvider {
  name: "cuda" | "tensorrt" | "dml";
  /** GPU index. @default 0 */
  deviceId?: number;
}
/** CoreML (macOS). */
export interface CoreMlProvider {
  name: "coreml";
  /** COREML_FLAG_* bits (1 CPU only, 2 enable on subgraph, 4 only with ANE, 8 static shapes, 16 ML program, 32 CPU and GPU). @default 0 */
  coreMlFlags?: number;
}
/** WebGPU (experimental): the keys the Node binding forwards to the provider. */
export interface WebGpuProvider {
  name: "webgpu";
  preferredLayout?: "NCHW" | "NHWC";
  validationMode?: string;
  storageBufferCacheMode?: string;
  uniformBufferCacheMode?: string;
  queryResolveBufferCacheMode?: string;
  defaultBufferCacheMode?: string;
  enableRobustness?: boolean;
  /** Node names to run on the CPU. */
  forceCpuNodeNames?: string[];
}

/** One entry of `executionProviders`: a name, or a name with its provider options. */
export type ExecutionProvider = ProviderName | CpuProvider | DeviceProvider | CoreMlProvider | WebGpuProvider;

/** A validated entry: always an object. */
export type ResolvedProvider = CpuProvider | (DeviceProvider & { deviceId: number }) | CoreMlProvider | WebGpuProvider;

/** The option keys each provider takes besides `name`, with a check of the value. */
const KEYS: Record<ProviderName, Record<string, (v: unknown) => string | undefined>> = {
  cpu: {},
  cuda: { deviceId: deviceIdCheck },
  tensorrt: { deviceId: deviceIdCheck },
  dml: { deviceId: deviceIdCheck },
  coreml: { coreMlFlags: (v) => (Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) < 1 << 16 ? undefined : "a non-negative integer (COREML_FLAG_* bits)") },
  webgpu: {
    preferredLayout: (v) => (v === "NCHW" || v === "NHWC" ? undefined : '"NCHW" or "NHWC"'),
    validationMode: str,
    storageBufferCacheMode: str,
    uniformBufferCacheMode: str,
    queryResolveBufferCacheMode: str,
    defaultBufferCacheMode: str,
    enableRobustness: (v) => (typeof v === "boolean" ? undefined : "a boolean"),
    forceCpuNodeNames: (v) => (Array.isArray(v) && v.every((x) => typeof x === "string") ? undefined : "an array of node names (strings)"),
  },
};

function deviceIdCheck(v: unknown): string | undefined {
  return Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= 255 ? undefined : "an integer from 0 to 255 (the GPU index)";
}
function str(v: unknown): string | undefined {
  return typeof v === "string" ? undefined : "a string";
}

const isName = (v: unknown): v is ProviderName => typeof v === "string" && (PROVIDER_NAMES as readonly string[]).includes(v);

function bad(message: string, details?: Record<string, unknown>): never {
  throw new M3Error(ErrorCodes.INVALID_ARGUMENT, message, details ? { details } : undefined);
}

/**
 * Validates `executionProviders` (names and provider options, INVALID_ARGUMENT otherwise) and
 * returns the list a session is created with: the caller's order, each entry an object, and
 * `cpu` appended when absent, so onnxruntime places every node the other providers cannot
 * run on the CPU (it assigns each node to the first listed provider that supports it).
 */
export function resolveProviders(value: unknown, option = "executionProviders"): ResolvedProvider[] {
  if (value === undefined) return [{ name: "cpu" }];
  if (!Array.isArray(value) || value.length === 0) {
    bad(`${option} must be a non-empty array such as ["cuda", "cpu"] or [{ name: "cuda", deviceId: 0 }]; got ${describe(value)}.`);
  }
  const out: ResolvedProvider[] = [];
  const seen = new Set<string>();
  (value as unknown[]).forEach((entry, i) => {
    const where = `${option}[${i}]`;
    const name: unknown = typeof entry === "object" && entry !== null ? (entry as { name?: unknown }).name : entry;
    if (!isName(name)) {
      const shape = typeof entry === "object" && entry !== null ? `an object whose name is ${describe(name)}` : describe(entry);
      bad(`${where} must be one of ${PROVIDER_NAMES.join(", ")} (or { name, ...provider options }); got ${shape}.`, { index: i });
    }
    if (seen.has(name)) bad(`${where}: "${name}" is listed twice; list each provider once, in order of preference.`, { index: i });
    seen.add(name);
    if (typeof entry === "string") {
      out.push(resolvedDefaults(name));
      return;
    }
    const obj = entry as Record<string, unknown>;
    const checks = KEYS[name];
    for (const [k, v] of Object.entries(obj)) {
      if (k === "name" || v === undefined) continue;
      const check = checks[k];
      if (check === undefined) {
        const known = Object.keys(checks);
        bad(
          `${where}: "${name}" takes ${known.length ? `the options ${known.join(", ")}` : "no options"}; got an unknown option "${k}".`,
          { index: i, option: k },
        );
      }
      const want = check(v);
      if (want !== undefined) bad(`${where}.${k} must be ${want}; got ${describe(v)}.`, { index: i, option: k });
    }
    const copy = { ...obj, name } as unknown as ResolvedProvider;
    out.push("deviceId" in resolvedDefaults(name) ? ({ ...copy, deviceId: (obj.deviceId as number | undefined) ?? 0 } as ResolvedProvider) : copy);
  });
  if (!seen.has("cpu")) out.push({ name: "cpu" });
  return out;
}

function resolvedDefaults(name: ProviderName): ResolvedProvider {
  return name === "cuda" || name === "tensorrt" || name === "dml" ? { name, deviceId: 0 } : { name };
}

/** "cuda:0" for device providers, else the name: the device the session's first provider runs on. */
export function deviceLabel(p: ResolvedProvider): string {
  return "deviceId" in p && typeof p.deviceId === "number" ? `${p.name}:${p.deviceId}` : p.name;
}
