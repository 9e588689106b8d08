/** Parsing and checking of option values; a bad value is a UsageError (exit 2). */
import { PROVIDER_NAMES, type ExecutionProvider, type ProviderName } from "../encode/providers.js";
import { UsageError } from "./exit.js";

export function parseIntOption(name: string, raw: string | undefined, min: number, max: number, fallback: number): number {
  return parseBounded(name, raw, min, max, fallback, /^-?\d+$/, "an integer");
}

/** A decimal number such as "0.5" or "300" within [min, max]. */
export function parseNumberOption(name: string, raw: string | undefined, min: number, max: number, fallback: number): number {
  return parseBounded(name, raw, min, max, fallback, /^\d+(\.\d+)?$/, "a number");
}

/** `raw` (trimmed) must match `syntax` and lie in [min, max]; `fallback` when the option is absent. */
function parseBounded(name: string, raw: string | undefined, min: number, max: number, fallback: number, syntax: RegExp, what: string): number {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!syntax.test(raw.trim()) || !Number.isFinite(v) || v < min || v > max) {
    throw new UsageError(`${name} must be ${what} from ${min} to ${max}; got "${raw}"`);
  }
  return v;
}

export interface Weights {
  dense: number;
  sparse: number;
  colbert: number;
}

/** "0.4,0.2,0.4" -> weights of dense, sparse, colbert. */
export function parseWeights(raw: string | undefined, fallback: Weights): Weights {
  if (raw === undefined) return { ...fallback };
  const parts = raw.split(",").map((s) => s.trim());
  const nums = parts.map(Number);
  if (parts.length !== 3 || parts.some((p) => p === "") || nums.some((n) => !Number.isFinite(n) || n < 0) || nums.every((n) => n === 0)) {
    throw new UsageError(`--weights must be three non-negative numbers "dense,sparse,colbert" (not all 0), e.g. 0.4,0.2,0.4; got "${raw}"`);
  }
  return { dense: nums[0]!, sparse: nums[1]!, colbert: nums[2]! };
}

/** The retrieval modes a query scores. */
export type Mode = "dense" | "sparse" | "colbert";
const MODE_NAMES: readonly Mode[] = ["dense", "sparse", "colbert"];

/**
 * `--mode`: "hybrid" (or "all") = dense+sparse+colbert, or any "+"-joined subset such as
 * "dense", "sparse", "colbert", "dense+sparse".
 */
export function parseModes(raw: string | undefined): Mode[] {
  if (raw === undefined) return [...MODE_NAMES];
  const s = raw.trim().toLowerCase();
  if (s === "hybrid" || s === "all") return [...MODE_NAMES];
  const parts = s.split(/[+,]/).map((p) => p.trim());
  if (parts.length === 0 || parts.some((p) => !MODE_NAMES.includes(p as Mode))) {
    throw new UsageError(`--mode must be hybrid, dense, sparse, colbert or a "+"-joined subset like dense+sparse; got "${raw}"`);
  }
  return MODE_NAMES.filter((m) => parts.includes(m));
}

/**
 * `--provider`: comma-separated execution providers in order of preference, each a name or
 * `name:deviceId` for cuda, tensorrt and dml, e.g. "cuda:1,cpu". Undefined when absent.
 */
export function parseProviders(raw: string | undefined): ExecutionProvider[] | undefined {
  if (raw === undefined) return undefined;
  const out: ExecutionProvider[] = [];
  for (const part of raw.split(",").map((p) => p.trim().toLowerCase())) {
    const m = /^([a-z]+)(?::(\d{1,3}))?$/.exec(part);
    const name = m?.[1] as ProviderName | undefined;
    if (m === null || name === undefined || !PROVIDER_NAMES.includes(name) || (m[2] !== undefined && !["cuda", "tensorrt", "dml"].includes(name))) {
      throw new UsageError(
        `--provider must be a comma-separated list of ${PROVIDER_NAMES.join(", ")} (cuda, tensorrt and dml may take a device: cuda:1); got "${raw}"`,
      );
    }
    out.push(m[2] === undefined ? name : ({ name, deviceId: Number(m[2]) } as ExecutionProvider));
  }
  return out;
}
