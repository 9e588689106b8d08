/**
 * A progress bar on stderr: done/total (bytes of source text), percent, tokens/s and ETA.
 * On a TTY it redraws one line (at most every 100 ms); otherwise it prints a plain line at
 * every 10 % step or after 30 s without one, so logs stay readable. `quiet` silences it.
 */
import { formatBytes, formatDuration, formatInt, truncate } from "./format.js";

export interface ProgressOptions {
  /** Total units of work (bytes of source text to index). */
  total: number;
  stream: { write(s: string): boolean; isTTY?: boolean; columns?: number };
  quiet?: boolean;
  /** Clock in milliseconds (tests). @default Date.now */
  now?: () => number;
}

export class Progress {
  private done = 0;
  private tokens = 0;
  private label = "";
  private readonly start: number;
  private lastDraw = 0;
  private lastStep = -1;
  private readonly tty: boolean;
  private readonly now: () => number;

  constructor(private readonly opts: ProgressOptions) {
    this.now = opts.now ?? Date.now;
    this.start = this.now();
    this.tty = opts.stream.isTTY === true;
  }

  /** Names what is being worked on (a file). */
  setLabel(label: string): void {
    this.label = label;
    this.draw(false);
  }

  /** Adds finished units and the tokens encoded for them. */
  advance(units: number, tokens: number): void {
    this.done = Math.min(this.opts.total, this.done + units);
    this.tokens += tokens;
    this.draw(false);
  }

  /** Tokens encoded per second so far. */
  tokensPerSecond(): number {
    const secs = (this.now() - this.start) / 1000;
    return secs > 0 ? this.tokens / secs : 0;
  }

  get tokenCount(): number {
    return this.tokens;
  }

  /** Draws the final state and ends the line. */
  finish(): void {
    this.draw(true);
    if (this.tty && !this.opts.quiet) this.opts.stream.write("\n");
  }

  /** Clears the bar line so a message can be printed (TTY only). */
  clear(): void {
    if (this.tty && !this.opts.quiet) this.opts.stream.write("\r\x1b[K");
  }

  /** Redraws after a message was printed. */
  redraw(): void {
    this.draw(true);
  }

  private draw(force: boolean): void {
    if (this.opts.quiet) return;
    const t = this.now();
    const frac = this.opts.total > 0 ? this.done / this.opts.total : 1;
    if (this.tty) {
      if (!force && t - this.lastDraw < 100) return;
      this.lastDraw = t;
      this.opts.stream.write(`\r${this.line(frac, t)}\x1b[K`);
      return;
    }
    const step = Math.floor(frac * 10);
    if (step === this.lastStep && (t - this.lastDraw < 30_000 || frac >= 1)) return;
    this.lastStep = step;
    this.lastDraw = t;
    this.opts.stream.write(`${this.line(frac, t)}\n`);
  }

  private line(frac: number, t: number): string {
    const secs = (t - this.start) / 1000;
    const rate = secs > 0 ? this.done / secs : 0;
    const eta = frac >= 1 ? 0 : rate > 0 ? (this.opts.total - this.done) / rate : Number.NaN;
    const width = 24;
    const filled = Math.round(frac * width);
    const bar = "█".repeat(filled) + "░".repeat(width - filled);
    const tps = secs > 0 ? this.tokens / secs : 0;
    const head =
      `${bar} ${(frac * 100).toFixed(0).padStart(3)}%  ${formatBytes(this.done)}/${formatBytes(this.opts.total)}  ` +
      `${formatInt(tps)} tok/s  ETA ${formatDuration(eta)}`;
    if (!this.label) return head;
    const cols = this.opts.stream.columns ?? 100;
    const room = cols - head.length - 3;
    return room > 8 ? `${head}  ${truncate(this.label, room)}` : head;
  }
}
