/** The graph decides which external-data files are fetched, and whether a cached snapshot is complete. */
import { unlink } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isM3Error } from "../src/errors.js";
import { resolvePretrained } from "../src/hub/index.js";
import { graphFileLocations } from "../src/hub/onnx-refs.js";
import { useMockHub } from "./helpers/hub-env.js";
import { bytes } from "./helpers/mock-hub.js";

const MODELS = join(import.meta.dirname, "fixtures/models");

/** Protobuf bytes: a length-delimited field. */
const ld = (field: number, payload: Buffer): Buffer => {
  const len: number[] = [];
  let n = payload.length;
  do {
    len.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n >>>= 7;
  } while (n > 0);
  return Buffer.concat([Buffer.from([(field << 3) | 2, ...len]), payload]);
};
const entry = (k: string, v: string): Buffer => Buffer.concat([ld(1, Buffer.from(k)), ld(2, Buffer.from(v))]);
/** ModelProto with one initializer in `locations[0]` and a Constant node whose tensor is in `locations[1]`. */
function graphReferring(locations: string[]): Buffer {
  const tensor = (loc: string): Buffer => Buffer.concat([ld(8, Buffer.from("w")), ld(13, entry("location", loc)), ld(13, entry("offset", "0"))]);
  const node = ld(5, Buffer.concat([ld(1, Buffer.from("value")), ld(5, tensor(locations[1]!))]));
  const graph = Buffer.concat([ld(1, node), ld(5, tensor(locations[0]!))]);
  return Buffer.concat([Buffer.from([0x08, 0x08]), ld(7, graph)]);
}

const env = useMockHub({
  cachePrefix: "m3-hubg-",
  bgeRepos: false,
  setup: (hub) => {
    hub.addRepo("me/custom", {
      "model.onnx": graphReferring(["weights.bin", "Constant_5_attr__value"]),
      "weights.bin": { content: bytes(9000, 1), lfs: true },
      "Constant_5_attr__value": { content: bytes(64, 2), lfs: true },
      "Constant_6_attr__value": { content: bytes(64, 3), lfs: true },
      "model.onnx_data": { content: bytes(5000, 4), lfs: true },
      "tokenizer.json": bytes(3000, 5),
    });
    hub.addRepo("me/broken", { "model.onnx": graphReferring(["gone.bin", "gone.bin"]), "tokenizer.json": bytes(3000, 5) });
  },
});
const { hub, opts } = env;

describe("external data named by the graph", () => {
  it("reads the locations of the fixture graphs (initializers and Constant nodes)", async () => {
    expect(await graphFileLocations(join(MODELS, "encoder-only/onnx/model.onnx"))).toEqual(["model.onnx_data"]);
    expect(await graphFileLocations(join(MODELS, "encoder-only/onnx/model_quantized.onnx"))).toEqual([]);
    expect(await graphFileLocations(join(MODELS, "three-heads-aapot/model.onnx"))).toEqual(["Constant_107_attr__value", "model.onnx.data"]);
    expect(await graphFileLocations(join(MODELS, "three-heads-yuniko/bge_m3_model.onnx"))).toEqual(["bge_m3_model.onnx_data"]);
  });

  it("fetches exactly the files the graph refers to, whatever their names", async () => {
    let last = { bytes: -1, total: -2 };
    const r = await resolvePretrained("me/custom", opts({ onProgress: (p) => (last = p) }));
    expect(last.bytes).toBe(last.total);
    expect([...r.files].sort()).toEqual(["Constant_5_attr__value", "model.onnx", "tokenizer.json", "weights.bin"]);
    const got = hub.requests((q) => q.method === "HEAD").map((q) => q.path.split("/").at(-1));
    expect(got).toContain("weights.bin");
    expect(hub.requests((q) => q.method === "GET" && q.path.startsWith("/cdn/"))).toHaveLength(3);
  });

  it("a cached snapshot missing a referenced file is incomplete: online it is fetched again, offline it is HUB_OFFLINE", async () => {
    const r = await resolvePretrained("me/custom", opts());
    await unlink(join(r.dir, "weights.bin"));
    const offline = await resolvePretrained("me/custom", opts({ localFilesOnly: true })).catch((e: unknown) => e);
    expect(isM3Error(offline, "HUB_OFFLINE")).toBe(true);
    hub.log.length = 0;
    const again = await resolvePretrained("me/custom", opts());
    expect(again.files).toContain("weights.bin");
    // the blob was still there: linked again, not downloaded again
    expect(hub.requests((q) => q.method === "GET" && !q.path.startsWith("/api/"))).toEqual([]);
  });

  it("a graph referring to a file the repository lacks -> MODEL_INVALID naming it", async () => {
    const err = await resolvePretrained("me/broken", opts()).catch((e: unknown) => e);
    expect(isM3Error(err, "MODEL_INVALID")).toBe(true);
    expect((err as Error).message).toMatch(/keeps weights in "gone.bin", which the repository does not have/);
  });
});
