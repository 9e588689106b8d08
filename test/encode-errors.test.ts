import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { M3Encoder } from "../src/encode/encoder.js";
import { M3Tokenizer } from "../src/tokenize/tokenizer.js";
import { isM3Error, type ErrorCode } from "../src/errors.js";

/** A tiny but valid tokenizer.json (Unigram with the XLM-R specials). */
const MINI_TOKENIZER = JSON.stringify({
  version: "1.0", truncation: null, padding: null, added_tokens: [], normalizer: null, pre_tokenizer: null,
  post_processor: null, decoder: null,
  model: { type: "Unigram", unk_id: 3, vocab: [["<s>", 0], ["<pad>", 0], ["</s>", 0], ["<unk>", 0], ["a", -1], ["b", -2]], byte_fallback: false },
});
const PT = join(import.meta.dirname, "data/pt/sparse_fp16.pt");

function folder(files: Record<string, string | Buffer>): string {
  const dir = mkdtempSync(join(tmpdir(), "m3layout-"));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
}

async function failure(p: Promise<unknown>): Promise<Error & { code: ErrorCode }> {
  try {
    await p;
  } catch (e) {
    if (isM3Error(e)) return e as Error & { code: ErrorCode };
    throw e;
  }
  throw new Error("expected a rejection");
}

describe("model folder detection", () => {
  it("a missing folder -> MODEL_NOT_FOUND saying so, with the layouts and repos", async () => {
    const e = await failure(M3Encoder.load({ modelPath: "/nonexistent/bge-m3" }));
    expect(e.code).toBe("MODEL_NOT_FOUND");
    expect(e.message).toMatch(/\/nonexistent\/bge-m3 does not exist/);
    expect(e.message).toMatch(/aapot\/bge-m3-onnx/);
    expect(e.message).toMatch(/yuniko-software\/bge-m3-onnx/);
    expect(e.message).toMatch(/BAAI\/bge-m3/);
  });

  it("a folder with only some files -> MODEL_NOT_FOUND listing what was found and what is expected", async () => {
    const dir = folder({ "tokenizer.json": MINI_TOKENIZER, "sparse_linear.pt": "x", "README.md": "hi", "onnx/notes.txt": "" });
    const e = await failure(M3Encoder.load({ modelPath: dir }));
    expect(e.code).toBe("MODEL_NOT_FOUND");
    expect(e.message).toMatch(/No fp32 ONNX graph \(bge_m3_model\.onnx or model\.onnx or onnx\/model\.onnx\)/);
    expect(e.message).toMatch(/Found: README\.md, onnx, onnx\/notes\.txt, sparse_linear\.pt, tokenizer\.json/);
    expect(e.message).toMatch(/colbert_linear\.pt/);
  });

  it("an encoder-only graph without its head files -> MODEL_NOT_FOUND naming the missing file", async () => {
    const dir = folder({ "tokenizer.json": MINI_TOKENIZER, "onnx/model.onnx": "x", "colbert_linear.pt": "x" });
    const e = await failure(M3Encoder.load({ modelPath: dir }));
    expect(e.code).toBe("MODEL_NOT_FOUND");
    expect(e.message).toMatch(/onnx\/model\.onnx is an encoder-only graph.*sparse_linear\.pt \(from BAAI\/bge-m3\) is missing/);
  });

  it("a variant that is not there -> MODEL_NOT_FOUND naming the variant file", async () => {
    const dir = folder({ "tokenizer.json": MINI_TOKENIZER, "onnx/model.onnx": "x" });
    const e = await failure(M3Encoder.load({ modelPath: dir, variant: "int8" }));
    expect(e.code).toBe("MODEL_NOT_FOUND");
    expect(e.message).toMatch(/No int8 ONNX graph \(onnx\/model_quantized\.onnx or model_quantized\.onnx\).*Found: onnx, onnx\/model\.onnx/s);
  });

  it("a graph without tokenizer.json -> TOKENIZER_ERROR saying where to get it", async () => {
    const dir = folder({ "bge_m3_model.onnx": "x" });
    const e = await failure(M3Encoder.load({ modelPath: dir }));
    expect(e.code).toBe("TOKENIZER_ERROR");
    expect(e.message).toMatch(/tokenizer\.json not found.*Download tokenizer\.json.*BAAI\/bge-m3/s);
  });

  it("a truncated or corrupt .onnx -> MODEL_INVALID naming the file", async () => {
    const dir = folder({ "tokenizer.json": MINI_TOKENIZER, "onnx/model.onnx": Buffer.from([8, 7, 18, 3, 0x61]) });
    copyFileSync(PT, join(dir, "sparse_linear.pt"));
    copyFileSync(PT, join(dir, "colbert_linear.pt"));
    const e = await failure(M3Encoder.load({ modelPath: dir }));
    expect(e.code).toBe("MODEL_INVALID");
    expect(e.message).toMatch(/onnxruntime cannot load .*onnx\/model\.onnx.*re-download/s);
  });

  it("a failed load can be retried once the folder is fixed", async () => {
    const dir = folder({});
    const enc = new M3Encoder({ modelPath: dir });
    await expect(enc.load()).rejects.toMatchObject({ code: "MODEL_NOT_FOUND" });
    await expect(enc.load()).rejects.toMatchObject({ code: "MODEL_NOT_FOUND" });
  });
});

describe("tokenizer.json", () => {
  it("missing -> TOKENIZER_ERROR", async () => {
    const e = await failure(M3Tokenizer.load("/nonexistent/tokenizer.json"));
    expect(e.code).toBe("TOKENIZER_ERROR");
    expect(e.message).toMatch(/Cannot read \/nonexistent\/tokenizer\.json.*BAAI\/bge-m3/s);
  });
  for (const [what, content] of [["truncated", MINI_TOKENIZER.slice(0, 80)], ["not a tokenizer", '{"hello": 1}'], ["empty", ""]]) {
    it(`${what} -> TOKENIZER_ERROR`, async () => {
      const dir = folder({ "tokenizer.json": content! });
      const e = await failure(M3Tokenizer.load(join(dir, "tokenizer.json")));
      expect(e.code).toBe("TOKENIZER_ERROR");
      expect(e.message).toMatch(/is not a valid Hugging Face tokenizer\.json.*corrupt/s);
    });
  }
  it("wraps content ids in <s> … </s> and truncates to maxLength - 2 content tokens", async () => {
    const dir = folder({ "tokenizer.json": MINI_TOKENIZER });
    const tk = await M3Tokenizer.load(join(dir, "tokenizer.json"));
    expect(tk.vocabSize).toBe(6);
    expect(tk.sha256).toMatch(/^[0-9a-f]{64}$/);
    const [a, b, c] = await tk.tokenize(["abab", "", "ab"], 4);
    expect(Array.from(a!)).toEqual([0, 4, 5, 2]);
    expect(Array.from(b!)).toEqual([0, 2]);
    expect(Array.from(c!)).toEqual([0, 4, 5, 2]);
    expect(tk.idToToken(5)).toBe("b");
    expect(tk.idToToken(999)).toBeUndefined();
  });
});

describe("encode input validation (before any model is loaded)", () => {
  const enc = new M3Encoder({ modelPath: "/nonexistent" });
  const cases: Array<[string, () => Promise<unknown>, ErrorCode, RegExp]> = [
    ["null entry", () => enc.encode(["a", null as never]), "INVALID_ARGUMENT", /texts\[1\] must be a string; got null/],
    ["number entry", () => enc.encode([3 as never]), "INVALID_ARGUMENT", /texts\[0\] must be a string; got 3/],
    ["not an array", () => enc.encode("abc" as never), "INVALID_ARGUMENT", /texts must be an array of strings/],
    ["maxLength NaN", () => enc.encode(["a"], { maxLength: NaN }), "OUT_OF_RANGE", /maxLength must be an integer from 2 to 8192; got NaN/],
    ["maxLength 1", () => enc.encode(["a"], { maxLength: 1 }), "OUT_OF_RANGE", /got 1/],
    ["maxLength 8193", () => enc.encode(["a"], { maxLength: 8193 }), "OUT_OF_RANGE", /got 8193/],
  ];
  for (const [what, call, code, msg] of cases) {
    it(`${what} -> ${code}`, async () => {
      const e = await failure(call());
      expect(e.code).toBe(code);
      expect(e.message).toMatch(msg);
    });
  }
  it("[] -> [] without loading", async () => {
    await expect(enc.encode([])).resolves.toEqual([]);
  });
  it("use after dispose -> DISPOSED", async () => {
    const e2 = new M3Encoder({ modelPath: "/nonexistent" });
    await e2.dispose();
    await e2.dispose();
    expect((await failure(e2.encode(["a"]))).code).toBe("DISPOSED");
    expect((await failure(e2.fingerprint())).code).toBe("DISPOSED");
  });
});
