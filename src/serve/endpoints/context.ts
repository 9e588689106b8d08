/** What every endpoint handler gets: the scheduler, the store (when one was given), the options, and the request's signal. */
import type { M3HybridStore } from "../../open.js";
import type { EncodeScheduler } from "../batcher.js";
import type { Body } from "../fields.js";
import type { ResolvedServerOptions } from "../options.js";

export interface EndpointContext {
  scheduler: EncodeScheduler;
  store: M3HybridStore | undefined;
  options: ResolvedServerOptions;
  /** Aborts when the client goes away or the request timeout passes. */
  signal: AbortSignal;
  /** True when the request carried the right API key (or no key is configured). */
  authenticated: boolean;
  /** Saves an embedded index given by directory after a write (one save at a time); nothing for other backends. */
  persist: () => Promise<void>;
}

/** An endpoint: a checked JSON body in, a JSON-serialisable answer out (errors are thrown). */
export type Handler = (body: Body, ctx: EndpointContext) => Promise<unknown>;

/** Total tokens of a list of encodings (the `usage` of a response). */
export function usage(encodings: ReadonlyArray<{ tokenCount: number }>): { prompt_tokens: number; total_tokens: number } {
  const n = encodings.reduce((s, e) => s + e.tokenCount, 0);
  return { prompt_tokens: n, total_tokens: n };
}
