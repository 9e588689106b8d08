/**
 * Shared set-up of the ColBERT store tests: a fresh temporary directory per test (`env.dir`),
 * every store passed to `env.track` closed after the test, and typed-error assertions.
 */
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, expect } from "vitest";
import type { ColbertStore } from "../../src/index/colbert/index.js";

export interface ColbertTestEnv {
  /** This test's temporary directory (removed after it). */
  readonly dir: string;
  /** Registers a store to close after the test; returns it. */
  track<T extends ColbertStore>(s: T): T;
}

/** Registers the hooks in the calling test file; call once at module level. */
export function colbertTestEnv(prefix: string): ColbertTestEnv {
  let dir = "";
  const open: ColbertStore[] = [];
  beforeEach(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix)); });
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
    await fs.rm(dir, { recursive: true, force: true });
  });
  return {
    get dir() { return dir; },
    track(s) { open.push(s); return s; },
  };
}

/** `p` (a promise, or a function that throws or rejects) fails with an M3Error of `code`. */
export async function expectCode(p: Promise<unknown> | (() => unknown), code: string): Promise<void> {
  const run = typeof p === "function" ? (async () => p())() : p;
  await expect(run).rejects.toMatchObject({ name: "M3Error", code });
}
