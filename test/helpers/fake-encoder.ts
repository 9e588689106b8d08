/**
 * A deterministic fake BGE-M3 encoder for tests: words are hashed to token ids (Zipf-ish:
 * short words get small ids, with weights that grow with the id), dense = normalize(global +
 * sum of word vectors), colbert = one normalized row per word mixing the word's vector and the
 * dense vector. Implements `M3EncoderLike` and LangChain's `EmbeddingsInterface` (dense).
 */
import type { EncodeOptions, M3Encoding, M3EncoderLike, ModelFingerprint } from "../../src/types.js";
import { hash32, mixUnit, randomUnit, Rng } from "../../bench/lib/rng.js";

export interface FakeEncoderOptions {
  /** @default 64 */
  dim?: number;
  /** @default "fake" */
  layout?: string;
  /** @default "fake-tokenizer" */
  tokenizerSha256?: string;
}

export class FakeM3Encoder implements M3EncoderLike {
  readonly dim: number;
  /** Texts encoded so far (to check that a query is encoded once). */
  calls: { texts: string[]; options?: EncodeOptions }[] = [];
  private readonly fp: ModelFingerprint;
  private readonly G: Float32Array;
  private readonly cache = new Map<string, Float32Array>();

  constructor(options: FakeEncoderOptions = {}) {
    this.dim = options.dim ?? 64;
    this.fp = { layout: options.layout ?? "fake", hiddenSize: this.dim, vocabSize: 250002, tokenizerSha256: options.tokenizerSha256 ?? "fake-tokenizer" };
    this.G = randomUnit(new Rng(12345), this.dim);
  }

  async fingerprint(): Promise<ModelFingerprint> {
    return { ...this.fp };
  }

  async encode(texts: string[], options?: EncodeOptions): Promise<M3Encoding[]> {
    this.calls.push({ texts: [...texts], options });
    return texts.map((t) => this.encodeOne(t, options));
  }

  async embedDocuments(texts: string[]): Promise<number[][]> {
    return (await this.encode(texts, { dense: true, sparse: false, colbert: false })).map((e) => Array.from(e.dense!));
  }

  async embedQuery(text: string): Promise<number[]> {
    return Array.from((await this.encode([text], { dense: true, sparse: false, colbert: false }))[0]!.dense!);
  }

  private word(w: string): Float32Array {
    let v = this.cache.get(w);
    if (v === undefined) {
      v = randomUnit(new Rng(hash32(w)), this.dim);
      this.cache.set(w, v);
    }
    return v;
  }

  private encodeOne(text: string, o?: EncodeOptions): M3Encoding {
    const words = text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((w) => w.length > 0);
    const out: M3Encoding = { tokenCount: words.length + 2 };
    const dense = mixUnit(this.dim, [[0.8, this.G], ...words.map((w): [number, Float32Array] => [1, this.word(w)])]);
    if (o?.dense ?? true) out.dense = dense;
    if (o?.sparse ?? true) {
      const best = new Map<number, number>();
      for (const w of words) {
        const id = 4 + (w.length <= 3 ? hash32(w) % 2000 : 2000 + (hash32(w) % 248000));
        const weight = 0.05 + 0.25 * ((hash32(w, 7) % 1000) / 1000) * (id > 2004 ? 1 : 0.4);
        best.set(id, Math.max(best.get(id) ?? 0, weight));
      }
      const ids = [...best.keys()].sort((a, b) => a - b);
      out.sparse = { indices: Uint32Array.from(ids), values: Float32Array.from(ids, (i) => best.get(i)!) };
    }
    if (o?.colbert ?? true) {
      const rows = words.length + 1; // the words plus </s>
      const data = new Float32Array(rows * this.dim);
      words.forEach((w, j) => data.set(mixUnit(this.dim, [[1, this.word(w)], [0.4, dense]]), j * this.dim));
      data.set(dense, words.length * this.dim);
      out.colbert = { data, tokens: rows, dim: this.dim };
    }
    return out;
  }
}
