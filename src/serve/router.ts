/** The route table: method and path → handler, whether it needs the API key, a JSON body, and the loaded model. */
import type { Handler } from "./endpoints/context.js";
import { embeddings, encode } from "./endpoints/encode.js";
import { info, models } from "./endpoints/info.js";
import { rerank } from "./endpoints/rerank.js";
import { deleteDocuments, search, upsertDocuments } from "./endpoints/search.js";

export interface Route {
  handler: Handler;
  /** POST routes read a JSON body. */
  body: boolean;
}

/** Every JSON endpoint; `/health`, `/ready` and `/metrics` are answered by the server itself. */
export const ROUTES: ReadonlyMap<string, Route> = new Map([
  ["POST /v1/embeddings", { handler: embeddings, body: true }],
  ["POST /v1/encode", { handler: encode, body: true }],
  ["POST /v1/rerank", { handler: rerank, body: true }],
  ["POST /v1/search", { handler: search, body: true }],
  ["POST /v1/documents", { handler: upsertDocuments, body: true }],
  ["POST /v1/documents/delete", { handler: deleteDocuments, body: true }],
  ["GET /v1/models", { handler: models, body: false }],
  ["GET /v1/info", { handler: info, body: false }],
]);

/** Paths that exist (for 405 instead of 404 on a wrong method). */
export const PATHS: ReadonlySet<string> = new Set([...[...ROUTES.keys()].map((k) => k.slice(k.indexOf(" ") + 1)), "/health", "/ready", "/metrics"]);
