/**
 * Exit codes and the one-line error report of the CLI.
 * 0 ok, 1 runtime error, 2 usage error, 130 interrupted (Ctrl-C).
 */
import { isM3Error } from "../errors.js";

export const ExitCode = {
  OK: 0,
  RUNTIME: 1,
  USAGE: 2,
  INTERRUPTED: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** A mistake in how the command was called (bad option value, missing argument): exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** A failure the CLI itself detects at run time (nothing to index, unreadable input): exit 1. */
export class CliError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CliError";
  }
}

/** The user pressed Ctrl-C (SIGINT) or sent SIGTERM: exit 130. */
export class InterruptedError extends Error {
  constructor(message = "interrupted") {
    super(message);
    this.name = "InterruptedError";
  }
}

export function exitCodeFor(err: unknown): ExitCodeValue {
  if (err instanceof UsageError) return ExitCode.USAGE;
  if (err instanceof InterruptedError) return ExitCode.INTERRUPTED;
  if (isM3Error(err, "ABORTED")) return ExitCode.INTERRUPTED;
  return ExitCode.RUNTIME;
}

/** One line for the user: `m3: <message>` (plus the error code of library errors). With `verbose`, the stack and causes too. */
export function formatError(err: unknown, verbose: boolean): string {
  const first = oneLine(err);
  if (!verbose) return `m3: ${first}`;
  const lines = [`m3: ${first}`];
  let cur: unknown = err;
  let depth = 0;
  while (cur instanceof Error && depth < 5) {
    if (cur.stack) lines.push(cur.stack);
    cur = cur.cause;
    if (cur !== undefined) lines.push("caused by:");
    depth++;
  }
  if (cur !== undefined && !(cur instanceof Error)) lines.push(String(cur));
  return lines.join("\n");
}

function oneLine(err: unknown): string {
  if (isM3Error(err)) return `${flatten(err.message)} [${err.code}]`;
  if (err instanceof Error) return flatten(err.message);
  return flatten(String(err));
}

function flatten(s: string): string {
  return s.replace(/\s*\n\s*/g, " ").trim();
}
