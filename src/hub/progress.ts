/** Aggregates download progress of one call: bytes, rate over a sliding window, ETA. */
import type { DownloadProgress } from "./types.js";

const WINDOW_MS = 5000;
const MIN_INTERVAL_MS = 200;

export class ProgressTracker {
  private done = 0;
  private readonly samples: Array<{ t: number; bytes: number }> = [];
  private lastEmit = 0;
  private lastFile = "";

  constructor(
    private total: number,
    private readonly onProgress: ((p: DownloadProgress) => void) | undefined,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** More bytes to fetch than first planned (files found while resolving). */
  addTotal(bytes: number): void {
    this.total += bytes;
  }

  /** Bytes already on disk (resumed, or found in the cache) count as done without affecting the rate. */
  skip(bytes: number): void {
    this.done += bytes;
  }

  /** `delta` new bytes of `file` arrived; `fileBytes` of it are on disk. */
  advance(repo: string, file: string, delta: number, fileBytes: number, fileTotal: number | undefined, fileDone = false): void {
    this.done += delta;
    const t = this.now();
    this.samples.push({ t, bytes: this.done });
    while (this.samples.length > 2 && t - (this.samples[0]?.t ?? t) > WINDOW_MS) this.samples.shift();
    const newFile = file !== this.lastFile;
    if (this.onProgress === undefined || (!fileDone && !newFile && t - this.lastEmit < MIN_INTERVAL_MS)) return;
    this.lastEmit = t;
    this.lastFile = file;
    const first = this.samples[0];
    const span = first === undefined ? 0 : (t - first.t) / 1000;
    const rate = span > 0 && first !== undefined ? (this.done - first.bytes) / span : 0;
    const left = Math.max(0, this.total - this.done);
    this.onProgress({
      repo,
      file,
      fileBytes,
      fileTotal,
      bytes: this.done,
      total: this.total,
      rate,
      etaSeconds: rate > 0 ? left / rate : left === 0 ? 0 : undefined,
      fileDone,
    });
  }
}
