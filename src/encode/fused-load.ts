/**
 * Creates the encoder session, with its attention fused at load (`fusedAttention`, see
 * onnx/attention-graph.ts) when the graph has the pattern; otherwise, or when onnxruntime
 * refuses the rewritten graph, from the file as it is. The rewrite reads the file's skeleton
 * (onnx/skeleton.ts): large inline weights (an int8 file is one ~570 MB protobuf) stay in the
 * file and are referenced as external data, so the fused load holds no second copy of them.
 */
import type * as ort from "onnxruntime-node";
import { fuseAttention } from "./onnx/attention-graph.js";
import { readModelSkeleton } from "./onnx/skeleton.js";
import type { ResolvedEncoderOptions } from "./options.js";
import { createSession, type Session } from "./session.js";

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
  if (o.fusedAttention && o.variant !== "fp16") {
    // A file that does not parse is left to onnxruntime, whose refusal is the MODEL_INVALID users see.
    let fused: ReturnType<typeof fuseAttention>;
    let folder = "";
    try {
      const skeleton = await readModelSkeleton(file);
      folder = skeleton.folder;
      fused = fuseAttention(skeleton.bytes, heads);
    } catch {
      fused = undefined;
    }
    if (fused !== undefined) {
      const extra = { ...(opts.extra as Record<string, unknown> | undefined), [EXTERNAL_FOLDER]: folder };
      try {
        return { session: await createSession(fused.bytes, { ...opts, extra }, file), fusedBlocks: fused.blocks };
      } catch (err) {
        o.logger.warn?.("bge-m3: the graph with fused attention did not load; loading it unfused", { file, error: (err as Error).message });
      }
    }
  }
  return { session: await createSession(file, opts), fusedBlocks: 0 };
}
