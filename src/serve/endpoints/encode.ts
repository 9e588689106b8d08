/** `POST /v1/embeddings` (the OpenAI shape) and `POST /v1/encode` (all three outputs). */
import { ErrorCodes, M3Error } from "../../errors.js";
import type { M3Encoding } from "../../types.js";
import { float32Base64, inputTexts, oneOf, onlyFields, optBool, optInt, optString } from "../fields.js";
import { usage, type Handler } from "./context.js";

/** OpenAI's embeddings endpoint: dense vectors, `float` or `base64`; `dimensions` is refused. */
export const embeddings: Handler = async (body, ctx) => {
  onlyFields(body, ["input", "model", "encoding_format", "dimensions", "user"], "/v1/embeddings");
  const texts = inputTexts(body["input"]);
  optString(body["model"], "model");
  optString(body["user"], "user");
  const format = oneOf(body["encoding_format"], "encoding_format", ["float", "base64"], "float");
  if (body["dimensions"] !== undefined && body["dimensions"] !== null) {
    const dim = (await ctx.scheduler.encoder.fingerprint()).hiddenSize;
    if (body["dimensions"] !== dim) {
      throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `dimensions is not supported: BGE-M3's dense vectors have ${dim} dimensions and cannot be shortened; leave dimensions out.`);
    }
  }
  const enc = await ctx.scheduler.encode(texts, { dense: true, sparse: false, colbert: false }, ctx.signal);
  return {
    object: "list",
    data: enc.map((e, index) => ({ object: "embedding", index, embedding: format === "base64" ? float32Base64(e.dense!) : Array.from(e.dense!) })),
    model: ctx.options.modelName,
    usage: usage(enc),
  };
};

/** All three outputs of one forward pass, in the shapes asked for. */
export const encode: Handler = async (body, ctx) => {
  onlyFields(body, ["input", "model", "dense", "sparse", "colbert", "max_length", "sparse_format", "encoding_format"], "/v1/encode");
  const texts = inputTexts(body["input"]);
  optString(body["model"], "model");
  const want = { dense: optBool(body["dense"], "dense") ?? true, sparse: optBool(body["sparse"], "sparse") ?? true, colbert: optBool(body["colbert"], "colbert") ?? true };
  const maxLength = optInt(body["max_length"], "max_length", 2, 8192);
  const sparseFormat = oneOf(body["sparse_format"], "sparse_format", ["indices", "lexical_weights"], "indices");
  const b64 = oneOf(body["encoding_format"], "encoding_format", ["float", "base64"], "float") === "base64";
  const enc = await ctx.scheduler.encode(texts, { ...want, maxLength }, ctx.signal);
  return { object: "list", data: enc.map((e, index) => encodingJson(e, index, sparseFormat, b64)), model: ctx.options.modelName, usage: usage(enc) };
};

function encodingJson(e: M3Encoding, index: number, sparseFormat: "indices" | "lexical_weights", b64: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { index, tokens: e.tokenCount };
  if (e.dense) out["dense"] = b64 ? float32Base64(e.dense) : Array.from(e.dense);
  if (e.sparse) {
    const { indices, values } = e.sparse;
    if (sparseFormat === "lexical_weights") {
      const w: Record<string, number> = {};
      for (let i = 0; i < indices.length; i++) w[String(indices[i])] = values[i]!;
      out["sparse"] = w;
    } else out["sparse"] = { indices: Array.from(indices), values: b64 ? float32Base64(values) : Array.from(values) };
  }
  if (e.colbert) {
    const { data, tokens, dim } = e.colbert;
    out["colbert"] = b64
      ? { tokens, dim, data: float32Base64(data) }
      : Array.from({ length: tokens }, (_, t) => Array.from(data.subarray(t * dim, (t + 1) * dim)));
  }
  return out;
}
