/** The backend contract on the embedded index (HNSW + inverted lists + the package's ColBERT store, float32). */
import { HybridIndex } from "../src/index/hybrid-index.js";
import { defaultColbertFactory } from "../src/index/default-colbert.js";
import { describeBackendContract } from "./helpers/backend-contract.js";

describeBackendContract("embedded index", (spec) =>
  HybridIndex.create(spec.fingerprint, {
    denseDim: spec.denseDim,
    colbertDim: spec.colbertDim,
    ...(spec.sketchDim === undefined ? {} : { sketchDim: spec.sketchDim }),
    colbert: { codec: "float32" },
    colbertFactory: defaultColbertFactory,
  }),
);
