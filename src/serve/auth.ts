/** The API key check: `Authorization: Bearer <key>`, compared in constant time (both sides hashed to equal length). */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { ErrorCodes, M3Error } from "../errors.js";

export class ApiKeyCheck {
  private readonly digest: Buffer | undefined;

  /** `key` undefined: every request passes (loopback servers without a key). */
  constructor(key: string | undefined) {
    this.digest = key === undefined ? undefined : sha256(key);
  }

  /** True when a key is configured. */
  get enabled(): boolean {
    return this.digest !== undefined;
  }

  /** Throws UNAUTHORIZED unless the request carries the key (or no key is configured). */
  check(req: IncomingMessage): void {
    if (this.digest === undefined) return;
    const header = req.headers["authorization"];
    const m = typeof header === "string" ? /^Bearer ([^\s]+)$/i.exec(header.trim()) : null;
    if (m === null) {
      throw new M3Error(ErrorCodes.UNAUTHORIZED, "This server needs an API key: send the header Authorization: Bearer <key>.");
    }
    if (!timingSafeEqual(sha256(m[1]!), this.digest)) {
      throw new M3Error(ErrorCodes.UNAUTHORIZED, "The API key is wrong; send the key of this server's --api-key-file as Authorization: Bearer <key>.");
    }
  }
}

function sha256(s: string): Buffer {
  return createHash("sha256").update(s, "utf8").digest();
}
