/**
 * Encoding with cancellation and progress for the LangChain adapters. The encoder takes no
 * AbortSignal, so a call that asks for one (or for progress) is split into chunks of texts and
 * the signal is checked before each chunk; a call with neither goes to the encoder in one piece
 * (its token-budget batching then packs all texts together).
 */
import { checkSignal } from "../backend/validate.js";
import { ErrorCodes, M3Error } from "../errors.js";
import type { EncodeOptions, M3EncoderLike, M3Encoding } from "../types.js";
import { checkInt, checkTexts, describe } from "../util/validate.js";
import { checkSignalOption } from "./signal.js";

/** Progress of an encoding call: `done` of `total` texts encoded. */
export interface EncodeProgress {
  phase: "encode";
  done: number;
  total: number;
}

/** What a long encoding call takes besides the texts. */
export interface EncodeCallOptions {
  /** Rejects with ABORTED (checked before each chunk) once aborted. @default none */
  signal?: AbortSignal;
  /** Called after each encoded chunk. @default none */
  onProgress?: (event: EncodeProgress) => void;
  /** Texts per chunk when `signal` or `onProgress` is given. @default 32 */
  chunkSize?: number;
}

/** Encodes `texts` with the given outputs, honouring `signal` and reporting progress. */
export async function encodeWithOptions(
  encoder: M3EncoderLike,
  texts: string[],
  encode: EncodeOptions,
  call: EncodeCallOptions | undefined,
  what: string,
): Promise<M3Encoding[]> {
  if (call !== undefined && (call === null || typeof call !== "object")) {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `${what} options must be an object such as { signal, onProgress }; got ${describe(call)}.`);
  }
  checkTexts("texts", texts);
  const signal = checkSignalOption(call?.signal, what);
  const onProgress = call?.onProgress;
  if (onProgress !== undefined && typeof onProgress !== "function") {
    throw new M3Error(ErrorCodes.INVALID_ARGUMENT, `${what}: onProgress must be a function; got ${describe(onProgress)}.`);
  }
  const chunk = checkInt("chunkSize", call?.chunkSize ?? 32, 1, 1_000_000);
  checkSignal(signal, what);
  if (signal === undefined && onProgress === undefined) return encoder.encode(texts, encode);
  const out: M3Encoding[] = [];
  for (let i = 0; i < texts.length; i += chunk) {
    checkSignal(signal, what);
    out.push(...(await encoder.encode(texts.slice(i, i + chunk), encode)));
    onProgress?.({ phase: "encode", done: out.length, total: texts.length });
  }
  checkSignal(signal, what);
  return out;
}
