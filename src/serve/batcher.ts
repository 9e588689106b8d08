/**
 * Admission and cross-request batching in front of one `M3Encoder`.
 *
 * Admission: each request's texts are tokenized once (exact token counts), checked against the
 * per-text and per-request caps, and admitted only while the tokens queued or being encoded,
 * all requests together, stay within `queueTokens` (else OVERLOADED → 429 + Retry-After).
 *
 * Batching: admitted requests with the same outputs and maxLength join one pending group; a group
 * goes to the encoder (one `encode` call, which packs the texts of all its requests into its own
 * length-sorted token-budget batches) at once when the encoder is idle, else when it holds
 * `batchTokens` tokens or `maxBatchSize` texts, or `windowMs` after its first request — and only
 * while at most two encoder calls are in flight
 * (one running, one waiting): a group that would wait behind more keeps filling instead. Each
 * request gets its own rows back. A request whose signal aborts (client gone, timeout) before its
 * group is sent is dropped from it; once sent, its texts are encoded and the answer is discarded.
 */
import type { M3Encoder } from "../encode/encoder.js";
import { MAX_TOKENS } from "../encode/options.js";
import { ErrorCodes, M3Error } from "../errors.js";
import type { EncodeOptions, M3EncoderLike, M3Encoding, ModelFingerprint } from "../types.js";
import { checkInt, checkTexts } from "../util/validate.js";
import { HttpError } from "./http.js";
import type { ServerMetrics } from "./metrics.js";
import type { ResolvedBatching, ResolvedLimits } from "./options.js";

interface Job {
  texts: string[];
  tokens: number;
  signal: AbortSignal | undefined;
  resolve: (e: M3Encoding[]) => void;
  reject: (err: unknown) => void;
}

interface Group {
  options: EncodeOptions;
  jobs: Job[];
  tokens: number;
  texts: number;
  timer: NodeJS.Timeout | undefined;
  due: boolean;
}

/** Encoder calls in flight at most: one running in onnxruntime, one tokenized and waiting. */
const MAX_CALLS = 2;

export class EncodeScheduler {
  private queued = 0;
  private requests = 0;
  private calls = 0;
  private readonly groups = new Map<string, Group>();

  constructor(
    readonly encoder: M3Encoder,
    private readonly limits: ResolvedLimits,
    private readonly batching: ResolvedBatching,
    private readonly metrics: ServerMetrics,
  ) {}

  /** Tokens admitted and not yet encoded. */
  get queuedTokens(): number {
    return this.queued;
  }

  /** Requests admitted and not yet answered. */
  get queuedRequests(): number {
    return this.requests;
  }

  /** Admits, batches and encodes `texts`; rejects with TOO_LARGE, OVERLOADED or ABORTED as described above. */
  async encode(texts: string[], options: EncodeOptions, signal?: AbortSignal): Promise<M3Encoding[]> {
    checkTexts("texts", texts);
    const l = this.limits;
    if (texts.length > l.maxTexts) {
      throw new HttpError(413, ErrorCodes.TOO_LARGE, `A request may hold at most limits.maxTexts (${l.maxTexts}) texts; got ${texts.length}. Split it into several requests.`);
    }
    if (texts.length === 0) return [];
    const maxLength = options.maxLength === undefined ? undefined : checkInt("maxLength", options.maxLength, 2, MAX_TOKENS);
    const probe = Math.min(MAX_TOKENS, l.maxTokensPerText + 1, maxLength ?? MAX_TOKENS);
    const ids = await this.encoder.tokenize(texts, { maxLength: probe });
    let tokens = 0;
    for (let i = 0; i < ids.length; i++) {
      const n = ids[i]!.length;
      if (n > l.maxTokensPerText) {
        throw new HttpError(400, ErrorCodes.TOO_LARGE, `Text ${i} has more than limits.maxTokensPerText (${l.maxTokensPerText}) tokens; shorten it or pass a smaller maxLength to truncate.`);
      }
      tokens += n;
    }
    if (tokens > l.maxRequestTokens) {
      throw new HttpError(413, ErrorCodes.TOO_LARGE, `The request holds ${tokens} tokens, more than limits.maxRequestTokens (${l.maxRequestTokens}); split it into several requests.`);
    }
    if (this.queued + tokens > l.queueTokens) {
      throw new M3Error(ErrorCodes.OVERLOADED, `The server's queue is full (limits.queueTokens ${l.queueTokens} tokens); retry after the Retry-After seconds.`);
    }
    if (signal?.aborted) throw aborted();
    this.queued += tokens;
    this.requests++;
    try {
      const want: EncodeOptions = { dense: options.dense ?? true, sparse: options.sparse ?? true, colbert: options.colbert ?? true, maxLength };
      const out = this.batching.enabled ? await this.join(texts, tokens, want, signal) : await this.direct(texts, tokens, want);
      if (out.length !== texts.length) throw new M3Error(ErrorCodes.INFERENCE_ERROR, `The encoder returned ${out.length} encodings for ${texts.length} texts.`);
      return out;
    } finally {
      this.queued -= tokens;
      this.requests--;
    }
  }

  /** The scheduler as an `M3EncoderLike`, so a store's query encodings are batched and bounded too. */
  asEncoderLike(): M3EncoderLike {
    return {
      encode: (texts, options) => this.encode(texts, options ?? {}),
      fingerprint: (): Promise<ModelFingerprint> => this.encoder.fingerprint(),
    };
  }

  private async direct(texts: string[], tokens: number, want: EncodeOptions): Promise<M3Encoding[]> {
    const out = await this.encoder.encode(texts, want);
    this.count(texts.length, tokens);
    return out;
  }

  private join(texts: string[], tokens: number, want: EncodeOptions, signal: AbortSignal | undefined): Promise<M3Encoding[]> {
    const k = `${want.dense ? 1 : 0}${want.sparse ? 1 : 0}${want.colbert ? 1 : 0}:${want.maxLength ?? ""}`;
    let g = this.groups.get(k);
    if (g === undefined) {
      g = { options: want, jobs: [], tokens: 0, texts: 0, timer: undefined, due: false };
      this.groups.set(k, g);
    }
    const group = g;
    return new Promise<M3Encoding[]>((resolve, reject) => {
      const job: Job = { texts, tokens, signal, resolve, reject };
      group.jobs.push(job);
      group.tokens += tokens;
      group.texts += texts.length;
      // A client that goes away while its texts wait leaves the group at once (its tokens are freed).
      signal?.addEventListener(
        "abort",
        () => {
          const at = group.jobs.indexOf(job);
          if (at < 0 || this.groups.get(k) !== group) return; // already sent
          group.jobs.splice(at, 1);
          group.tokens -= tokens;
          group.texts -= texts.length;
          this.metrics.cancelled.inc({}, texts.length);
          reject(aborted());
        },
        { once: true },
      );
      // An idle encoder takes the group at once (no wait at low load); a busy one lets it fill.
      if (this.calls === 0 || group.tokens >= this.batching.batchTokens || group.texts >= this.batching.maxBatchSize) {
        group.due = true;
        this.pump();
      } else if (group.timer === undefined) {
        group.timer = setTimeout(() => {
          group.timer = undefined;
          group.due = true;
          this.pump();
        }, this.batching.windowMs);
      }
    });
  }

  /** Sends due groups (full ones first) while fewer than MAX_CALLS encoder calls are in flight. */
  private pump(): void {
    while (this.calls < MAX_CALLS) {
      let pick: [string, Group] | undefined;
      for (const e of this.groups) {
        if (!e[1].due) continue;
        if (pick === undefined || e[1].tokens > pick[1].tokens) pick = e;
      }
      if (pick === undefined) return;
      this.groups.delete(pick[0]);
      if (pick[1].timer !== undefined) clearTimeout(pick[1].timer);
      this.send(pick[1]);
    }
  }

  private send(g: Group): void {
    const jobs: Job[] = [];
    for (const j of g.jobs) {
      if (j.signal?.aborted) {
        this.metrics.cancelled.inc({}, j.texts.length);
        j.reject(aborted());
      } else jobs.push(j);
    }
    if (jobs.length === 0) return;
    const texts = jobs.length === 1 ? jobs[0]!.texts : jobs.flatMap((j) => j.texts);
    const tokens = jobs.reduce((s, j) => s + j.tokens, 0);
    this.calls++;
    this.encoder
      .encode(texts, g.options)
      .then(
        (out) => {
          this.count(texts.length, tokens);
          let at = 0;
          for (const j of jobs) {
            j.resolve(out.slice(at, at + j.texts.length));
            at += j.texts.length;
          }
        },
        (err: unknown) => jobs.forEach((j) => j.reject(err)),
      )
      .finally(() => {
        this.calls--;
        // Groups that filled or timed out while the encoder was busy go now.
        this.pump();
      });
  }

  private count(texts: number, tokens: number): void {
    this.metrics.batchTexts.observe(texts);
    this.metrics.batchTokens.observe(tokens);
    this.metrics.encodedTexts.inc({}, texts);
    this.metrics.encodedTokens.inc({}, tokens);
  }
}

function aborted(): M3Error {
  return new M3Error(ErrorCodes.ABORTED, "The request was cancelled (the client went away or its timeout passed) before it was encoded.");
}
