/**
 * Graphs that score stored ColBERT rows against query rows in onnxruntime, one per storage
 * type: `scores[t, r] = Σ_k D[t, k] · Q[r, k]` (Gemm with transB), with a Cast in front for
 * float16 rows and a per-row DequantizeLinear (`code · scale`) for int8 rows.
 * The document rows are Gemm's left operand on purpose: onnxruntime then packs only the small
 * query matrix per call, which measured ~1.8× faster than packing the document block.
 */
import { OnnxType, graph, intAttribute, model, node, valueInfo } from "./proto.js";

export const ROWS_QUERY = "q";
export const ROWS_DOCS = "d";
export const ROWS_SCALES = "scales";
export const ROWS_OUTPUT = "scores";

export type RowsGraphType = "float32" | "float16" | "int8";

const ELEM: Record<RowsGraphType, number> = { float32: OnnxType.FLOAT, float16: OnnxType.FLOAT16, int8: OnnxType.INT8 };

/**
 * Serialises the scoring graph (opset 13) for rows of `type`. The row width is a symbolic
 * dimension, so one session serves every width: an index's ColBERT store (1024 columns) and its
 * sketch (128) share it.
 */
export function buildRowsGraph(type: RowsGraphType): Uint8Array {
  const nodes = [];
  let docs = ROWS_DOCS;
  if (type === "float16") {
    nodes.push(node("Cast", [ROWS_DOCS], ["d_float"], "cast_rows", [intAttribute("to", OnnxType.FLOAT)]));
    docs = "d_float";
  } else if (type === "int8") {
    nodes.push(node("DequantizeLinear", [ROWS_DOCS, ROWS_SCALES], ["d_float"], "dequantize_rows", [intAttribute("axis", 0)]));
    docs = "d_float";
  }
  nodes.push(node("Gemm", [docs, ROWS_QUERY], [ROWS_OUTPUT], "d_qt", [intAttribute("transB", 1)]));
  const inputs = [valueInfo(ROWS_QUERY, OnnxType.FLOAT, ["r", "k"]), valueInfo(ROWS_DOCS, ELEM[type], ["t", "k"])];
  if (type === "int8") inputs.push(valueInfo(ROWS_SCALES, OnnxType.FLOAT, ["t"]));
  const g = graph(`m3_colbert_rows_${type}`, nodes, [], inputs, [valueInfo(ROWS_OUTPUT, OnnxType.FLOAT, ["t", "r"])]);
  return model(g, 13);
}
