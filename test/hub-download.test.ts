import { readdirSync } from "node:fs";
import { lstat, readFile, readdir, readlink, realpath } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { resolvePretrained } from "../src/hub/index.js";
import type { DownloadProgress } from "../src/hub/index.js";
import { useMockHub } from "./helpers/hub-env.js";

const env = useMockHub({ cachePrefix: "m3-hub-" });
const { hub, opts } = env;

/** All files under a folder (lstat, links not followed). */
async function walk(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix + e.name;
    if (e.isDirectory()) out.push(...(await walk(join(dir, e.name), `${rel}/`)));
    else out.push(rel);
  }
  return out.sort();
}

describe("BAAI/bge-m3 fp32 (encoder-only) into the huggingface_hub cache", () => {
  it("downloads only the layout's files and lays them out as huggingface_hub does, byte for byte", async () => {
    const repo = hub.repos.get("BAAI/bge-m3")!;
    const r = await resolvePretrained("BAAI/bge-m3", opts());
    const storage = join(env.cache, "models--BAAI--bge-m3");
    expect(r.dir).toBe(join(storage, "snapshots", repo.commit));
    expect(r.commit).toBe(repo.commit);
    expect(r.variant).toBe("fp32");
    const want = ["colbert_linear.pt", "config.json", "onnx/Constant_7_attr__value", "onnx/model.onnx", "onnx/model.onnx_data", "sparse_linear.pt", "tokenizer.json"];
    expect([...r.files].sort()).toEqual(want);
    expect(r.files[r.files.length - 1]).toBe("onnx/model.onnx");
    // refs/main: the commit hash, no newline
    expect(await readFile(join(storage, "refs", "main"), "utf8")).toBe(repo.commit);
    // every snapshot entry is a relative symlink to ../../blobs/<etag> (one more ../ per folder)
    const snap = await walk(r.dir);
    expect(snap).toEqual(want);
    for (const f of want) {
      const etag = hub.etagOf("BAAI/bge-m3", f);
      const depth = f.split("/").length - 1;
      expect((await lstat(join(r.dir, f))).isSymbolicLink()).toBe(true);
      expect(await readlink(join(r.dir, f))).toBe(`${"../".repeat(depth)}../../blobs/${etag}`);
      expect(await readFile(join(storage, "blobs", etag))).toEqual(repo.files.get(f)!.content);
    }
    // blobs: exactly one per file, nothing incomplete or temporary left
    expect(await readdir(join(storage, "blobs"))).toHaveLength(want.length);
    expect(await walk(storage)).toEqual(
      [...want.map((f) => `blobs/${hub.etagOf("BAAI/bge-m3", f)}`), "refs/main", ...want.map((f) => `snapshots/${repo.commit}/${f}`)].sort(),
    );
    // nothing else was fetched (pytorch_model.bin, README.md, onnx/tokenizer.json ...)
    const fetched = hub.requests((q) => q.method === "GET" && !q.path.startsWith("/api/"));
    expect(fetched.some((q) => /pytorch_model|README|1_Pooling/.test(q.path))).toBe(false);
  });

  it("a second call reuses the cache without any request", async () => {
    await resolvePretrained("BAAI/bge-m3", opts());
    hub.log.length = 0;
    const r = await resolvePretrained("BAAI/bge-m3", opts());
    expect(hub.log).toEqual([]);
    expect(r.files).toContain("onnx/model.onnx_data");
  });

  it("reports progress with bytes, totals, rate and ETA, and a final report per file", async () => {
    const seen: DownloadProgress[] = [];
    await resolvePretrained("yuniko-software/bge-m3-onnx", opts({ onProgress: (p) => seen.push({ ...p }) }));
    const files = hub.repos.get("yuniko-software/bge-m3-onnx")!.files;
    const total = ["bge_m3_model.onnx", "bge_m3_model.onnx_data", "tokenizer.json"].reduce((n, f) => n + files.get(f)!.content.length, 0);
    const done = seen.filter((p) => p.fileDone);
    expect(done.map((p) => p.file).sort()).toEqual(["bge_m3_model.onnx", "bge_m3_model.onnx_data", "tokenizer.json"]);
    const last = seen[seen.length - 1]!;
    expect(last.bytes).toBe(total);
    expect(last.total).toBe(total);
    expect(last.etaSeconds).toBe(0);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.bytes).toBeGreaterThanOrEqual(seen[i - 1]!.bytes);
    expect(seen.every((p) => p.rate >= 0 && Number.isFinite(p.rate))).toBe(true);
  });

  it("nothing is visible in snapshots/ while downloading; concurrent calls share one download", async () => {
    const snapshots = join(env.cache, "models--yuniko-software--bge-m3-onnx", "snapshots");
    const visible: string[] = [];
    const onProgress = (p: DownloadProgress): void => {
      if (p.fileDone) return;
      try {
        visible.push(...readdirSync(snapshots));
      } catch {
        // not created yet
      }
    };
    const [a, b] = await Promise.all([
      resolvePretrained("yuniko-software/bge-m3-onnx", opts({ onProgress })),
      resolvePretrained("yuniko-software/bge-m3-onnx", opts()),
    ]);
    expect(a).toEqual(b);
    expect(visible).toEqual([]);
    const sha = hub.etagOf("yuniko-software/bge-m3-onnx", "bge_m3_model.onnx_data");
    expect(hub.requests((q) => q.method === "GET" && q.path === `/cdn/${sha}`)).toHaveLength(1);
  });

  it("lists the tree across pages (Link header)", async () => {
    hub.pageSize = 3;
    try {
      const r = await resolvePretrained("BAAI/bge-m3", opts());
      expect(r.files).toContain("onnx/Constant_7_attr__value");
      expect(hub.requests((q) => q.path.includes("/tree/")).length).toBeGreaterThan(2);
    } finally {
      hub.pageSize = 1000;
    }
  });
});

describe("other layouts and variants", () => {
  it("aapot three-head export: model.onnx + model.onnx.data + Constant_* + tokenizer, no heads", async () => {
    const r = await resolvePretrained("aapot/bge-m3-onnx", opts());
    expect([...r.files].sort()).toEqual(["Constant_7_attr__value", "config.json", "model.onnx", "model.onnx.data", "tokenizer.json"]);
    expect(r.dir).toContain(join("models--aapot--bge-m3-onnx", "snapshots"));
  });

  it("yuniko three-head export: bge_m3_model.onnx + .onnx_data + tokenizer.json", async () => {
    const r = await resolvePretrained("yuniko-software/bge-m3-onnx", opts());
    expect([...r.files].sort()).toEqual(["bge_m3_model.onnx", "bge_m3_model.onnx_data", "tokenizer.json"]);
  });

  it("Xenova int8: graph from Xenova, heads from BAAI, one composed folder of links", async () => {
    const r = await resolvePretrained("Xenova/bge-m3", opts({ variant: "int8" }));
    const x = hub.repos.get("Xenova/bge-m3")!;
    const b = hub.repos.get("BAAI/bge-m3")!;
    expect(r.variant).toBe("int8");
    expect(r.commit).toBe(x.commit);
    expect(r.dir.startsWith(join(env.cache, "models--Xenova--bge-m3", "langchain-m3", "int8-"))).toBe(true);
    expect([...r.files].sort()).toEqual(["colbert_linear.pt", "config.json", "onnx/model_quantized.onnx", "sparse_linear.pt", "tokenizer.json"]);
    expect(await readFile(join(r.dir, "onnx/model_quantized.onnx"))).toEqual(x.files.get("onnx/model_quantized.onnx")!.content);
    expect(await readFile(join(r.dir, "sparse_linear.pt"))).toEqual(b.files.get("sparse_linear.pt")!.content);
    // links go to the snapshot entries of each repo (relative), which go to the blobs
    expect(await readlink(join(r.dir, "sparse_linear.pt"))).toBe(`../../../models--BAAI--bge-m3/snapshots/${b.commit}/sparse_linear.pt`);
    expect(await realpath(join(r.dir, "sparse_linear.pt"))).toBe(
      await realpath(join(env.cache, "models--BAAI--bge-m3", "blobs", hub.etagOf("BAAI/bge-m3", "sparse_linear.pt"))),
    );
    // each repo got only its own files, in its own cache entry
    expect(await walk(join(env.cache, "models--BAAI--bge-m3", "snapshots", b.commit))).toEqual(["colbert_linear.pt", "sparse_linear.pt"]);
    expect(await readFile(join(env.cache, "models--BAAI--bge-m3", "refs", "main"), "utf8")).toBe(b.commit);
    expect(await walk(join(env.cache, "models--Xenova--bge-m3", "snapshots", x.commit))).toEqual(["config.json", "onnx/model_quantized.onnx", "tokenizer.json"]);
  });

  it("BAAI/bge-m3 fp16 takes the graph from Xenova/bge-m3 and its own heads", async () => {
    const r = await resolvePretrained("BAAI/bge-m3", opts({ variant: "fp16" }));
    expect(r.files).toContain("onnx/model_fp16.onnx");
    expect(r.commit).toBe(hub.repos.get("BAAI/bge-m3")!.commit);
    expect(await readFile(join(r.dir, "onnx/model_fp16.onnx"))).toEqual(hub.repos.get("Xenova/bge-m3")!.files.get("onnx/model_fp16.onnx")!.content);
    hub.log.length = 0;
    const again = await resolvePretrained("BAAI/bge-m3", opts({ variant: "fp16" }));
    expect(again.dir).toBe(r.dir);
    expect(hub.log).toEqual([]);
  });

  it("a revision given as a commit hash needs no refs file", async () => {
    const commit = hub.repos.get("yuniko-software/bge-m3-onnx")!.commit;
    const r = await resolvePretrained("yuniko-software/bge-m3-onnx", opts({ revision: commit }));
    expect(r.commit).toBe(commit);
    expect(await readdir(join(env.cache, "models--yuniko-software--bge-m3-onnx"))).toEqual(["blobs", "snapshots"]);
  });
});
