/**
 * Cancellation for the LangChain adapters. LangChain passes `RunnableConfig.signal` and
 * `timeout` to `invoke`, but not on to `_getRelevantDocuments` or to the vector store's search
 * methods (whose signatures have no options). The retrievers of this package therefore run
 * each call inside an async context that holds its signal; the searches they reach read it
 * from there (`inheritedSignal`). A signal passed explicitly always wins.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { RunnableConfig } from "@langchain/core/runnables";
import { checkSignal } from "../backend/validate.js";
import { ErrorCodes, M3Error } from "../errors.js";
import { describe } from "../util/validate.js";

const context = new AsyncLocalStorage<AbortSignal | undefined>();

/** Runs `job` with `signal` as the signal of every search it reaches. */
export function withSignal<T>(signal: AbortSignal | undefined, job: () => Promise<T>): Promise<T> {
  return context.run(signal, job);
}

/** The signal of the retriever call this code runs in, if any. */
export function inheritedSignal(): AbortSignal | undefined {
  return context.getStore();
}

/** `signal` when it is an AbortSignal or undefined; INVALID_ARGUMENT otherwise. */
export function checkSignalOption(signal: unknown, what: string): AbortSignal | undefined {
  if (signal === undefined || signal instanceof AbortSignal) return signal;
  throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `${what}: signal must be an AbortSignal (e.g. AbortSignal.timeout(5000) or controller.signal); got ${describe(signal)}.`);
}

/**
 * The one signal of a LangChain call: `config.signal` and `config.timeout` (ms) combined; a
 * timeout aborts with a TimeoutError reason. Undefined when the config has neither.
 */
export function configSignal(config: RunnableConfig | undefined): AbortSignal | undefined {
  const signal = checkSignalOption(config?.signal, "RunnableConfig");
  const timeout = config?.timeout;
  if (timeout === undefined) return signal;
  if (typeof timeout !== "number" || !Number.isFinite(timeout) || timeout <= 0) {
    throw new M3Error(ErrorCodes.OUT_OF_RANGE, `RunnableConfig.timeout must be a positive number of milliseconds; got ${describe(timeout)}.`);
  }
  const t = AbortSignal.timeout(timeout);
  return signal === undefined ? t : anySignal([signal, t]);
}

/** Aborts when any of `signals` aborts (AbortSignal.any, which Node < 20.3 lacks, or the same by hand). */
function anySignal(signals: AbortSignal[]): AbortSignal {
  const any = (AbortSignal as unknown as { any?: (signals: AbortSignal[]) => AbortSignal }).any;
  if (typeof any === "function") return any.call(AbortSignal, signals);
  const controller = new AbortController();
  for (const s of signals) {
    if (s.aborted) {
      controller.abort(s.reason);
      break;
    }
    s.addEventListener("abort", () => controller.abort(s.reason), { once: true });
  }
  return controller.signal;
}

/**
 * Settles like `work`, or rejects with ABORTED as soon as `signal` aborts (the work itself stops
 * at its next check of the signal).
 */
export function raceSignal<T>(work: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (signal === undefined) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      try {
        checkSignal(signal, what);
      } catch (err) {
        reject(err);
      }
    };
    work.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
}
