/** node-postgres and server errors as M3Errors with advice. */
import { ErrorCodes, M3Error, isM3Error } from "../errors.js";

const NETWORK = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "ECONNABORTED"]);

interface PgLikeError {
  code?: unknown;
  message?: unknown;
  detail?: unknown;
}

/** True when the error means the connection is gone (the server, the network, or the login). */
export function isConnectionError(err: unknown): boolean {
  const e = err as PgLikeError;
  const code = typeof e?.code === "string" ? e.code : "";
  const msg = typeof e?.message === "string" ? e.message : "";
  return (
    NETWORK.has(code) || code.startsWith("08") || code.startsWith("28") || code === "3D000" || code === "53300" ||
    code === "57P01" || code === "57P02" || code === "57P03" ||
    /Connection terminated|connection error|timeout exceeded when trying to connect|Client was closed|Too many connections|Cannot use a pool after calling end/i.test(msg)
  );
}

/** Transient conflicts that a whole transaction may retry. */
export function isRetryable(err: unknown): boolean {
  const code = (err as PgLikeError)?.code;
  return code === "40P01" || code === "40001";
}

/**
 * Wraps `err` (from `what`, e.g. "upsert") as an M3Error: BACKEND_UNAVAILABLE for a lost or refused connection,
 * INVALID_ARGUMENT for data the server cannot hold, BACKEND_ERROR otherwise. M3Errors pass through.
 */
export function pgError(err: unknown, what: string, where: string): M3Error {
  if (isM3Error(err)) return err as M3Error;
  const e = err as PgLikeError;
  const code = typeof e?.code === "string" ? e.code : undefined;
  const msg = typeof e?.message === "string" ? e.message : String(err);
  const server = code === undefined ? msg : `${msg} (SQLSTATE ${code})`;
  if (isConnectionError(err)) {
    return new M3Error(
      ErrorCodes.BACKEND_UNAVAILABLE,
      `${what} failed: the Postgres server at ${where} cannot be reached or dropped the connection: ${server}. ` +
        "Check the connection string (host, port, database, user, password) and that the server is running; a write that was in flight was rolled back, so retry it.",
      { cause: err, details: { sqlState: code } },
    );
  }
  if (code !== undefined && code.startsWith("22")) {
    return new M3Error(
      ErrorCodes.INVALID_ARGUMENT,
      `${what} failed: the server cannot store a value: ${server}. Text and metadata must be valid Unicode without NUL characters (\\u0000); nothing was written.`,
      { cause: err, details: { sqlState: code } },
    );
  }
  return new M3Error(ErrorCodes.BACKEND_ERROR, `${what} failed on the Postgres server at ${where}: ${server}. Nothing was written by this call.`, {
    cause: err,
    details: { sqlState: code },
  });
}

/** The error when pgvector cannot be created. */
export function extensionError(err: unknown, where: string): M3Error {
  if (isConnectionError(err)) return pgError(err, "Creating the pgvector extension", where);
  const e = err as PgLikeError;
  const code = typeof e?.code === "string" ? e.code : undefined;
  const msg = typeof e?.message === "string" ? e.message : String(err);
  return new M3Error(
    ErrorCodes.BACKEND_ERROR,
    `The pgvector extension is not installed in the database at ${where}, and CREATE EXTENSION vector was refused: ${msg}${code ? ` (SQLSTATE ${code})` : ""}. ` +
      "Install pgvector 0.7 or newer on the server (managed services: enable the \"vector\" extension), then run CREATE EXTENSION vector as a user with that right (the database owner or a superuser), or connect as one.",
    { cause: err, details: { sqlState: code } },
  );
}
