/** `POST /v1/rerank`: query + documents → fused and per-mode scores, sorted (the Cohere/Jina shape). */
import { ErrorCodes, M3Error } from "../../errors.js";
import { checkRerankWeights, rerankEncodings, rerankOutputs } from "../../math/rerank.js";
import { DEFAULT_WEIGHTS } from "../../types.js";
import { describe } from "../../util/validate.js";
import { onlyFields, optBool, optInt, optString, requiredString } from "../fields.js";
import { usage, type Handler } from "./context.js";

export const rerank: Handler = async (body, ctx) => {
  onlyFields(body, ["query", "documents", "top_n", "weights", "max_length", "return_documents", "model"], "/v1/rerank");
  const query = requiredString(body["query"], "query");
  const docs = documentTexts(body["documents"]);
  optString(body["model"], "model");
  const topN = optInt(body["top_n"], "top_n", 1, 1_000_000) ?? docs.length;
  const weights = checkRerankWeights(body["weights"], DEFAULT_WEIGHTS);
  const maxLength = optInt(body["max_length"], "max_length", 2, 8192);
  const returnDocuments = optBool(body["return_documents"], "return_documents") ?? false;
  if (docs.length === 0) return { object: "list", results: [], model: ctx.options.modelName, usage: usage([]) };
  const enc = await ctx.scheduler.encode([query, ...docs], { ...rerankOutputs(weights), maxLength }, ctx.signal);
  const ranked = rerankEncodings(enc[0]!, enc.slice(1), weights, topN);
  return {
    object: "list",
    results: ranked.map((r) => ({
      index: r.index,
      relevance_score: r.score,
      scores: r.scores,
      ...(returnDocuments ? { document: { text: docs[r.index] } } : {}),
    })),
    model: ctx.options.modelName,
    usage: usage(enc),
  };
};

/** `documents`: strings, or `{ text }` objects as the Cohere API also takes. */
function documentTexts(v: unknown): string[] {
  if (!Array.isArray(v)) throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `documents must be an array of strings (or { text } objects); got ${describe(v)}.`);
  return v.map((d: unknown, i) => {
    if (typeof d === "string") return d;
    if (d !== null && typeof d === "object" && !Array.isArray(d) && typeof (d as { text?: unknown }).text === "string" && Object.keys(d).length === 1) return (d as { text: string }).text;
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `documents[${i}] must be a string or { text: string }; got ${describe(d)}.`);
  });
}
