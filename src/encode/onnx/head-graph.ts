/**
 * The BGE-M3 heads as a small ONNX graph, so encoder-only layouts run them inside
 * onnxruntime (one matrix product over all kept tokens) instead of JavaScript loops.
 *
 * Input `hidden` [T, H] float: the kept token rows of a batch (padding and `<s>` rows are not
 * fed). Outputs `sparse` [T, 1] = Relu(hidden · Wsᵀ + bs) and `colbert` [T, H] = hidden · Wcᵀ + bc.
 */
import { ErrorCodes, M3Error } from "../../errors.js";
import type { FloatTensor } from "../pt/state-dict.js";
import { OnnxType, graph, intAttribute, model, node, tensorProto, valueInfo } from "./proto.js";

/** The two Linear heads of BGE-M3 in torch layout (weight [out, in]). */
export interface M3Heads {
  hidden: number;
  sparseWeight: Float32Array; // [1, H]
  sparseBias: Float32Array; // [1]
  colbertWeight: Float32Array; // [H, H]
  colbertBias: Float32Array; // [H]
}

export const HEAD_INPUT = "hidden";
export const HEAD_SPARSE = "sparse";
export const HEAD_COLBERT = "colbert";

/**
 * Serialises the head graph (opset 13) with the weights as initializers. With
 * `colbert: false` only the sparse head is in the graph (onnxruntime computes every node of a
 * graph whatever the requested outputs, so a sparse-only run needs its own graph).
 */
export function buildHeadGraph(h: M3Heads, options: { colbert?: boolean } = {}): Uint8Array {
  const H = h.hidden;
  const withColbert = options.colbert ?? true;
  const nodes = [
    node("Gemm", [HEAD_INPUT, "sparse_w", "sparse_b"], ["sparse_logit"], "sparse_linear", [intAttribute("transB", 1)]),
    node("Relu", ["sparse_logit"], [HEAD_SPARSE], "sparse_relu"),
  ];
  const inits = [tensorProto("sparse_w", [1, H], h.sparseWeight), tensorProto("sparse_b", [1], h.sparseBias)];
  const outputs = [valueInfo(HEAD_SPARSE, OnnxType.FLOAT, ["tokens", 1])];
  if (withColbert) {
    nodes.push(node("Gemm", [HEAD_INPUT, "colbert_w", "colbert_b"], [HEAD_COLBERT], "colbert_linear", [intAttribute("transB", 1)]));
    inits.push(tensorProto("colbert_w", [H, H], h.colbertWeight), tensorProto("colbert_b", [H], h.colbertBias));
    outputs.push(valueInfo(HEAD_COLBERT, OnnxType.FLOAT, ["tokens", H]));
  }
  const g = graph("bge_m3_heads", nodes, inits, [valueInfo(HEAD_INPUT, OnnxType.FLOAT, ["tokens", H])], outputs);
  return model(g, 13);
}

/**
 * Picks `weight`/`bias` from the two state_dicts and checks their shapes against each other
 * (and against `hidden` when known). Throws MODEL_INVALID naming the file.
 */
export function headsFromStateDicts(
  sparse: Map<string, FloatTensor>,
  colbert: Map<string, FloatTensor>,
  hidden: number | undefined,
  names: { sparse: string; colbert: string },
): M3Heads {
  const get = (sd: Map<string, FloatTensor>, key: string, file: string): FloatTensor => {
    const t = sd.get(key) ?? sd.get(`${file.replace(/\.pt$/, "")}.${key}`);
    if (t === undefined) {
      throw new M3Error(
        ErrorCodes.MODEL_INVALID,
        `${file} has no "${key}" tensor (found: ${[...sd.keys()].join(", ") || "none"}); it must be the state_dict of a ` +
          `torch.nn.Linear. Re-download it from BAAI/bge-m3.`,
        { details: { file } },
      );
    }
    return t;
  };
  const sw = get(sparse, "weight", names.sparse);
  const sb = get(sparse, "bias", names.sparse);
  const cw = get(colbert, "weight", names.colbert);
  const cb = get(colbert, "bias", names.colbert);
  const H = hidden ?? cw.shape[1] ?? 0;
  const bad = (file: string, what: string, got: number[], want: number[]): never => {
    throw new M3Error(
      ErrorCodes.MODEL_INVALID,
      `${file}: ${what} has shape [${got.join(", ")}], expected [${want.join(", ")}] for an encoder with hidden size ${H}. ` +
        `The head files do not belong to this encoder; download matching files (BAAI/bge-m3).`,
      { details: { file, shape: got, expected: want } },
    );
  };
  const same = (a: number[], b: number[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);
  if (!same(sw.shape, [1, H])) bad(names.sparse, "weight", sw.shape, [1, H]);
  if (!same(sb.shape, [1])) bad(names.sparse, "bias", sb.shape, [1]);
  if (!same(cw.shape, [H, H])) bad(names.colbert, "weight", cw.shape, [H, H]);
  if (!same(cb.shape, [H])) bad(names.colbert, "bias", cb.shape, [H]);
  return { hidden: H, sparseWeight: sw.data, sparseBias: sb.data, colbertWeight: cw.data, colbertBias: cb.data };
}
