/**
 * Training pairs: JSONL, one object a line,
 * `{"query": string, "positive": string, "negatives"?: string[], "lang"?: string, "page"?: string}`.
 * Blank lines are skipped; a UTF-8 byte-order mark at the start is allowed. Everything else
 * that is off -> PAIRS_INVALID naming the line and what to do.
 */
import { readFile } from "node:fs/promises";
import { ErrorCodes, M3Error } from "../errors.js";

export interface TrainingPair {
  query: string;
  positive: string;
  negatives?: string[];
  lang?: string;
  /** Pairs of one page stay on one side of the held-out split. */
  page?: string;
}

/** A pair as read, with the line it came from (1-based). */
export interface ReadPair extends TrainingPair {
  line: number;
}

/** Largest pairs file read (its texts are kept in memory and encoded). */
export const MAX_PAIRS_BYTES = 1024 * 1024 * 1024;

const KNOWN = new Set(["query", "positive", "negatives", "lang", "page"]);

function bad(where: string, what: string, details: Record<string, unknown>): M3Error {
  return new M3Error(ErrorCodes.PAIRS_INVALID, `${where}: ${what}`, { details });
}

/** Reads and checks a pairs file. */
export async function readPairsFile(path: string): Promise<ReadPair[]> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new M3Error(
      code === "ENOENT" ? ErrorCodes.NOT_FOUND : ErrorCodes.IO_ERROR,
      `Cannot read the pairs file ${path} (${code ?? (err as Error).message}); give the path of a JSONL file with one {"query", "positive"} object a line.`,
      { cause: err, details: { file: path } },
    );
  }
  if (bytes.length > MAX_PAIRS_BYTES) {
    throw bad(path, `${bytes.length} bytes, more than the ${MAX_PAIRS_BYTES} a pairs file may have; split it or sample it.`, { file: path });
  }
  return parsePairs(bytes, path);
}

/** Checks the bytes of a pairs file; `name` is used in messages. */
export function parsePairs(bytes: Uint8Array, name: string): ReadPair[] {
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  const out: ReadPair[] = [];
  const seen = new Map<string, number>();
  let start = 0;
  let line = 0;
  while (start < bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    line++;
    const where = `${name} line ${line}`;
    let text: string;
    try {
      text = decoder.decode(bytes.subarray(start, end));
    } catch {
      throw bad(where, "is not valid UTF-8. Save the file as UTF-8 (e.g. iconv -f LATIN1 -t UTF-8).", { file: name, line });
    }
    start = end + 1;
    if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.trim() === "") continue;
    const pair = checkPair(text, where, { file: name, line });
    const key = JSON.stringify([pair.query, pair.positive]);
    const first = seen.get(key);
    if (first !== undefined) {
      throw bad(where, `repeats the query and positive of line ${first}. Remove the duplicate (a pair counted twice weighs twice and may land on both sides of the held-out split).`, {
        file: name,
        line,
        duplicateOf: first,
      });
    }
    seen.set(key, line);
    out.push({ ...pair, line });
  }
  return out;
}

function checkPair(text: string, where: string, details: Record<string, unknown>): TrainingPair {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw bad(where, `is not JSON (${(err as Error).message}). Each line must be one object such as {"query": "...", "positive": "..."}.`, details);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw bad(where, `is ${Array.isArray(v) ? "an array" : typeof v}, not an object. Each line must be one object such as {"query": "...", "positive": "..."}.`, details);
  }
  const o = v as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !KNOWN.has(k));
  if (unknown.length > 0) {
    throw bad(where, `has unknown field${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}; the fields are query, positive, negatives, lang, page.`, { ...details, fields: unknown });
  }
  const text1 = (field: string): string => {
    const s = o[field];
    if (s === undefined) throw bad(where, `has no "${field}". Give it as a non-empty string.`, { ...details, field });
    if (typeof s !== "string") throw bad(where, `"${field}" is ${typeof s}; it must be a string.`, { ...details, field });
    if (s.trim() === "") throw bad(where, `"${field}" is empty. Drop the line or give the text.`, { ...details, field });
    return s;
  };
  const pair: TrainingPair = { query: text1("query"), positive: text1("positive") };
  if (o.negatives !== undefined) {
    if (!Array.isArray(o.negatives)) throw bad(where, `"negatives" must be an array of strings.`, { ...details, field: "negatives" });
    o.negatives.forEach((n, i) => {
      if (typeof n !== "string" || n.trim() === "") {
        throw bad(where, `negatives[${i}] is ${typeof n === "string" ? "empty" : typeof n}; every negative must be a non-empty string.`, { ...details, field: "negatives" });
      }
      if (n === pair.positive) throw bad(where, `negatives[${i}] is the positive itself; remove it.`, { ...details, field: "negatives" });
    });
    pair.negatives = o.negatives as string[];
  }
  for (const f of ["lang", "page"] as const) {
    const s = o[f];
    if (s === undefined) continue;
    if (typeof s !== "string") throw bad(where, `"${f}" is ${typeof s}; it must be a string when given.`, { ...details, field: f });
    pair[f] = s;
  }
  return pair;
}
