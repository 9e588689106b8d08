/**
 * Creates the encoder session, with its attention fused at load (`fusedAttention`, see
 * onnx/attention-graph.ts) when the graph has the pattern; otherwise, or when onnxruntime
 * refuses the rewritten graph, from the file as it is.
 */
import { readFile, stat } from "node:fs/promises";
import { dirname } from "node:path";
import type * as ort from "onnxruntime-node";
import { fuseAttention } from "./onnx/attention-graph.js";
import type { ResolvedEncoderOptions } from "./options.js";
import { createSession, type Session } from "./session.js";

/** Graph files larger than this (weights inline) are loaded as they are: rewriting would hold a second copy. */
export const FUSE_MAX_FILE_BYTES = 768 * 1024 * 1024;
const EXTERNAL_FOLDER = "session.model_external_initializers_file_folder_path";

export interface EncoderSession {
  session: Session;
  /** Attention blocks fused at load (0: loaded as it is). */
  fusedBlocks: number;
}

export async function createEncoderSession(
  file: string,
  opts: ort.InferenceSession.SessionOptions,
  o: ResolvedEncoderOptions,
  heads: number | undefined,
): Promise<EncoderSession> {
  // The fused kernel is float32 only on the CPU.
  if (o.fusedAttention && o.variant !== "fp16" && (await stat(file)).size <= FUSE_MAX_FILE_BYTES) {
    // A file that does not parse is left to onnxruntime, whose refusal is the MODEL_INVALID users see.
    let fused: ReturnType<typeof fuseAttention>;
    try {
      fused = fuseAttention(new Uint8Array(await readFile(file)), heads);
    } catch {
      fused = undefined;
    }
    if (fused !== undefined) {
      const extra = { ...(opts.extra as Record<string, unknown> | undefined), [EXTERNAL_FOLDER]: dirname(file) };
      try {
        return { session: await createSession(fused.bytes, { ...opts, extra }, file), fusedBlocks: fused.blocks };
      } catch (err) {
        o.logger.warn?.("bge-m3: the graph with fused attention did not load; loading it unfused", { file, error: (err as Error).message });
      }
    }
  }
  return { session: await createSession(file, opts), fusedBlocks: 0 };
}
