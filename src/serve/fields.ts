/** Strict checks of JSON request fields: unknown fields and wrong types are 400 INVALID_ARGUMENT naming the field. */
import { ErrorCodes, M3Error } from "../errors.js";
import { checkInt, describe } from "../util/validate.js";

export type Body = Record<string, unknown>;

/** Refuses fields outside `allowed` (a typo would otherwise be ignored silently). */
export function onlyFields(body: Body, allowed: readonly string[], endpoint: string): void {
  const unknown = Object.keys(body).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    throw new M3Error(
      ErrorCodes.INVALID_ARGUMENT,
      `${endpoint} does not take the field(s) ${unknown.slice(0, 5).map((k) => JSON.stringify(k.slice(0, 40))).join(", ")}; it takes ${allowed.join(", ")}.`,
    );
  }
}

/** `input`: a string or an array of strings (OpenAI's token-id arrays are refused). */
export function inputTexts(v: unknown, field = "input"): string[] {
  if (typeof v === "string") return [v];
  if (!Array.isArray(v)) throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `${field} must be a string or an array of strings; got ${describe(v)}.`);
  for (let i = 0; i < v.length; i++) {
    if (typeof v[i] !== "string") {
      const hint = typeof v[i] === "number" || Array.isArray(v[i]) ? " Token-id inputs are not supported: send the texts." : "";
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `${field}[${i}] must be a string; got ${describe(v[i])}.${hint}`);
    }
  }
  return v as string[];
}

export function optBool(v: unknown, field: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `${field} must be true or false; got ${describe(v)}.`);
  return v;
}

export function optInt(v: unknown, field: string, min: number, max: number): number | undefined {
  if (v === undefined || v === null) return undefined;
  return checkInt(field, v, min, max);
}

export function optString(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `${field} must be a string; got ${describe(v)}.`);
  return v;
}

export function requiredString(v: unknown, field: string): string {
  if (typeof v !== "string" || v.length === 0) throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `${field} must be a non-empty string; got ${describe(v)}.`);
  return v;
}

/** One of `choices` (or the default). */
export function oneOf<T extends string>(v: unknown, field: string, choices: readonly T[], def: T): T {
  if (v === undefined || v === null) return def;
  if (typeof v !== "string" || !choices.includes(v as T)) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `${field} must be one of ${choices.map((c) => JSON.stringify(c)).join(", ")}; got ${describe(v)}.`);
  }
  return v as T;
}

/** A plain JSON object (or undefined). */
export function optObject(v: unknown, field: string): Record<string, unknown> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "object" || Array.isArray(v)) throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `${field} must be an object; got ${describe(v)}.`);
  return v as Record<string, unknown>;
}

/** Float32 values as base64 of their little-endian bytes (what OpenAI's `encoding_format: "base64"` sends). */
export function float32Base64(v: Float32Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64");
}
