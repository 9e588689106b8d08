/**
 * MCLS ("multiple CLS", M3 paper): for a long input, a `<s>` is inserted in front of every
 * block of `step` content tokens, and the dense vector is the L2-normalised mean of the final
 * hidden states at all `<s>` positions. Pure functions over token ids.
 *
 *   content c1 … cn (n ≤ step)      ->  <s> c1 … cn </s>                        (unchanged)
 *   content c1 … cn (n > step)      ->  <s> c1 … c_step <s> c_step+1 … c_2step <s> … </s>
 *
 * Inserted `<s>` count toward `maxLength`: a text keeps the most content tokens n with
 * n + ceil(n / step) + 1 ≤ maxLength (so a truncated text keeps a few fewer tokens than without
 * MCLS). Their rows are dropped from the sparse and ColBERT outputs.
 */
import { ErrorCodes, M3Error } from "../errors.js";

/** The paper's step: one `<s>` per 256 tokens. */
export const MCLS_STEP = 256;

/** The smallest `maxLength` at which MCLS can insert a `<s>`: `<s>`, step tokens, `<s>`, one token, `</s>`. */
export function mclsMinLength(step: number): number {
  return step + 4;
}

/** `<s>` count of a text with `n` content tokens (at least the leading one). */
const clsCount = (n: number, step: number): number => Math.max(1, Math.ceil(n / step));

/** The most content tokens that fit in `maxLength` model tokens with MCLS at `step`. */
export function mclsContentBudget(maxLength: number, step: number): number {
  let n = Math.max(0, maxLength - 2);
  while (n > 0 && n + clsCount(n, step) + 1 > maxLength) n--;
  return n;
}

/** A text ready for the model with MCLS: its ids and the positions of its `<s>` tokens (0 first). */
export interface MclsInput {
  ids: Int32Array;
  cls: Int32Array;
}

/**
 * Inserts `<s>` (id `clsId`) before content tokens step, 2·step, … of `ids` (`<s> content </s>`,
 * already within the budget). A text of at most `step` content tokens comes back as it was.
 */
export function insertCls(ids: Int32Array, step: number, clsId: number): MclsInput {
  const n = ids.length - 2;
  const count = clsCount(n, step);
  if (count === 1) return { ids, cls: Int32Array.of(0) };
  const out = new Int32Array(ids.length + count - 1);
  const cls = new Int32Array(count);
  let o = 0;
  for (let i = 0; i < n; i++) {
    if (i % step === 0) {
      cls[i / step] = o;
      out[o++] = clsId;
    }
    out[o++] = ids[i + 1]!;
  }
  out[o] = ids[ids.length - 1]!;
  return { ids: out, cls };
}

/** Throws INVALID_ARGUMENT when MCLS at `step` cannot insert anything within `maxLength` (`what` names it). */
export function checkMclsRoom(maxLength: number, step: number, what: string): void {
  if (maxLength < mclsMinLength(step)) {
    throw new M3Error(
      ErrorCodes.INVALID_ARGUMENT,
      `mcls inserts a <s> every ${step} tokens, so it needs a maxLength of at least ${mclsMinLength(step)}; ${what} is ${maxLength}. ` +
        `Turn mcls off, lower mclsStep, or use a model/maxLength that reads longer inputs.`,
      { details: { maxLength, mclsStep: step } },
    );
  }
}
