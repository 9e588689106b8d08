import { defineConfig } from "tsup";

export default defineConfig([
  {
    entry: { index: "src/index.ts" },
    format: ["esm", "cjs"],
    dts: true,
    sourcemap: true,
    target: "node20",
    external: ["onnxruntime-node", "tokenizers", "hnswlib-node", /^@langchain\//, "@huggingface/hub", "pg"],
  },
  {
    entry: { "cli/main": "src/cli/main.ts" },
    format: ["esm"],
    sourcemap: true,
    target: "node20",
    banner: { js: "#!/usr/bin/env node" },
    external: ["onnxruntime-node", "tokenizers", "hnswlib-node", /^@langchain\//, "@huggingface/hub", "pg"],
  },
]);
