/** `POST /v1/search` over the server's index or collection, and the `/v1/documents` writes (key + `writable` only). */
import { ErrorCodes, M3Error } from "../../errors.js";
import type { M3HybridStore } from "../../open.js";
import type { FusionMethod, MetadataFilter, SearchMode } from "../../retrieve/options.js";
import type { SearchHit } from "../../retrieve/search.js";
import { describe } from "../../util/validate.js";
import { oneOf, onlyFields, optInt, optObject, requiredString } from "../fields.js";
import type { EndpointContext, Handler } from "./context.js";

function storeOf(ctx: EndpointContext): M3HybridStore {
  if (ctx.store === undefined) {
    throw new M3Error(ErrorCodes.NOT_FOUND, "This server has no index or collection to search; start it with --index <dir> or --pg <url>.");
  }
  return ctx.store;
}

export const search: Handler = async (body, ctx) => {
  onlyFields(body, ["query", "k", "filter", "weights", "modes", "fusion", "candidates", "rerank", "rrf_k", "colbert_candidates"], "/v1/search");
  const store = storeOf(ctx);
  const query = requiredString(body["query"], "query");
  const modes = body["modes"];
  if (modes !== undefined && !Array.isArray(modes)) throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `modes must be an array such as ["dense", "sparse", "colbert"]; got ${describe(modes)}.`);
  const hits = await store.search(query, {
    k: optInt(body["k"], "k", 1, 10_000),
    filter: optObject(body["filter"], "filter") as MetadataFilter | undefined,
    weights: optObject(body["weights"], "weights"),
    modes: modes as SearchMode[] | undefined,
    fusion: body["fusion"] === undefined ? undefined : oneOf<FusionMethod>(body["fusion"], "fusion", ["weighted", "rrf"], "weighted"),
    candidates: optInt(body["candidates"], "candidates", 1, 100_000),
    rerank: optInt(body["rerank"], "rerank", 1, 100_000),
    rrfK: body["rrf_k"] as number | undefined,
    colbertCandidates: optInt(body["colbert_candidates"], "colbert_candidates", 0, 100_000),
    signal: ctx.signal,
  });
  return { object: "list", hits: hits.map(hitJson) };
};

/** A hit as JSON: id, fused score, per-mode scores, the stored text and metadata. */
export function hitJson(h: SearchHit): Record<string, unknown> {
  return { id: h.id, score: h.score, scores: h.scores, page_content: h.document.pageContent, metadata: h.document.metadata ?? {} };
}

function writableStore(ctx: EndpointContext): M3HybridStore {
  if (!ctx.options.writable) throw new M3Error(ErrorCodes.FORBIDDEN, "Document writes are off on this server; start it with --writable (and --api-key-file).");
  if (!ctx.authenticated || ctx.options.apiKey === undefined) throw new M3Error(ErrorCodes.UNAUTHORIZED, "Document writes need the server's API key as Authorization: Bearer <key>.");
  return storeOf(ctx);
}

/** Upserts documents `{ id?, page_content, metadata? }`; answers their ids. */
export const upsertDocuments: Handler = async (body, ctx) => {
  onlyFields(body, ["documents"], "/v1/documents");
  const store = writableStore(ctx);
  const docs = body["documents"];
  if (!Array.isArray(docs)) throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `documents must be an array of { id?, page_content, metadata? }; got ${describe(docs)}.`);
  const limit = ctx.options.limits.maxTexts;
  if (docs.length > limit) throw new M3Error(ErrorCodes.TOO_LARGE, `A request may hold at most limits.maxTexts (${limit}) documents; got ${docs.length}.`);
  const inputs = docs.map((d: unknown, i) => {
    const o = optObject(d, `documents[${i}]`);
    if (o === undefined) throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `documents[${i}] must be an object { id?, page_content, metadata? }.`);
    onlyFields(o, ["id", "page_content", "metadata"], `documents[${i}]`);
    return { id: o["id"] as string | undefined, pageContent: requiredString(o["page_content"], `documents[${i}].page_content`), metadata: optObject(o["metadata"], `documents[${i}].metadata`) };
  });
  const ids = await store.addDocuments(inputs, { signal: ctx.signal });
  await ctx.persist();
  return { ids };
};

/** Deletes `{ ids }` or `{ filter }`; answers how many went. */
export const deleteDocuments: Handler = async (body, ctx) => {
  onlyFields(body, ["ids", "filter"], "/v1/documents/delete");
  const store = writableStore(ctx);
  if ((body["ids"] === undefined) === (body["filter"] === undefined)) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, "Send exactly one of { ids: [...] } or { filter: {...} }.");
  }
  let deleted: number;
  if (body["ids"] !== undefined) {
    const r = await store.delete(body["ids"] as string[], { signal: ctx.signal });
    deleted = r.deleted;
  } else {
    deleted = await store.deleteWhere(optObject(body["filter"], "filter") as MetadataFilter, { signal: ctx.signal });
  }
  await ctx.persist();
  return { deleted };
};
