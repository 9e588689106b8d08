import { mkdir, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { isM3Error } from "../src/errors.js";
import { hubCacheDir, resolvePretrained } from "../src/hub/index.js";
import { useMockHub } from "./helpers/hub-env.js";
import { bytes, fakeCommit, gitBlobSha1, sha256 } from "./helpers/mock-hub.js";

const env = useMockHub({ cachePrefix: "m3-hubc-" });
const { hub, opts } = env;

/** Writes a repo snapshot the way huggingface_hub (Python) leaves it. */
async function pythonCache(repo: string, commit: string, files: Record<string, { content: Buffer; lfs: boolean }>, ref = "main"): Promise<string> {
  const storage = join(env.cache, `models--${repo.replace("/", "--")}`);
  for (const [path, f] of Object.entries(files)) {
    const etag = f.lfs ? sha256(f.content) : gitBlobSha1(f.content);
    await mkdir(join(storage, "blobs"), { recursive: true });
    await writeFile(join(storage, "blobs", etag), f.content);
    const link = join(storage, "snapshots", commit, ...path.split("/"));
    await mkdir(dirname(link), { recursive: true });
    await symlink(`${"../".repeat(path.split("/").length - 1)}../../blobs/${etag}`, link);
  }
  await mkdir(join(storage, "refs"), { recursive: true });
  await writeFile(join(storage, "refs", ref), commit);
  return join(storage, "snapshots", commit);
}

const yunikoFiles = (seed: number): Record<string, { content: Buffer; lfs: boolean }> => ({
  "bge_m3_model.onnx": { content: bytes(700, seed), lfs: false },
  "bge_m3_model.onnx_data": { content: bytes(5000, seed + 1), lfs: true },
  "tokenizer.json": { content: bytes(3000, seed + 2), lfs: true },
  "README.md": { content: Buffer.from("# py"), lfs: false },
});

describe("offline mode and cache reuse", () => {
  it("offline without a cache -> HUB_OFFLINE saying what to run, and no request", async () => {
    for (const o of [opts({ localFilesOnly: true }), (vi.stubEnv("HF_HUB_OFFLINE", "1"), opts())]) {
      let err: unknown;
      await resolvePretrained("Xenova/bge-m3", { ...o, variant: "int8" }).catch((e: unknown) => (err = e));
      expect(isM3Error(err, "HUB_OFFLINE")).toBe(true);
      expect((err as Error).message).toMatch(/not in the cache at .*offline mode is on .*run `m3 download Xenova\/bge-m3 --variant int8`/);
    }
    expect(hub.log).toEqual([]);
  });

  it("offline after a download resolves from the cache with no request", async () => {
    const online = await resolvePretrained("Xenova/bge-m3", opts({ variant: "fp16" }));
    hub.log.length = 0;
    vi.stubEnv("HF_HUB_OFFLINE", "true");
    const offline = await resolvePretrained("Xenova/bge-m3", opts({ variant: "fp16" }));
    expect(offline).toEqual(online);
    expect(hub.log).toEqual([]);
  });

  it("a cache written by Python's huggingface_hub is reused as is (online and offline), with no request", async () => {
    const commit = fakeCommit("python");
    const dir = await pythonCache("yuniko-software/bge-m3-onnx", commit, yunikoFiles(100));
    for (const o of [opts(), opts({ localFilesOnly: true })]) {
      const r = await resolvePretrained("yuniko-software/bge-m3-onnx", o);
      expect(r.dir).toBe(dir);
      expect(r.commit).toBe(commit);
      expect([...r.files].sort()).toEqual(["bge_m3_model.onnx", "bge_m3_model.onnx_data", "tokenizer.json"]);
      expect(await readFile(join(r.dir, "bge_m3_model.onnx_data"))).toEqual(yunikoFiles(100)["bge_m3_model.onnx_data"]!.content);
    }
    expect(hub.log).toEqual([]);
  });

  it("blobs Python already has are linked, not downloaded again", async () => {
    const files = hub.repos.get("yuniko-software/bge-m3-onnx")!.files;
    // An older snapshot that shares the big blob but lacks the graph: not complete, so the Hub is asked.
    await pythonCache("yuniko-software/bge-m3-onnx", fakeCommit("old"), {
      "bge_m3_model.onnx_data": { content: files.get("bge_m3_model.onnx_data")!.content, lfs: true },
    });
    const r = await resolvePretrained("yuniko-software/bge-m3-onnx", opts());
    expect(r.commit).toBe(hub.repos.get("yuniko-software/bge-m3-onnx")!.commit);
    const cdn = hub.requests((q) => q.method === "GET" && q.path.startsWith("/cdn/"));
    expect(cdn.map((q) => q.path)).not.toContain(`/cdn/${sha256(files.get("bge_m3_model.onnx_data")!.content)}`);
    expect(cdn.length).toBeGreaterThan(0);
    const storage = join(env.cache, "models--yuniko-software--bge-m3-onnx");
    expect(await readFile(join(storage, "refs", "main"), "utf8")).toBe(r.commit);
    expect((await readdir(join(storage, "snapshots"))).sort()).toEqual([fakeCommit("old"), r.commit].sort());
  });

  it("a composed int8 folder is rebuilt offline from the two repos' snapshots", async () => {
    const online = await resolvePretrained("BAAI/bge-m3", opts({ variant: "int8" }));
    await rm(online.dir, { recursive: true });
    const offline = await resolvePretrained("BAAI/bge-m3", opts({ variant: "int8", localFilesOnly: true }));
    expect(offline.dir).toBe(online.dir);
    expect(await readFile(join(offline.dir, "colbert_linear.pt"))).toEqual(hub.repos.get("BAAI/bge-m3")!.files.get("colbert_linear.pt")!.content);
  });
});

describe("environment variables", () => {
  it("HF_HUB_CACHE, HF_HOME, XDG_CACHE_HOME and the default decide the cache folder", () => {
    expect(hubCacheDir("/x", { HF_HUB_CACHE: "/y" })).toBe("/x");
    expect(hubCacheDir(undefined, { HF_HUB_CACHE: "/y", HF_HOME: "/h" })).toBe("/y");
    expect(hubCacheDir(undefined, { HF_HOME: "/h" })).toBe(join("/h", "hub"));
    expect(hubCacheDir(undefined, { XDG_CACHE_HOME: "/c" })).toBe(join("/c", "huggingface", "hub"));
    expect(hubCacheDir(undefined, {})).toBe(join(homedir(), ".cache", "huggingface", "hub"));
  });

  it("HF_ENDPOINT, HF_HOME and HF_TOKEN are honoured", async () => {
    vi.stubEnv("HF_ENDPOINT", hub.url);
    vi.stubEnv("HF_HUB_CACHE", "");
    vi.stubEnv("HUGGINGFACE_HUB_CACHE", "");
    vi.stubEnv("HF_HOME", env.cache);
    vi.stubEnv("HF_TOKEN", "hf_env_token");
    const r = await resolvePretrained("yuniko-software/bge-m3-onnx", { downloadRetryDelayMs: 5 });
    expect(r.dir.startsWith(join(env.cache, "hub", "models--yuniko-software--bge-m3-onnx", "snapshots"))).toBe(true);
    const api = hub.requests((q) => !q.path.startsWith("/cdn/"));
    expect(api.length).toBeGreaterThan(0);
    expect(api.every((q) => q.authorization === "Bearer hf_env_token")).toBe(true);
  });
});
