/** The codec factory: one switch over the codec names. */
import type { ColbertCodec, ColbertCodecName } from "./codec.js";
import { checkCodecName } from "./codec.js";
import { createBinaryCodec } from "./codec-binary.js";
import { createFloat16Codec, createFloat32Codec } from "./codec-float.js";
import { createInt8Codec } from "./codec-int8.js";

/** A codec instance for `dim`-dimensional rows. Instances hold scratch buffers: one per store. */
export function createCodec(name: ColbertCodecName, dim: number): ColbertCodec {
  const codec = checkCodecName(name);
  switch (codec) {
    case "float32": return createFloat32Codec(dim);
    case "float16": return createFloat16Codec(dim);
    case "int8": return createInt8Codec(dim);
    case "binary": return createBinaryCodec(dim);
  }
}
