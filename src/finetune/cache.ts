/**
 * The frozen encoder's hidden states of every training text, computed once. Kept in memory
 * up to a byte budget, else appended to a temporary file (one per run, removed by `close`)
 * and read back per batch.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { ErrorCodes, M3Error } from "../errors.js";
import type { HiddenStateSource } from "../encode/hidden.js";

/** Padded tokens per encoder run while filling the cache. */
const ENCODE_BATCH_TOKENS = 8192;
const ENCODE_MAX_BATCH = 64;

export class HiddenCache {
  private readonly mem: Array<Float32Array | undefined>;
  private readonly offsets: Float64Array;
  private dir: string | undefined;
  private fd: number | undefined;
  private written = 0;

  private constructor(
    readonly ids: Int32Array[],
    readonly hidden: number,
    readonly onDisk: boolean,
    cacheDir: string,
  ) {
    this.mem = new Array<Float32Array | undefined>(ids.length);
    this.offsets = new Float64Array(ids.length);
    if (onDisk) {
      try {
        this.dir = mkdtempSync(join(cacheDir, "m3-finetune-"));
        this.fd = openSync(join(this.dir, "hidden.f32"), "w+");
      } catch (err) {
        this.close();
        throw new M3Error(ErrorCodes.IO_ERROR, `Cannot create the hidden-state cache in ${cacheDir}: ${(err as Error).message}. Give a writable cacheDir with room for it.`, { cause: err });
      }
    }
  }

  /**
   * Encodes every text of `ids` with `source` (longest first, token-budget batches) and caches the states.
   * `hidden` is the hidden size; above `memoryBytes` the states go to a file under `cacheDir`.
   */
  static async fill(
    source: HiddenStateSource,
    ids: Int32Array[],
    hidden: number,
    o: { memoryBytes: number; cacheDir: string; signal: AbortSignal | undefined; onBatch?: (done: number, total: number) => void },
  ): Promise<HiddenCache> {
    const bytes = ids.reduce((s, r) => s + r.length * hidden * 4, 0);
    const cache = new HiddenCache(ids, hidden, bytes > o.memoryBytes, o.cacheDir);
    try {
      const order = ids.map((_, i) => i).sort((a, b) => ids[b]!.length - ids[a]!.length || a - b);
      let done = 0;
      for (let s = 0; s < order.length; ) {
        checkAbort(o.signal);
        const L = ids[order[s]!]!.length;
        const count = Math.max(1, Math.min(ENCODE_MAX_BATCH, Math.floor(ENCODE_BATCH_TOKENS / L)));
        const batch = order.slice(s, s + count);
        const states = await source.run(batch.map((i) => ids[i]!));
        states.forEach((x, k) => cache.put(batch[k]!, x));
        s += batch.length;
        done += batch.length;
        o.onBatch?.(done, order.length);
      }
      return cache;
    } catch (err) {
      cache.close();
      throw err;
    }
  }

  private put(i: number, x: Float32Array): void {
    if (x.length !== this.ids[i]!.length * this.hidden) {
      throw new M3Error(ErrorCodes.MODEL_INVALID, `The encoder returned hidden states of size ${x.length / this.ids[i]!.length}; the heads expect ${this.hidden}.`);
    }
    if (this.fd === undefined) {
      this.mem[i] = x;
      return;
    }
    this.offsets[i] = this.written;
    const buf = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off, this.written + off);
    this.written += buf.length;
  }

  /** Token ids and `[n, H]` states of text i. */
  get(i: number): { ids: Int32Array; x: Float32Array } {
    const ids = this.ids[i]!;
    const m = this.mem[i];
    if (m !== undefined) return { ids, x: m };
    if (this.fd === undefined) throw new M3Error(ErrorCodes.INVALID_ARGUMENT, "The hidden-state cache was closed.");
    const x = new Float32Array(ids.length * this.hidden);
    const buf = new Uint8Array(x.buffer);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(this.fd, buf, off, buf.length - off, this.offsets[i]! + off);
      if (n === 0) throw new M3Error(ErrorCodes.IO_ERROR, "The hidden-state cache file was truncated while training; rerun.");
      off += n;
    }
    return { ids, x };
  }

  /** The cache file's folder while open (for tests), else undefined. */
  get folder(): string | undefined {
    return this.dir;
  }

  /** Frees the memory and removes the temporary file. Idempotent. */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    if (this.dir !== undefined) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
    this.mem.fill(undefined);
  }
}

export function checkAbort(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new M3Error(ErrorCodes.ABORTED, "Fine-tuning was aborted; nothing was written.", { cause: signal.reason });
  }
}
