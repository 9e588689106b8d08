/**
 * `M3Encoder`: BGE-M3 on onnxruntime-node. Loads lazily (or via `load()`), tokenizes without
 * padding, packs length-sorted token-budget batches, runs one forward pass per batch (runs
 * are serialised, so concurrent `encode` calls are safe) and returns the encodings in input order.
 */
import { ErrorCodes, M3Error } from "../errors.js";
import type { EncodeOptions, M3EncoderLike, M3Encoding, ModelFingerprint } from "../types.js";
import { checkInt, checkTexts } from "../util/validate.js";
import { planBatches } from "./batching.js";
import { loadModel, type EncoderInfo, type LoadedModel } from "./load.js";
import { insertCls, mclsContentBudget, mclsMinLength } from "./mcls.js";
import { MAX_TOKENS, checkAttentionRoom, resolveEncoderOptions, type M3EncoderOptions, type ResolvedEncoderOptions } from "./options.js";
import { SerialQueue } from "./queue.js";
import type { Want } from "./runners.js";

export class M3Encoder implements M3EncoderLike {
  private readonly options: ResolvedEncoderOptions;
  private loading: Promise<LoadedModel> | undefined;
  private model: LoadedModel | undefined;
  private disposed = false;
  private readonly queue = new SerialQueue();
  private readonly active = new Set<Promise<void>>();

  /** Validates the options; the model is loaded on first use or by `load()`. */
  constructor(options: M3EncoderOptions) {
    this.options = resolveEncoderOptions(options);
  }

  /** Creates an encoder and loads its model. */
  static async load(options: M3EncoderOptions): Promise<M3Encoder> {
    const e = new M3Encoder(options);
    await e.load();
    return e;
  }

  /** Loads the model (once; later calls return the same promise). A failed load can be retried. */
  load(): Promise<void> {
    return this.loaded().then(() => undefined);
  }

  private loaded(): Promise<LoadedModel> {
    this.checkAlive();
    if (this.loading === undefined) {
      const p = loadModel(this.options).then((m) => {
        this.model = m;
        return m;
      });
      this.loading = p;
      p.catch(() => {
        if (this.loading === p) this.loading = undefined;
      });
    }
    return this.loading;
  }

  /** What was loaded (layout, files, hidden size, max length); undefined before loading. */
  get info(): EncoderInfo | undefined {
    return this.model?.info;
  }

  /** Identifies the model; loads it when needed. */
  async fingerprint(): Promise<ModelFingerprint> {
    const m = await this.loaded();
    const fp: ModelFingerprint = { layout: m.info.layout, hiddenSize: m.info.hiddenSize, vocabSize: m.info.vocabSize, tokenizerSha256: m.tokenizer.sha256 };
    if (m.info.headsSha256 !== undefined) fp.headsSha256 = m.info.headsSha256;
    return fp;
  }

  /** Token ids per text (`<s> … </s>` included), truncated to `maxLength`. */
  tokenize(texts: string[], options: Pick<EncodeOptions, "maxLength"> = {}): Promise<Int32Array[]> {
    return this.track(async () => {
      checkTexts("texts", texts);
      const maxLength = this.checkMaxLength(options.maxLength);
      const m = await this.loaded();
      return m.tokenizer.tokenize(texts, Math.min(maxLength, m.info.maxLength));
    });
  }

  /** The token string of an id (after loading), or undefined. */
  idToToken(id: number): string | undefined {
    return this.model?.tokenizer.idToToken(id);
  }

  /** Encodes `texts`; every requested output is present on every encoding, in input order. */
  encode(texts: string[], options: EncodeOptions = {}): Promise<M3Encoding[]> {
    return this.track(() => this.encodeNow(texts, options));
  }

  /** Runs `job` as an in-flight call that dispose() waits for. */
  private track<T>(job: () => Promise<T>): Promise<T> {
    try {
      this.checkAlive();
    } catch (err) {
      return Promise.reject(err);
    }
    const p = job();
    const settled = p.then(() => undefined, () => undefined);
    this.active.add(settled);
    void settled.then(() => this.active.delete(settled));
    return p;
  }

  private async encodeNow(texts: string[], options: EncodeOptions): Promise<M3Encoding[]> {
    checkTexts("texts", texts);
    if (typeof options !== "object" || options === null) {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, "encode options must be an object such as { dense: true, maxLength: 512 }.");
    }
    const maxLength = this.checkMaxLength(options.maxLength);
    const want: Want = { dense: options.dense ?? true, sparse: options.sparse ?? true, colbert: options.colbert ?? true };
    if (texts.length === 0) return [];
    const m = await this.loaded();
    const o = this.options;
    const limit = Math.min(maxLength, m.info.maxLength);
    if (options.maxLength !== undefined) checkAttentionRoom(limit, o.attentionBudget, "encode's maxLength, within the model's limit");
    // MCLS: tokenize to the content budget that leaves room for the inserted <s>, then insert.
    const mcls = o.mcls && limit >= mclsMinLength(o.mclsStep);
    const tokenized = await m.tokenizer.tokenize(texts, mcls ? mclsContentBudget(limit, o.mclsStep) + 2 : limit);
    const inputs = mcls ? tokenized.map((r) => insertCls(r, o.mclsStep, m.tokenizer.special.cls)) : undefined;
    const ids = inputs ? inputs.map((x) => x.ids) : tokenized;
    if (ids.length === 1) {
      // One text (a query): one run, no batch planning.
      return this.queue.run(() => m.runner.run(ids, ids[0]!.length, want, inputs && [inputs[0]!.cls]));
    }
    const batches = planBatches(ids.map((r) => r.length), o.batchTokens, o.maxBatchSize, o.attentionBudget);
    o.logger.debug?.("bge-m3 encode", { texts: texts.length, batches: batches.length });
    const out = new Array<M3Encoding>(texts.length);
    await Promise.all(
      batches.map((batch) =>
        this.queue
          .run(() => m.runner.run(batch.items.map((i) => ids[i]!), batch.length, want, inputs && batch.items.map((i) => inputs[i]!.cls)))
          .then((res) => res.forEach((r, k) => (out[batch.items[k]!] = r))),
      ),
    );
    return out;
  }

  /** Refuses new calls, lets the calls in flight finish, then releases the sessions. Idempotent. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const loading = this.loading;
    if (loading === undefined) return;
    const m = await loading.catch(() => undefined);
    await Promise.all(this.active);
    await this.queue.idle();
    await m?.runner.release();
    this.model = undefined;
  }

  private checkAlive(): void {
    if (this.disposed) {
      throw new M3Error(ErrorCodes.DISPOSED, "This M3 encoder was disposed; create a new one to encode again.");
    }
  }

  private checkMaxLength(v: number | undefined): number {
    return v === undefined ? this.options.maxLength : checkInt("maxLength", v, 2, MAX_TOKENS);
  }
}
