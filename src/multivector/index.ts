/**
 * Multi-vector (ColBERT) maths below the backend seam, shared by every backend: codecs (a token
 * matrix to payload bytes and back), MaxSim kernels and the onnxruntime row scorer, token
 * pooling, and the count sketch with its seed. Nothing here stores anything or imports a backend.
 */
export {
  CODEC_NAMES, bytesPerToken, checkCodecName, f32View, type ColbertCodec, type ColbertCodecName, type PreparedQuery,
} from "./codec/codec.js";
export { createCodec } from "./codec/codecs.js";
export { maxSimSumF32, maxSimSumI8, type ColbertKernel } from "./maxsim/kernels.js";
export { BlockBuffers, BlockMaxSim, type BlockCodec } from "./maxsim/rows.js";
export { MaxSim } from "./maxsim/maxsim.js";
export { createOrtRowScorer, type OrtRowScorerOptions } from "./maxsim/row-scorer.js";
export { poolTokens } from "./pool.js";
export { SKETCH_SEED, createCountSketch, meanRow, sketchRows, type CountSketch } from "./sketch/projection.js";
