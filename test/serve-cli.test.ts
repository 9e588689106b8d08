/**
 * `m3 serve` as a user runs it (the built CLI in a child process): it binds 127.0.0.1, refuses a
 * public bind without a key, and on SIGTERM under load answers every request already in flight,
 * then exits 0 (graceful shutdown).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it, vi } from "vitest";

const ROOT = join(import.meta.dirname, "..");
const CLI = join(ROOT, "dist/cli/main.js");
const MODEL = join(ROOT, "test/fixtures/models/encoder-only");

beforeAll(() => {
  if (!existsSync(CLI)) spawnSync("npx", ["tsup"], { cwd: ROOT, stdio: "ignore" });
});

function start(args: string[]): { child: ChildProcess; url: Promise<string>; ready: Promise<void>; exit: Promise<{ code: number | null; stderr: string }> } {
  const child = spawn(process.execPath, [CLI, "serve", "--model", MODEL, ...args], { cwd: ROOT });
  let stderr = "";
  let onUrl!: (u: string) => void;
  let onReady!: () => void;
  const url = new Promise<string>((r) => (onUrl = r));
  const ready = new Promise<void>((r) => (onReady = r));
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString();
    const m = /listening on (http:\/\/\S+)/.exec(stderr);
    if (m) onUrl(m[1]!);
    if (/m3 serve: ready/.test(stderr)) onReady();
  });
  const exit = new Promise<{ code: number | null; stderr: string }>((r) => child.on("exit", (code) => r({ code, stderr })));
  return { child, url, ready, exit };
}

describe("m3 serve (child process)", () => {
  it("refuses a non-loopback bind without --api-key-file (exit 1, says what to do)", async () => {
    const s = start(["--host", "0.0.0.0", "--port", "0"]);
    const { code, stderr } = await s.exit;
    expect(code).toBe(1);
    expect(stderr).toMatch(/api-key-file/);
  });

  it("SIGTERM under load: every request in flight is answered 200, then it exits 0", async () => {
    const s = start(["--port", "0"]);
    const url = await s.url;
    await s.ready;
    const texts = Array.from({ length: 48 }, (_, i) => `text ${i} ` + "bread dough rises with yeast and sugar ".repeat(1 + (i % 8)));
    const requests = Array.from({ length: 8 }, () =>
      fetch(`${url}/v1/encode`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ input: texts }) }).then(
        (r) => r.status,
        (e: unknown) => String(e),
      ),
    );
    // SIGTERM once the server holds several of them (in flight or queued).
    await vi.waitFor(
      async () => {
        const m = await (await fetch(`${url}/metrics`)).text();
        expect(Number(/m3_http_in_flight (\d+)/.exec(m)?.[1] ?? 0)).toBeGreaterThanOrEqual(4);
      },
      { timeout: 30_000, interval: 5 },
    );
    s.child.kill("SIGTERM");
    const statuses = await Promise.all(requests);
    expect(statuses).toEqual(Array(8).fill(200));
    const { code, stderr } = await s.exit;
    expect(stderr).toMatch(/SIGTERM: finishing the requests in flight/);
    expect(code).toBe(0);
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });
});
