import { defineConfig } from "tsup";

// keepNames: esbuild renames a class that refers to itself (static methods, `new M3VectorStore`)
// to `_M3VectorStore`; keeping names makes `.name`, LangChain's lc_name() and logs show the real one.
export default defineConfig([
  {
    entry: { index: "src/index.ts" },
    format: ["esm", "cjs"],
    dts: true,
    sourcemap: true,
    target: "node20",
    keepNames: true,
    external: ["onnxruntime-node", "tokenizers", "hnswlib-node", /^@langchain\//, "@huggingface/hub", "pg"],
  },
  {
    entry: { "cli/main": "src/cli/main.ts" },
    format: ["esm"],
    sourcemap: true,
    target: "node20",
    keepNames: true,
    banner: { js: "#!/usr/bin/env node" },
    external: ["onnxruntime-node", "tokenizers", "hnswlib-node", /^@langchain\//, "@huggingface/hub", "pg"],
  },
]);
