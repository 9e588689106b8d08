import { ErrorCodes, M3Error } from "../errors.js";

/** Checks that `value` is a finite integer in [min, max]; returns it. `name` is the option's name for the message. */
export function checkInt(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new M3Error(
      ErrorCodes.OUT_OF_RANGE,
      `${name} must be an integer from ${min} to ${max}; got ${describe(value)}.`,
      { details: { name, value, min, max } },
    );
  }
  return value;
}

/** Checks that `value` is a finite number in [min, max]; returns it. */
export function checkNumber(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
    throw new M3Error(
      ErrorCodes.OUT_OF_RANGE,
      `${name} must be a finite number from ${min} to ${max}; got ${describe(value)}.`,
      { details: { name, value, min, max } },
    );
  }
  return value;
}

/** Checks that `texts` is an array of strings (each may be empty); returns it. */
export function checkTexts(name: string, texts: unknown): string[] {
  if (!Array.isArray(texts)) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `${name} must be an array of strings; got ${describe(texts)}.`);
  }
  // A plain loop, not forEach: forEach skips the holes of a sparse array (["a", , "b"]).
  for (let i = 0; i < texts.length; i++) {
    const t: unknown = texts[i];
    if (typeof t !== "string") {
      throw new M3Error(
        ErrorCodes.INVALID_ARGUMENT,
        `${name}[${i}] must be a string; got ${i in texts ? describe(t) : "a hole (an empty slot of a sparse array)"}. Convert or drop non-string entries before encoding.`,
        { details: { index: i } },
      );
    }
  }
  return texts as string[];
}

/** A short human description of a value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (typeof value === "number") return Number.isNaN(value) ? "NaN" : String(value);
  if (typeof value === "string") return value.length > 40 ? `a string of ${value.length} chars` : JSON.stringify(value);
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} of length ${(value as unknown as { length: number }).length}`;
  return `a value of type ${typeof value}`;
}
