/**
 * Reading a JSON request body under limits: the byte cap (checked on Content-Length first, then
 * while streaming), a time limit for the whole body (slow clients), and the nesting depth
 * (checked by one linear scan before JSON.parse, so no recursion ever sees a hostile body).
 */
import type { IncomingMessage } from "node:http";
import { ErrorCodes, M3Error } from "../errors.js";
import { HttpError } from "./http.js";

export interface BodyLimits {
  maxBodyBytes: number;
  bodyTimeoutMs: number;
  maxJsonDepth: number;
}

/** Reads the body of `req` as bytes; rejects with 413 TOO_LARGE or 408 TIMEOUT (and stops reading). */
export function readBody(req: IncomingMessage, limits: BodyLimits): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = req.headers["content-length"];
    if (declared !== undefined && Number(declared) > limits.maxBodyBytes) {
      reject(tooLarge(limits.maxBodyBytes));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err: Error | undefined, body?: Buffer): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
      if (err !== undefined) {
        req.resume(); // drain whatever else comes; the response closes the connection
        reject(err);
      } else resolve(body!);
    };
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > limits.maxBodyBytes) finish(tooLarge(limits.maxBodyBytes));
      else chunks.push(c);
    };
    const onEnd = (): void => finish(undefined, Buffer.concat(chunks, size));
    const onError = (e: Error): void => finish(new M3Error(ErrorCodes.ABORTED, `The request body could not be read: ${e.message}.`));
    const onClose = (): void => finish(new M3Error(ErrorCodes.ABORTED, "The client closed the connection before sending the whole body."));
    const timer = setTimeout(
      () => finish(new HttpError(408, ErrorCodes.TIMEOUT, `The request body did not arrive within limits.bodyTimeoutMs (${limits.bodyTimeoutMs} ms); send it at once.`)),
      limits.bodyTimeoutMs,
    );
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}

function tooLarge(max: number): HttpError {
  return new HttpError(413, ErrorCodes.TOO_LARGE, `The request body is larger than limits.maxBodyBytes (${max} bytes); send fewer or shorter texts per request.`);
}

/** The deepest nesting of arrays/objects in a JSON text (strings skipped), or -1 past `limit`. */
export function jsonDepth(text: string, limit: number): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return -1;
      if (depth > max) max = depth;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/** Parses a body as one JSON object; 400 INVALID_ARGUMENT for anything else. */
export function parseJsonObject(body: Buffer, limits: BodyLimits, contentType: string | undefined): Record<string, unknown> {
  if (contentType !== undefined && !/^application\/json\b/i.test(contentType.trim())) {
    throw new HttpError(415, ErrorCodes.INVALID_ARGUMENT, `Send the body as JSON with Content-Type: application/json; got ${JSON.stringify(contentType.slice(0, 60))}.`);
  }
  const text = body.toString("utf8");
  if (jsonDepth(text, limits.maxJsonDepth) < 0) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `The JSON body is nested deeper than limits.maxJsonDepth (${limits.maxJsonDepth}).`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, "The request body is not valid JSON; send one JSON object such as {\"input\": [\"text\"]}.");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, "The request body must be one JSON object such as {\"input\": [\"text\"]}.");
  }
  return value as Record<string, unknown>;
}
