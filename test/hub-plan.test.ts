import { describe, expect, it } from "vitest";
import { isM3Error } from "../src/errors.js";
import { planFiles, sidecarsOf, type TreeSource } from "../src/hub/plan.js";

const BAAI = ["1_Pooling/config.json", "README.md", "colbert_linear.pt", "config.json", "onnx/Constant_7_attr__value", "onnx/config.json", "onnx/model.onnx", "onnx/model.onnx_data", "onnx/tokenizer.json", "pytorch_model.bin", "sparse_linear.pt", "tokenizer.json"];
const XENOVA = ["README.md", "config.json", "onnx/model.onnx", "onnx/model_fp16.onnx", "onnx/model_quantized.onnx", "onnx/model_q4.onnx", "tokenizer.json"];
const trees: Record<string, string[]> = {
  "BAAI/bge-m3": BAAI,
  "Xenova/bge-m3": XENOVA,
  "aapot/bge-m3-onnx": ["Constant_7_attr__value", "colbert_linear.pt", "config.json", "model.onnx", "model.onnx.data", "tokenizer.json"],
  "me/encoder-only-bare": ["onnx/model.onnx", "onnx/model.onnx_data_0", "onnx/model.onnx_data_1"],
  "me/not-a-model": ["pytorch_model.bin", "README.md"],
};
const seen: string[] = [];
const tree: TreeSource = async (repo, revision) => {
  seen.push(`${repo}@${revision}`);
  return trees[repo];
};
const show = (p: { picks: Array<{ repo: string; revision: string; path: string }> }): string[] => p.picks.map((x) => `${x.repo}@${x.revision}:${x.path}`);

describe("which files a layout needs", () => {
  it("BAAI/bge-m3 fp32: encoder graph, data, Constant_* sidecars, heads, tokenizer, config; graph last", async () => {
    const p = await planFiles("BAAI/bge-m3", "v1", "fp32", tree);
    expect(p.layout).toBe("encoder-only");
    expect(show(p)).toEqual(
      ["sparse_linear.pt", "colbert_linear.pt", "tokenizer.json", "config.json", "onnx/Constant_7_attr__value", "onnx/model.onnx_data", "onnx/model.onnx"].map(
        (f) => `BAAI/bge-m3@v1:${f}`,
      ),
    );
  });

  it("BAAI/bge-m3 int8: graph, tokenizer and config from Xenova/bge-m3 main, heads from BAAI at the revision", async () => {
    const p = await planFiles("BAAI/bge-m3", "v1", "int8", tree);
    expect(p.graphRepo).toBe("Xenova/bge-m3");
    expect(show(p)).toEqual([
      "BAAI/bge-m3@v1:sparse_linear.pt",
      "BAAI/bge-m3@v1:colbert_linear.pt",
      "Xenova/bge-m3@main:tokenizer.json",
      "Xenova/bge-m3@main:config.json",
      "Xenova/bge-m3@main:onnx/model_quantized.onnx",
    ]);
  });

  it("Xenova/bge-m3 fp16: heads from BAAI/bge-m3 main", async () => {
    const p = await planFiles("Xenova/bge-m3", "main", "fp16", tree);
    expect(show(p)).toContain("BAAI/bge-m3@main:colbert_linear.pt");
    expect(show(p).at(-1)).toBe("Xenova/bge-m3@main:onnx/model_fp16.onnx");
  });

  it("aapot: the three-head graph at the root, no heads", async () => {
    const p = await planFiles("aapot/bge-m3-onnx", "main", "fp32", tree);
    expect(p.layout).toBe("three-heads-aapot");
    expect(show(p).map((s) => s.split(":")[1])).toEqual(["tokenizer.json", "config.json", "Constant_7_attr__value", "model.onnx.data", "model.onnx"]);
  });

  it("a bare encoder-only repo takes heads and tokenizer from BAAI/bge-m3, and numbered data shards", async () => {
    const p = await planFiles("me/encoder-only-bare", "main", "fp32", tree);
    expect(show(p)).toEqual([
      "BAAI/bge-m3@main:sparse_linear.pt",
      "BAAI/bge-m3@main:colbert_linear.pt",
      "BAAI/bge-m3@main:tokenizer.json",
      "BAAI/bge-m3@main:config.json",
      "me/encoder-only-bare@main:onnx/model.onnx_data_0",
      "me/encoder-only-bare@main:onnx/model.onnx_data_1",
      "me/encoder-only-bare@main:onnx/model.onnx",
    ]);
  });

  it("no graph of the variant -> MODEL_NOT_FOUND listing the files and the supported repositories", async () => {
    for (const [repo, variant] of [["me/not-a-model", "fp32"], ["aapot/bge-m3-onnx", "fp16"]] as const) {
      const err = await planFiles(repo, "main", variant, tree).catch((e: unknown) => e);
      expect(isM3Error(err, "MODEL_NOT_FOUND")).toBe(true);
      expect((err as Error).message).toMatch(/Its files: .*Supported repositories: BAAI\/bge-m3/);
    }
  });

  it("sidecars: external data (_data, .data, numbered) and Constant_* in the graph's folder only", () => {
    const files = ["onnx/model.onnx", "onnx/model.onnx_data", "onnx/model.onnx.data", "onnx/model.onnx_data_3", "onnx/Constant_1", "onnx/model_fp16.onnx", "onnx/model_fp16.onnx_data", "Constant_2", "onnx/model.onnx_database"];
    expect(sidecarsOf("onnx/model.onnx", files)).toEqual(["onnx/model.onnx_data", "onnx/model.onnx.data", "onnx/model.onnx_data_3", "onnx/Constant_1"]);
    expect(sidecarsOf("onnx/model_fp16.onnx", files)).toEqual(["onnx/Constant_1", "onnx/model_fp16.onnx_data"]);
  });
});
