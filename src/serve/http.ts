/** JSON responses, errors as `{ error: { code, message } }` with the package's codes, and the status of each code. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { ErrorCodes, isM3Error, M3Error, type ErrorCode } from "../errors.js";

/** The HTTP status of each error code. */
const STATUS: Partial<Record<ErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  OUT_OF_RANGE: 400,
  INDEX_MODEL_MISMATCH: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  TIMEOUT: 504,
  TOO_LARGE: 413,
  OVERLOADED: 429,
  ABORTED: 499,
  BACKEND_UNAVAILABLE: 503,
  DISPOSED: 503,
};

/** An M3Error carrying the HTTP status to answer with (when it differs from the code's default). */
export class HttpError extends M3Error {
  readonly status: number;
  constructor(status: number, code: ErrorCode, message: string) {
    super(code, message);
    this.status = status;
  }
}

export function statusOf(err: unknown): number {
  if (err instanceof HttpError) return err.status;
  if (isM3Error(err)) return STATUS[err.code] ?? 500;
  return 500;
}

/** Headers every response carries (CORS only when an origin is configured). */
export interface ResponseContext {
  corsOrigin: string | undefined;
  retryAfterSeconds: number;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, ctx: ResponseContext, extra: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const data = Buffer.from(JSON.stringify(body));
  const headers: Record<string, string | number> = { "content-type": "application/json; charset=utf-8", "content-length": data.length, "x-content-type-options": "nosniff", ...extra };
  if (ctx.corsOrigin !== undefined) {
    headers["access-control-allow-origin"] = ctx.corsOrigin;
    headers["vary"] = "Origin";
  }
  res.writeHead(status, headers);
  res.end(data);
}

export function sendText(res: ServerResponse, status: number, text: string, contentType: string): void {
  if (res.headersSent || res.destroyed) return;
  const data = Buffer.from(text);
  res.writeHead(status, { "content-type": contentType, "content-length": data.length, "x-content-type-options": "nosniff" });
  res.end(data);
}

/**
 * Answers `err` as JSON: an M3Error's code and message (messages are written for users; no stack
 * trace is ever sent), anything else as a generic INFERENCE_ERROR 500 whose detail goes to the logger only.
 */
export function sendError(res: ServerResponse, err: unknown, ctx: ResponseContext): { status: number; code: string } {
  const status = statusOf(err);
  const code = isM3Error(err) ? err.code : ErrorCodes.INFERENCE_ERROR;
  const message = isM3Error(err) ? err.message : "The server failed while answering this request; see the server log.";
  const extra: Record<string, string> = {};
  if (status === 429 || status === 503) extra["retry-after"] = String(ctx.retryAfterSeconds);
  if (status === 401) extra["www-authenticate"] = 'Bearer realm="m3"';
  sendJson(res, status, { error: { code, message } }, ctx, extra);
  return { status, code };
}

/** The request's path without the query string. */
export function pathOf(req: IncomingMessage): string {
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  return q < 0 ? url : url.slice(0, q);
}
