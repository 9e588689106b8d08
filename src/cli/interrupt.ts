/**
 * Ctrl-C handling. The first SIGINT (or SIGTERM) asks the running command to stop at the next
 * safe point (between batches; a save in progress finishes first, and saves are atomic), so the
 * index on disk stays the last one saved. A second Ctrl-C exits at once with code 130.
 */
import { ExitCode, InterruptedError } from "./exit.js";

export interface Interrupt {
  readonly requested: boolean;
  /** Throws InterruptedError when an interrupt was requested. */
  check(): void;
  /** Removes the signal handlers. */
  dispose(): void;
}

export function installInterrupt(onFirst: (signal: string) => void): Interrupt {
  let requested = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (requested) process.exit(ExitCode.INTERRUPTED);
    requested = true;
    onFirst(signal);
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return {
    get requested() {
      return requested;
    },
    check() {
      if (requested) throw new InterruptedError("interrupted; the index on disk is the last one saved");
    },
    dispose() {
      process.off("SIGINT", handler);
      process.off("SIGTERM", handler);
    },
  };
}
