/**
 * BGE-M3's tokenizer: the model folder's `tokenizer.json` run by the official Hugging Face
 * Rust implementation (npm `tokenizers`), so the Precompiled (nmt_nfkc) normalizer, Metaspace
 * and Unigram behave exactly as in the reference.
 *
 * Texts are tokenized without special tokens and without padding; a text keeps its first
 * `maxLength - 2` content tokens and is wrapped as `<s> … </s>` (what the reference's
 * truncation does for one sequence).
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { Tokenizer } from "tokenizers";
import { ErrorCodes, M3Error } from "../errors.js";

const WHERE = "Download tokenizer.json from the model's Hugging Face repository (e.g. BAAI/bge-m3) into the model folder.";

/** Ids of the special tokens BGE-M3 treats specially (dropped from the lexical weights). */
export interface SpecialIds {
  cls: number;
  sep: number;
  pad: number;
  unk: number;
}

export class M3Tokenizer {
  private constructor(
    private readonly tk: Tokenizer,
    /** sha256 (hex) of the tokenizer.json bytes. */
    readonly sha256: string,
    /** Vocabulary size including added tokens (250002 for BGE-M3). */
    readonly vocabSize: number,
    readonly special: Readonly<SpecialIds>,
    /** The file this tokenizer was read from. */
    readonly path: string,
  ) {}

  /** Reads and parses `tokenizer.json`. Missing or corrupt file -> TOKENIZER_ERROR. */
  static async load(path: string): Promise<M3Tokenizer> {
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (err) {
      throw new M3Error(ErrorCodes.TOKENIZER_ERROR, `Cannot read ${path}: ${(err as Error).message}. ${WHERE}`, {
        cause: err,
        details: { file: path },
      });
    }
    const text = bytes.toString("utf8");
    let json: { post_processor?: { cls?: [string, number]; sep?: [string, number] } | null };
    let tk: Tokenizer;
    try {
      json = JSON.parse(text) as typeof json;
      tk = Tokenizer.fromString(text);
      tk.disablePadding();
      tk.disableTruncation();
    } catch (err) {
      throw new M3Error(
        ErrorCodes.TOKENIZER_ERROR,
        `${path} is not a valid Hugging Face tokenizer.json (${(err as Error).message}). The file is corrupt or ` +
          `truncated. ${WHERE}`,
        { cause: err, details: { file: path } },
      );
    }
    const id = (tok: string, fromPost: number | undefined): number | undefined => fromPost ?? tk.tokenToId(tok) ?? undefined;
    const cls = id("<s>", json.post_processor?.cls?.[1]);
    const sep = id("</s>", json.post_processor?.sep?.[1]);
    if (cls === undefined || sep === undefined) {
      throw new M3Error(
        ErrorCodes.TOKENIZER_ERROR,
        `${path} has no <s> / </s> tokens; it is not an XLM-RoBERTa (BGE-M3) tokenizer. ${WHERE}`,
        { details: { file: path } },
      );
    }
    const special = { cls, sep, pad: tk.tokenToId("<pad>") ?? 1, unk: tk.tokenToId("<unk>") ?? 3 };
    const sha = createHash("sha256").update(bytes).digest("hex");
    return new M3Tokenizer(tk, sha, tk.getVocabSize(true), special, path);
  }

  /** Token ids per text, `<s> … </s>` included, at most `maxLength` (>= 2) ids each. */
  async tokenize(texts: readonly string[], maxLength: number): Promise<Int32Array[]> {
    if (texts.length === 0) return [];
    const encs = await this.tk.encodeBatch(texts as string[], { addSpecialTokens: false });
    const keep = Math.max(0, maxLength - 2);
    return encs.map((e) => {
      const content = e.getIds();
      const n = Math.min(content.length, keep);
      const ids = new Int32Array(n + 2);
      ids[0] = this.special.cls;
      for (let i = 0; i < n; i++) ids[i + 1] = content[i]!;
      ids[n + 1] = this.special.sep;
      return ids;
    });
  }

  /** The token string of an id, or undefined when the id is outside the vocabulary. */
  idToToken(id: number): string | undefined {
    return this.tk.idToToken(id) ?? undefined;
  }
}
