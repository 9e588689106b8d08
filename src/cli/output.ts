/** Where the CLI prints: results on stdout, everything else (progress, notes, warnings) on stderr. */
export function print(line: string): void {
  process.stdout.write(line + "\n");
}

/** A note for the user (stderr, so stdout stays machine-readable). */
export function log(line: string): void {
  process.stderr.write(line + "\n");
}

export function warn(line: string): void {
  process.stderr.write(`warning: ${line}\n`);
}
