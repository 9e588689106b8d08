/** A plain text table whose columns are sized by display width (so CJK text lines up). */
import { displayWidth, padEnd, padStart } from "./format.js";

export interface Column {
  header: string;
  /** Right-align (numbers). @default false */
  right?: boolean;
}

export function renderTable(columns: Column[], rows: string[][]): string {
  const widths = columns.map((c, i) => Math.max(displayWidth(c.header), ...rows.map((r) => displayWidth(r[i] ?? ""))));
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => {
        const w = widths[i] ?? 0;
        return columns[i]?.right ? padStart(cell, w) : padEnd(cell, w);
      })
      .join("  ")
      .trimEnd();
  const out = [line(columns.map((c) => c.header)), widths.map((w) => "─".repeat(w)).join("  ")];
  for (const r of rows) out.push(line(r));
  return out.join("\n");
}
