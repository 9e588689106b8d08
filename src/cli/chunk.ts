/**
 * Turns one input file into documents: .txt and .md files are split with LangChain's
 * RecursiveCharacterTextSplitter (Markdown-aware for .md), measuring chunk size in tokens of
 * the model's tokenizer; each .jsonl line is one document (`text`, optional `id` and
 * `metadata`), split the same way only when it is longer than a chunk.
 */
import { RecursiveCharacterTextSplitter } from "@langchain/textsplitters";
import type { FoundFile } from "./files.js";

/** A document ready to be encoded. */
export interface SourceDoc {
  id: string;
  text: string;
  metadata: Record<string, unknown>;
}

export interface ChunkOptions {
  /** Chunk size in tokens (content tokens, without `<s>` and `</s>`). */
  chunkSize: number;
  /** Overlap between consecutive chunks, in tokens. */
  chunkOverlap: number;
  /** Number of content tokens of a text. */
  countTokens: (text: string) => Promise<number>;
  /** The same for many texts in one call (primes the splitter's length cache). @default one countTokens call per text */
  countTokensBatch?: (texts: string[]) => Promise<number[]>;
}

/** Above this many characters a text is cut at paragraph boundaries first, so the splitter works on bounded pieces. */
const WINDOW_CHARS = 1 << 18;

/** Documents cut from one part of a file, with the UTF-8 bytes of that part (for progress). */
export interface DocBatch {
  docs: SourceDoc[];
  bytes: number;
}

/**
 * Documents of one file, a window at a time (a long text file is cut at paragraph boundaries
 * into windows of about 256K characters, so memory stays bounded and progress moves while a
 * large file is split). `source` is the file's stable name (used in ids and metadata); `warn`
 * receives one line per skipped .jsonl record.
 */
export async function* documentsOf(
  file: FoundFile,
  source: string,
  text: string,
  opts: ChunkOptions,
  warn: (msg: string) => void,
): AsyncGenerator<DocBatch> {
  if (file.kind === "jsonl") {
    yield { docs: await jsonlDocuments(source, text, opts, warn), bytes: Buffer.byteLength(text) };
    return;
  }
  const { splitter, prime } = makeSplitter(file.kind === "markdown", opts);
  let n = 0;
  for (const window of windows(text)) {
    await prime(window);
    const docs: SourceDoc[] = [];
    for (const c of await splitter.splitText(window)) {
      if (c.trim() === "") continue;
      docs.push({ id: `${source}#${n}`, text: c, metadata: { source, chunk: n } });
      n++;
    }
    yield { docs, bytes: Buffer.byteLength(window) };
  }
}

/**
 * The splitter, with a token-count cache as its length function, and `prime(text)` which counts
 * the pieces of the splitter's first cut of `text` in one batch call (the splitter itself asks
 * for one length at a time, which is slow over a native binding for a long file).
 */
function makeSplitter(markdown: boolean, opts: ChunkOptions): { splitter: RecursiveCharacterTextSplitter; prime: (text: string) => Promise<void> } {
  const cache = new Map<string, number>();
  const lengthFunction = async (s: string): Promise<number> => {
    const hit = cache.get(s);
    if (hit !== undefined) return hit;
    const n = await opts.countTokens(s);
    if (cache.size > 50_000) cache.clear();
    cache.set(s, n);
    return n;
  };
  const fields = { chunkSize: opts.chunkSize, chunkOverlap: opts.chunkOverlap, lengthFunction };
  const splitter = markdown ? RecursiveCharacterTextSplitter.fromLanguage("markdown", fields) : new RecursiveCharacterTextSplitter(fields);
  const prime = async (text: string): Promise<void> => {
    if (!opts.countTokensBatch) return;
    const pieces = firstCut(text, splitter.separators).filter((p) => !cache.has(p));
    if (cache.size + pieces.length > 50_000) cache.clear();
    for (let i = 0; i < pieces.length; i += 512) {
      const part = pieces.slice(i, i + 512);
      const counts = await opts.countTokensBatch(part);
      part.forEach((p, j) => cache.set(p, counts[j]!));
    }
  };
  return { splitter, prime };
}

/** The pieces RecursiveCharacterTextSplitter (keepSeparator = true) cuts `text` into first. */
function firstCut(text: string, separators: string[]): string[] {
  const sep = separators.find((s) => s === "" || text.includes(s)) ?? "";
  if (sep === "") return [];
  const escaped = sep.replace(/[/\-\\^$*+?.()|[\]{}]/g, "\\$&");
  return text.split(new RegExp(`(?=${escaped})`)).filter((s) => s !== "");
}

/** Cuts a long text into windows of about WINDOW_CHARS, at a blank line (or line end) when there is one. */
export function* windows(text: string, size = WINDOW_CHARS): Generator<string> {
  let start = 0;
  while (text.length - start > size) {
    const limit = start + size;
    let cut = text.lastIndexOf("\n\n", limit);
    if (cut <= start) cut = text.lastIndexOf("\n", limit);
    if (cut <= start) cut = text.lastIndexOf(" ", limit);
    if (cut <= start) cut = limit;
    yield text.slice(start, cut);
    start = cut;
  }
  if (start < text.length) yield text.slice(start);
}

async function jsonlDocuments(source: string, text: string, opts: ChunkOptions, warn: (msg: string) => void): Promise<SourceDoc[]> {
  const out: SourceDoc[] = [];
  const seen = new Set<string>();
  const lines = text.split("\n");
  const records: { id: string; body: string; metadata: Record<string, unknown> }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "") continue;
    const where = `${source}:${i + 1}`;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch {
      warn(`${where}: not valid JSON, line skipped`);
      continue;
    }
    if (rec === null || typeof rec !== "object" || Array.isArray(rec)) {
      warn(`${where}: expected an object with a "text" field, line skipped`);
      continue;
    }
    const r = rec as { text?: unknown; pageContent?: unknown; id?: unknown; metadata?: unknown };
    const body = typeof r.text === "string" ? r.text : typeof r.pageContent === "string" ? r.pageContent : undefined;
    if (body === undefined || body.trim() === "") {
      warn(`${where}: no "text" string, line skipped`);
      continue;
    }
    const id = typeof r.id === "string" && r.id !== "" ? r.id : typeof r.id === "number" ? String(r.id) : `${source}:${i + 1}`;
    if (seen.has(id)) {
      warn(`${where}: duplicate id "${id}" in this file, line skipped`);
      continue;
    }
    seen.add(id);
    const meta = r.metadata !== null && typeof r.metadata === "object" && !Array.isArray(r.metadata) ? (r.metadata as Record<string, unknown>) : {};
    records.push({ id, body, metadata: { ...meta, source, line: i + 1 } });
  }
  const counts = opts.countTokensBatch ? await opts.countTokensBatch(records.map((r) => r.body)) : undefined;
  let splitter: RecursiveCharacterTextSplitter | undefined;
  for (let i = 0; i < records.length; i++) {
    const { id, body, metadata } = records[i]!;
    if ((counts?.[i] ?? (await opts.countTokens(body))) <= opts.chunkSize) {
      out.push({ id, text: body, metadata });
      continue;
    }
    splitter ??= makeSplitter(false, opts).splitter;
    const parts = await splitter.splitText(body);
    parts.forEach((p, j) => out.push({ id: `${id}#${j}`, text: p, metadata: { ...metadata, chunk: j } }));
  }
  return out;
}
