/**
 * The fuzz suite's tools: a seeded source of hostile values (bench/lib/rng.ts underneath), a
 * runner that bounds each case in time and classifies what came back, and a log that counts the
 * cases and keeps the ones that broke the contract ("a typed M3Error or a correct result").
 */
import { Rng } from "../../bench/lib/rng.js";
import { isM3Error } from "../../src/errors.js";

export { Rng };

export const pick = <T>(rng: Rng, items: readonly T[]): T => items[rng.int(0, items.length - 1)]!;
export const chance = (rng: Rng, p: number): boolean => rng.next() < p;

/** Strings a careless caller or an attacker passes. */
export function hostileString(rng: Rng): string {
  switch (rng.int(0, 11)) {
    case 0:
      return "";
    case 1:
      return " \t\n";
    case 2:
      return "\u0000".repeat(rng.int(1, 4));
    case 3:
      return "\ud800x\udfff"; // lone surrogates
    case 4:
      return "👩‍👩‍👧‍👦".repeat(rng.int(1, 50));
    case 5:
      return "../".repeat(rng.int(1, 6)) + "etc/passwd";
    case 6:
      return "a".repeat(rng.int(1000, 20_000));
    case 7:
      return pick(rng, ["NaN", "-1", "1e309", "0x10", "__proto__", "constructor", "null", "undefined", "%00", "C:\\x"]);
    case 8:
      return String.fromCharCode(...Array.from({ length: rng.int(1, 40) }, () => rng.int(0, 0xffff)));
    case 9:
      return Array.from({ length: rng.int(1, 30) }, () => pick(rng, ["the", "cat", "Qubit", "мир", "東京", "🙂", "-", "##", "<s>", "</s>"])).join(" ");
    case 10:
      return `${rng.int(-5, 5)}`;
    default:
      return Array.from({ length: rng.int(1, 12) }, () => String.fromCharCode(rng.int(32, 126))).join("");
  }
}

/** Any value: every JS type, edge numbers, odd objects. Never a throwing getter or Proxy (a caller's own exception is not ours to type). */
export function hostileValue(rng: Rng, depth = 0): unknown {
  switch (rng.int(0, 21)) {
    case 0:
      return undefined;
    case 1:
      return null;
    case 2:
      return pick(rng, [NaN, Infinity, -Infinity, -0, 0, -1, 1.5, 2 ** 31, 2 ** 53, -(2 ** 53), Number.MAX_VALUE, Number.MIN_VALUE, 1e-300]);
    case 3:
      return rng.int(-10, 100);
    case 4:
    case 5:
      return hostileString(rng);
    case 6:
      return pick(rng, [true, false]);
    case 7:
      return BigInt(rng.int(-5, 5));
    case 8:
      return Symbol("fuzz");
    case 9:
      return () => 1;
    case 10:
      return [];
    case 11:
      // eslint-disable-next-line no-sparse-arrays
      return [1, , 3];
    case 12:
      return depth < 2 ? Array.from({ length: rng.int(1, 4) }, () => hostileValue(rng, depth + 1)) : [null];
    case 13:
      return {};
    case 14:
      return Object.create(null) as object;
    case 15: {
      const o: Record<string, unknown> = { a: 1 };
      o["self"] = o;
      return o;
    }
    case 16:
      return new Map([["k", 1]]);
    case 17:
      return pick(rng, [new Date(NaN), new Date(0), new Set([1]), /re/g, new Error("x")]);
    case 18:
      return pick(rng, [new Float32Array(3), new Uint8Array(0), Buffer.from("x"), new ArrayBuffer(4)]);
    case 19:
      return depth < 2 ? { [hostileString(rng)]: hostileValue(rng, depth + 1), n: hostileValue(rng, depth + 1) } : { x: 1 };
    case 20: {
      let v: unknown = { leaf: 1 };
      for (let i = 0; i < rng.int(30, 3000); i++) v = { a: v };
      return v;
    }
    default:
      return new (class Foo {
        x = 1;
      })();
  }
}

/** A short, safe description of any value (no JSON of cycles, no huge strings). */
export function show(v: unknown, depth = 0): string {
  if (typeof v === "string") return v.length > 30 ? `"${v.slice(0, 20)}…"(${v.length})` : JSON.stringify(v);
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "symbol" || typeof v === "function" || typeof v === "undefined") return String(typeof v === "function" ? "fn" : v);
  if (typeof v !== "object" || v === null) return Object.is(v, -0) ? "-0" : String(v);
  if (depth > 1) return "{…}";
  if (Array.isArray(v)) return `[${Array.from({ length: Math.min(v.length, 4) }, (_, i) => (i in v ? show(v[i], depth + 1) : "<hole>")).join(",")}${v.length > 4 ? ",…" : ""}]`;
  const name = (Object.getPrototypeOf(v) as { constructor?: { name?: string } } | null)?.constructor?.name ?? "null-proto";
  if (name !== "Object" && name !== "null-proto") return name;
  return `{${Object.keys(v).slice(0, 8).map((k) => `${k.slice(0, 14)}:${show((v as Record<string, unknown>)[k], depth + 1)}`).join(",")}}`;
}

export type Outcome =
  | { kind: "ok"; value: unknown }
  | { kind: "m3"; code: string; message: string }
  | { kind: "untyped"; error: unknown }
  | { kind: "timeout" };

/** Runs `fn` (sync throw or async), bounded by `timeoutMs`; classifies the outcome. */
export async function attempt(fn: () => unknown, timeoutMs: number, typed: (err: unknown) => boolean = (e) => isM3Error(e)): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve({ kind: "timeout" }), timeoutMs);
  });
  const run = (async (): Promise<Outcome> => {
    try {
      return { kind: "ok", value: await fn() };
    } catch (err) {
      if (typed(err)) return { kind: "m3", code: (err as { code?: string }).code ?? (err as Error).name ?? "error", message: (err as Error).message ?? "" };
      return { kind: "untyped", error: err };
    }
  })();
  try {
    return await Promise.race([run, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Counts cases per area and keeps every broken one with what was passed. */
export class FuzzLog {
  readonly counts = new Map<string, number>();
  readonly failures: string[] = [];
  readonly codes = new Map<string, number>();

  get total(): number {
    let n = 0;
    for (const c of this.counts.values()) n += c;
    return n;
  }

  /**
   * Records one case. `valid` checks a result that is not an error; it returns undefined when
   * the result is correct, else what is wrong with it.
   */
  record(area: string, input: string, o: Outcome, valid: (value: unknown) => string | undefined = () => undefined): void {
    this.counts.set(area, (this.counts.get(area) ?? 0) + 1);
    const fail = (why: string): void => void this.failures.push(`[${area}] ${input}: ${why}`);
    if (o.kind === "timeout") fail("no answer within the per-case timeout (hang)");
    else if (o.kind === "untyped") fail(`untyped ${(o.error as Error)?.name ?? typeof o.error}: ${String((o.error as Error)?.message ?? o.error).slice(0, 200)}`);
    else if (o.kind === "m3") this.codes.set(`${area}:${o.code}`, (this.codes.get(`${area}:${o.code}`) ?? 0) + 1);
    else {
      const why = valid(o.value);
      if (why !== undefined) fail(`wrong result: ${why}`);
      else this.codes.set(`${area}:ok`, (this.codes.get(`${area}:ok`) ?? 0) + 1);
    }
  }

  failuresOf(area: string): string[] {
    return this.failures.filter((f) => f.startsWith(`[${area}]`));
  }
}

/** Resident set size in MiB. */
export const rssMiB = (): number => process.memoryUsage().rss / (1024 * 1024);
