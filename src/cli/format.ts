/** Small text helpers for terminal output: display width (CJK is two columns wide), padding, truncation, sizes, durations. */

const WIDE =
  /[\u1100-\u115F\u2E80-\u303E\u3041-\u33FF\u3400-\u4DBF\u4E00-\u9FFF\uA000-\uA4CF\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\uFFE0-\uFFE6\u{1F300}-\u{1F64F}\u{1F900}-\u{1F9FF}\u{20000}-\u{3FFFD}]/u;
const ZERO = /[\p{Mn}\p{Me}\p{Cf}]/u;

/** Columns a string takes in a monospace terminal (approximation: wide East Asian = 2, combining marks = 0). */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) {
    if (ZERO.test(ch)) continue;
    w += WIDE.test(ch) ? 2 : 1;
  }
  return w;
}

/** Cuts `s` to at most `width` columns, ending with "…" when cut. Newlines and tabs become spaces. */
export function truncate(s: string, width: number): string {
  const flat = s.replace(/\s+/g, " ").trim();
  if (displayWidth(flat) <= width) return flat;
  let out = "";
  let w = 0;
  for (const ch of flat) {
    const cw = ZERO.test(ch) ? 0 : WIDE.test(ch) ? 2 : 1;
    if (w + cw > width - 1) break;
    out += ch;
    w += cw;
  }
  return out + "…";
}

/** Like `truncate` but keeps the end ("…/docs/notes.md#3"): for ids and paths. */
export function truncateStart(s: string, width: number): string {
  const flat = s.replace(/\s+/g, " ").trim();
  if (displayWidth(flat) <= width) return flat;
  const chars = [...flat];
  let out = "";
  let w = 0;
  for (let i = chars.length - 1; i >= 0; i--) {
    const ch = chars[i]!;
    const cw = ZERO.test(ch) ? 0 : WIDE.test(ch) ? 2 : 1;
    if (w + cw > width - 1) break;
    out = ch + out;
    w += cw;
  }
  return "…" + out;
}

export function padEnd(s: string, width: number): string {
  return s + " ".repeat(Math.max(0, width - displayWidth(s)));
}

export function padStart(s: string, width: number): string {
  return " ".repeat(Math.max(0, width - displayWidth(s))) + s;
}

/** 1536 -> "1.5 KiB". */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

/** Seconds -> "1:05" or "1:02:03"; "--:--" when unknown. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = h > 0 ? String(m).padStart(2, "0") : String(m);
  return `${h > 0 ? `${h}:` : ""}${mm}:${String(sec).padStart(2, "0")}`;
}

/** 12345 -> "12,345". */
export function formatInt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** A score with 4 decimals, or "-" when the mode was not computed. */
export function formatScore(v: number | undefined): string {
  return v === undefined || Number.isNaN(v) ? "-" : v.toFixed(4);
}
