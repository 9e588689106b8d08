/**
 * The encoder's final hidden states, for callers that train on top of a frozen encoder (the
 * head fine-tuning). Same files, tokenizer, session options and input feeding as `M3Encoder`;
 * only encoder-only graphs (output `last_hidden_state`) expose per-token states.
 */
import { ErrorCodes, M3Error } from "../errors.js";
import { M3Tokenizer } from "../tokenize/tokenizer.js";
import { HIDDEN_OUTPUT, classifyOutputs, findModelFiles, requireHeads, type LayoutKind, type ModelFiles } from "./layout.js";
import type { ResolvedEncoderOptions } from "./options.js";
import { checkInputs, feeds } from "./runners.js";
import { createSession, inputTypes, runSession, sessionOptions, toFloat32 } from "./session.js";

/** An open encoder-only graph that returns, per text, its `[n, H]` final hidden states (row-major). */
export interface HiddenStateSource {
  readonly files: ModelFiles & { sparsePt: string; colbertPt: string };
  readonly tokenizer: M3Tokenizer;
  /** Runs one batch; `ids[b]` are the token ids of text b (`<s> … </s>`). */
  run(ids: Int32Array[]): Promise<Float32Array[]>;
  release(): Promise<void>;
}

/**
 * Opens the encoder of `o.modelPath`. A folder whose graph is not encoder-only -> MODEL_INVALID
 * (`details.layout` names what it is); missing files as `M3Encoder.load`.
 */
export async function openHiddenStates(o: ResolvedEncoderOptions): Promise<HiddenStateSource> {
  const files = await findModelFiles(o.modelPath, o.variant);
  const tokenizer = await M3Tokenizer.load(files.tokenizer);
  const session = await createSession(files.graph, sessionOptions(o));
  try {
    const kind: LayoutKind | undefined = classifyOutputs(session.outputNames);
    if (kind !== "encoder-only") {
      throw new M3Error(
        ErrorCodes.MODEL_INVALID,
        `${files.graph} is ${kind ?? "no BGE-M3 layout"} (outputs ${session.outputNames.join(", ")}); per-token hidden states ` +
          `need an encoder-only graph with output last_hidden_state and sparse_linear.pt / colbert_linear.pt beside it ` +
          `(the BAAI/bge-m3 onnx/ layout).`,
        { details: { file: files.graph, layout: kind ?? null } },
      );
    }
    checkInputs(session, files.graph);
    const heads = await requireHeads(files);
    const types = inputTypes(session);
    const padId = tokenizer.special.pad;
    return {
      files: { ...files, ...heads },
      tokenizer,
      async run(ids: Int32Array[]): Promise<Float32Array[]> {
        const L = ids.reduce((m, r) => Math.max(m, r.length), 0);
        const out = await runSession(session, feeds(session, types, ids, L, padId), [HIDDEN_OUTPUT], "the encoder");
        const t = out[HIDDEN_OUTPUT]!;
        const h = toFloat32(t, HIDDEN_OUTPUT);
        const H = t.dims[2]!;
        return ids.map((r, b) => h.slice(b * L * H, (b * L + r.length) * H));
      },
      release: () => session.release(),
    };
  } catch (err) {
    await session.release().catch(() => undefined);
    throw err;
  }
}
