import { lstat, mkdir, readFile, readdir, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { isM3Error } from "../src/errors.js";
import { resolvePretrained } from "../src/hub/index.js";
import { useMockHub } from "./helpers/hub-env.js";
import { sha256 } from "./helpers/mock-hub.js";

const env = useMockHub({
  cachePrefix: "m3-hubf-",
  setup: (hub) => {
    hub.addRepo("acme/gated-m3", { "bge_m3_model.onnx": Buffer.alloc(500, 1), "tokenizer.json": "{}" }).gatedToken = "hf_secret";
  },
});
const { hub, opts } = env;
const YUNIKO = "yuniko-software/bge-m3-onnx";
const DATA = "bge_m3_model.onnx_data";
const storage = (): string => join(env.cache, "models--yuniko-software--bge-m3-onnx");

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    if (isM3Error(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error("expected a failure");
}

const dataSha = (): string => hub.etagOf(YUNIKO, DATA);
const isCdnGet = (sha: string) => (q: { method: string; path: string }) => q.method === "GET" && q.path === `/cdn/${sha}`;

describe("what the user sees when the Hub or the disk misbehaves", () => {
  it("401 on a gated repository -> HUB_UNAUTHORIZED telling to accept the licence and set HF_TOKEN; the token fixes it", async () => {
    const f = await failure(resolvePretrained("acme/gated-m3", opts()));
    expect(f.code).toBe("HUB_UNAUTHORIZED");
    expect(f.message).toMatch(/gated or private.*accept the licence.*HF_TOKEN/);
    vi.stubEnv("HF_TOKEN", "hf_secret");
    const r = await resolvePretrained("acme/gated-m3", opts());
    expect(r.files).toContain("bge_m3_model.onnx");
    expect(hub.requests((q) => q.method === "HEAD").every((q) => q.authorization === "Bearer hf_secret")).toBe(true);
  });

  it("the token saved by `hf auth login` ($HF_HOME/token) is used when HF_TOKEN is unset", async () => {
    const home = join(env.cache, "home");
    await mkdir(home, { recursive: true });
    await writeFile(join(home, "token"), "hf_secret\n");
    vi.stubEnv("HF_HOME", home);
    vi.stubEnv("HF_TOKEN_PATH", "");
    const r = await resolvePretrained("acme/gated-m3", opts());
    expect(r.files).toContain("bge_m3_model.onnx");
  });

  it("unknown repository -> HUB_UNAUTHORIZED 'not found or private'", async () => {
    const f = await failure(resolvePretrained("acme/nope", opts()));
    expect(f.code).toBe("HUB_UNAUTHORIZED");
    expect(f.message).toMatch(/acme\/nope was not found or is private/);
  });

  it("404 for a file -> HUB_ERROR naming the file, repository and revision", async () => {
    hub.faults = [{ kind: "status", status: 404, match: (q) => q.method === "HEAD" && q.path.endsWith("/tokenizer.json") }];
    const f = await failure(resolvePretrained(YUNIKO, opts()));
    expect(f.code).toBe("HUB_ERROR");
    expect(f.message).toContain(`tokenizer.json in ${YUNIKO} at revision main was not found (HTTP 404)`);
  });

  it("unknown revision -> HUB_ERROR naming the revision", async () => {
    const f = await failure(resolvePretrained(YUNIKO, opts({ revision: "v9" })));
    expect(f.code).toBe("HUB_ERROR");
    expect(f.message).toMatch(/Revision v9 was not found in yuniko-software\/bge-m3-onnx/);
  });

  it("a 500 followed by success is retried (tree listing, HEAD and download)", async () => {
    hub.faults = [
      { kind: "status", status: 500, match: (q) => q.path.includes("/tree/") },
      { kind: "status", status: 503, match: (q) => q.method === "HEAD" },
      { kind: "status", status: 502, match: isCdnGet(dataSha()) },
    ];
    const r = await resolvePretrained(YUNIKO, opts());
    expect(await readFile(join(r.dir, DATA))).toEqual(hub.repos.get(YUNIKO)!.files.get(DATA)!.content);
    expect(hub.requests((q) => q.path.includes("/tree/"))).toHaveLength(2);
    expect(hub.requests(isCdnGet(dataSha()))).toHaveLength(2);
  });

  it("an expired CDN link (403) is replaced by a fresh one from the Hub", async () => {
    hub.faults = [{ kind: "status", status: 403, match: isCdnGet(dataSha()) }];
    const r = await resolvePretrained(YUNIKO, opts());
    expect(sha256(await readFile(join(r.dir, DATA)))).toBe(dataSha());
    expect(hub.requests((q) => q.method === "GET" && q.path === `/${YUNIKO}/resolve/${r.commit}/${DATA}`)).toHaveLength(1);
  });

  it("persistent 500s stop after maxRetries with HUB_ERROR", async () => {
    hub.faults = [{ kind: "status", status: 500, times: 100, match: isCdnGet(dataSha()) }];
    const f = await failure(resolvePretrained(YUNIKO, opts({ downloadRetries: 2 })));
    expect(f.code).toBe("HUB_ERROR");
    expect(f.message).toMatch(/HTTP 500 for bge_m3_model.onnx_data/);
    expect(hub.requests(isCdnGet(dataSha()))).toHaveLength(3);
  });

  it("a connection cut mid-file resumes with a Range request and the result verifies", async () => {
    hub.faults = [{ kind: "cut", match: isCdnGet(dataSha()) }];
    const r = await resolvePretrained(YUNIKO, opts());
    const gets = hub.requests(isCdnGet(dataSha()));
    expect(gets).toHaveLength(2);
    expect(gets[0]!.range).toBeUndefined();
    const from = Number(/^bytes=(\d+)-$/.exec(gets[1]!.range ?? "")?.[1]);
    expect(from).toBeGreaterThan(0);
    expect(sha256(await readFile(join(r.dir, DATA)))).toBe(dataSha());
  });

  it("an interrupted run leaves only blobs/<etag>.incomplete; the next run resumes it", async () => {
    hub.faults = [{ kind: "cut", match: isCdnGet(dataSha()) }];
    const f = await failure(resolvePretrained(YUNIKO, opts({ downloadRetries: 0 })));
    expect(f.code).toBe("HUB_ERROR");
    expect(f.message).toMatch(/run again|Run again/);
    const partial = join(storage(), "blobs", `${dataSha()}.incomplete`);
    const size = (await stat(partial)).size;
    expect(size).toBeGreaterThan(0);
    // nothing half-written is visible: no snapshot entry, no ref
    await expect(readdir(join(storage(), "snapshots"))).rejects.toThrow();
    await expect(lstat(join(storage(), "refs", "main"))).rejects.toThrow();
    hub.log.length = 0;
    const r = await resolvePretrained(YUNIKO, opts());
    expect(hub.requests(isCdnGet(dataSha()))[0]!.range).toBe(`bytes=${size}-`);
    expect(sha256(await readFile(join(r.dir, DATA)))).toBe(dataSha());
  });

  it("a body whose sha256 is wrong -> HUB_ERROR, the file is removed, a new run succeeds", async () => {
    hub.faults = [{ kind: "corrupt", match: isCdnGet(dataSha()) }];
    const f = await failure(resolvePretrained(YUNIKO, opts()));
    expect(f.code).toBe("HUB_ERROR");
    expect(f.message).toMatch(/Checksum mismatch for bge_m3_model.onnx_data .* expected sha256 [0-9a-f]{64}, got [0-9a-f]{64}\. The corrupt download was removed; run again/);
    expect((await readdir(join(storage(), "blobs"))).filter((n) => n.startsWith(dataSha()))).toEqual([]);
    await expect(readdir(join(storage(), "snapshots"))).rejects.toThrow();
    const r = await resolvePretrained(YUNIKO, opts());
    expect(sha256(await readFile(join(r.dir, DATA)))).toBe(dataSha());
  });

  it("a regular (non-LFS) file is checked against its git blob sha1", async () => {
    hub.faults = [{ kind: "corrupt", match: (q) => q.method === "GET" && q.path.endsWith("/config.json") }];
    const f = await failure(resolvePretrained("aapot/bge-m3-onnx", opts()));
    expect(f.code).toBe("HUB_ERROR");
    expect(f.message).toMatch(/Checksum mismatch for config.json .* expected sha1/);
  });

  it("disk full while writing -> IO_ERROR saying to free space or move HF_HUB_CACHE", async () => {
    const blobs = join(storage(), "blobs");
    await mkdir(blobs, { recursive: true });
    await symlink("/dev/full", join(blobs, `${dataSha()}.incomplete`));
    const f = await failure(resolvePretrained(YUNIKO, opts()));
    expect(f.code).toBe("IO_ERROR");
    expect(f.message).toMatch(/ENOSPC.*disk is full.*HF_HUB_CACHE/);
  });

  it("AbortSignal -> ABORTED; the partial file stays for resume", async () => {
    const ac = new AbortController();
    const f = await failure(
      resolvePretrained(YUNIKO, opts({ signal: ac.signal, onProgress: (p) => (p.file === DATA && p.fileBytes > 0 ? ac.abort() : undefined) })),
    );
    expect(f.code).toBe("ABORTED");
    expect(f.message).toMatch(/aborted; run again to resume/);
    await expect(readdir(join(storage(), "snapshots"))).rejects.toThrow();
  });

  it("an unreachable endpoint -> HUB_ERROR suggesting HF_ENDPOINT / HF_HUB_OFFLINE", async () => {
    const f = await failure(resolvePretrained(YUNIKO, opts({ endpoint: "http://127.0.0.1:9", downloadRetries: 1 })));
    expect(f.code).toBe("HUB_ERROR");
    expect(f.message).toMatch(/Could not reach the Hub.*HF_HUB_OFFLINE=1/);
  });

  it("invalid arguments -> INVALID_ARGUMENT", async () => {
    expect((await failure(resolvePretrained("not a repo", opts()))).code).toBe("INVALID_ARGUMENT");
    expect((await failure(resolvePretrained(YUNIKO, opts({ variant: "int4" as never })))).code).toBe("INVALID_ARGUMENT");
  });

  it("a variant the repository lacks -> MODEL_NOT_FOUND listing what it has", async () => {
    const f = await failure(resolvePretrained(YUNIKO, opts({ variant: "int8" })));
    expect(f.code).toBe("MODEL_NOT_FOUND");
    expect(f.message).toMatch(/no int8 ONNX graph \(it has fp32\)/);
  });
});
