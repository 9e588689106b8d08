#!/usr/bin/env python3
"""Random-weight XLM-RoBERTa encoder with BGE-M3's exact shapes, for throughput benchmarks.

Compute cost does not depend on weight values, so a forward pass over this graph costs what
the real BGE-M3 costs. Written directly with onnx.helper + numpy (no torch tracing, no 2 GB
protobuf limit): the graph holds no weights; every initializer points into one external data
file, written tensor by tensor (page-aligned), so peak memory stays ~1 GB.

Layout written (the published BAAI/bge-m3 "encoder only" layout, also what transformers.js
loads):
  OUT/config.json, OUT/tokenizer.json, OUT/tokenizer_config.json
  OUT/onnx/model.onnx + OUT/onnx/model.onnx_data   inputs input_ids, attention_mask (int64 [B,L])
                                                   output last_hidden_state [B,L,hidden]
  OUT/sparse_linear.pt  {weight [1,H], bias [1]} fp16   (torch.save, as in BAAI/bge-m3)
  OUT/colbert_linear.pt {weight [H,H], bias [H]} fp16

The tokenizer: a real SentencePiece Unigram tokenizer.json (the fixture tokenizer built by
scripts/fixtures/make_tokenizer.py, or --tokenizer FILE) whose vocabulary is padded with filler
pieces "▁w<n>" up to --vocab (250002 for BGE-M3), <mask> last. Texts made of "w<n>" words
tokenize to exactly one token per word, which lets the benchmark build inputs of exact lengths
with ids spread over the whole embedding table.

Usage: make_fullsize_model.py --out DIR [--vocab 250002 --hidden 1024 --layers 24 --heads 16
                                         --ffn 4096 --max-positions 8194 --seed 0]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper

ALIGN = 4096
FILLER_SCORE = -5.0


class ExternalWriter:
    """Appends raw little-endian tensors to one data file; returns initializers pointing at them."""

    def __init__(self, path, location, rng):
        self.f = open(path, "wb")
        self.location = location
        self.rng = rng
        self.offset = 0
        self.initializers = []

    def add(self, name, array):
        array = np.ascontiguousarray(array)
        pad = (-self.offset) % ALIGN
        if pad:
            self.f.write(b"\0" * pad)
            self.offset += pad
        data = array.tobytes()
        self.f.write(data)
        t = TensorProto()
        t.name = name
        t.data_type = helper.np_dtype_to_tensor_dtype(array.dtype) if hasattr(helper, "np_dtype_to_tensor_dtype") \
            else onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[array.dtype]
        t.dims.extend(array.shape)
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", self.location), ("offset", str(self.offset)), ("length", str(len(data)))):
            e = t.external_data.add()
            e.key, e.value = k, v
        self.offset += len(data)
        self.initializers.append(t)
        return name

    def random(self, name, shape, std=0.02):
        return self.add(name, (self.rng.standard_normal(shape, dtype=np.float32) * std).astype(np.float32))

    def const(self, name, shape, value):
        return self.add(name, np.full(shape, value, dtype=np.float32))

    def close(self):
        self.f.close()


def build_graph(a, w):
    H, NH, D = a.hidden, a.heads, a.hidden // a.heads
    nodes = []
    small = []  # small constants stored inline

    def c(name, arr):
        small.append(helper.make_tensor(name, helper.np_dtype_to_tensor_dtype(arr.dtype) if hasattr(helper, "np_dtype_to_tensor_dtype")
                                        else onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[arr.dtype], arr.shape, arr.flatten().tolist()))
        return name

    def n(op, ins, outs, **attrs):
        nodes.append(helper.make_node(op, ins, outs, name=f"{op}_{len(nodes)}", **attrs))
        return outs[0]

    c("pad_id", np.array(1, dtype=np.int64))
    c("axis1", np.array(1, dtype=np.int64))
    c("one_f", np.array(1.0, dtype=np.float32))
    c("neg_big", np.array(np.finfo(np.float32).min, dtype=np.float32))
    c("unsq_axes", np.array([1, 2], dtype=np.int64))
    c("shape_heads", np.array([0, 0, NH, D], dtype=np.int64))
    c("shape_hidden", np.array([0, 0, H], dtype=np.int64))
    c("scale", np.array(1.0 / np.sqrt(D), dtype=np.float32))
    c("half", np.array(0.5, dtype=np.float32))
    c("inv_sqrt2", np.array(1.0 / np.sqrt(2.0), dtype=np.float32))

    # Embeddings: word + position (from input_ids, RoBERTa style) + token type 0, LayerNorm.
    wemb = w.random("embeddings.word_embeddings.weight", (a.vocab, H))
    pemb = w.random("embeddings.position_embeddings.weight", (a.max_positions, H))
    temb = w.random("embeddings.token_type_embeddings.weight", (H,))
    n("Equal", ["input_ids", "pad_id"], ["is_pad"])
    n("Not", ["is_pad"], ["not_pad"])
    n("Cast", ["not_pad"], ["not_pad_i"], to=TensorProto.INT64)
    n("CumSum", ["not_pad_i", "axis1"], ["cum"])
    n("Mul", ["cum", "not_pad_i"], ["cum_masked"])
    n("Add", ["cum_masked", "pad_id"], ["position_ids"])
    n("Gather", [wemb, "input_ids"], ["we"], axis=0)
    n("Gather", [pemb, "position_ids"], ["pe"], axis=0)
    n("Add", ["we", "pe"], ["wpe"])
    n("Add", ["wpe", temb], ["emb"])
    x = n("LayerNormalization", ["emb", w.const("embeddings.LayerNorm.weight", (H,), 1.0),
                                 w.const("embeddings.LayerNorm.bias", (H,), 0.0)], ["x0"], axis=-1, epsilon=1e-5)

    # Additive attention mask [B,1,1,L].
    n("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT)
    n("Sub", ["one_f", "mask_f"], ["inv_mask"])
    n("Mul", ["inv_mask", "neg_big"], ["mask_add"])
    n("Unsqueeze", ["mask_add", "unsq_axes"], ["mask4"])

    for i in range(a.layers):
        p = f"encoder.layer.{i}."

        def lin(inp, name, fin, fout, out):
            wt = w.random(p + name + ".weight_t", (fin, fout))
            b = w.const(p + name + ".bias", (fout,), 0.0)
            mm = n("MatMul", [inp, wt], [out + "_mm"])
            return n("Add", [mm, b], [out])

        def heads(inp, out, transpose_k=False):
            r = n("Reshape", [inp, "shape_heads"], [out + "_r"])
            return n("Transpose", [r], [out], perm=[0, 2, 3, 1] if transpose_k else [0, 2, 1, 3])

        q = heads(lin(x, "attention.self.query", H, H, f"q{i}"), f"qh{i}")
        k = heads(lin(x, "attention.self.key", H, H, f"k{i}"), f"kh{i}", transpose_k=True)
        v = heads(lin(x, "attention.self.value", H, H, f"v{i}"), f"vh{i}")
        s = n("MatMul", [q, k], [f"s{i}"])
        s = n("Mul", [s, "scale"], [f"ss{i}"])
        s = n("Add", [s, "mask4"], [f"sm{i}"])
        pr = n("Softmax", [s], [f"p{i}"], axis=-1)
        ctx = n("MatMul", [pr, v], [f"ctx{i}"])
        ctx = n("Transpose", [ctx], [f"ctxt{i}"], perm=[0, 2, 1, 3])
        ctx = n("Reshape", [ctx, "shape_hidden"], [f"ctxr{i}"])
        ao = lin(ctx, "attention.output.dense", H, H, f"ao{i}")
        r1 = n("Add", [ao, x], [f"r1_{i}"])
        x1 = n("LayerNormalization", [r1, w.const(p + "attention.output.LayerNorm.weight", (H,), 1.0),
                                      w.const(p + "attention.output.LayerNorm.bias", (H,), 0.0)],
               [f"x1_{i}"], axis=-1, epsilon=1e-5)
        f1 = lin(x1, "intermediate.dense", H, a.ffn, f"f1_{i}")
        # exact GELU: 0.5 * x * (1 + erf(x / sqrt 2)) (the pattern onnxruntime fuses into Gelu)
        g = n("Mul", [f1, "inv_sqrt2"], [f"g0_{i}"])
        g = n("Erf", [g], [f"g1_{i}"])
        g = n("Add", [g, "one_f"], [f"g2_{i}"])
        g = n("Mul", [f1, g], [f"g3_{i}"])
        g = n("Mul", [g, "half"], [f"g4_{i}"])
        f2 = lin(g, "output.dense", a.ffn, H, f"f2_{i}")
        r2 = n("Add", [f2, x1], [f"r2_{i}"])
        x = n("LayerNormalization", [r2, w.const(p + "output.LayerNorm.weight", (H,), 1.0),
                                     w.const(p + "output.LayerNorm.bias", (H,), 0.0)],
              [f"x2_{i}" if i < a.layers - 1 else "last_hidden_state"], axis=-1, epsilon=1e-5)

    graph = helper.make_graph(
        nodes, "xlmr_random_fullsize",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch_size", "sequence_length"])],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch_size", "sequence_length", H])],
        initializer=small + w.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="langchain-m3 bench")
    model.ir_version = 8
    return model


def make_tokenizer(a, out_dir):
    base = a.tokenizer
    if base is None:
        tmp = tempfile.mkdtemp(prefix="m3tok-")
        script = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "fixtures", "make_tokenizer.py")
        subprocess.run([sys.executable, script, "--out", tmp], check=True)
        base = os.path.join(tmp, "tokenizer.json")
    with open(base, encoding="utf-8") as f:
        tj = json.load(f)
    vocab = tj["model"]["vocab"]
    mask = vocab.pop()  # <mask> is last
    assert mask[0] == "<mask>", mask
    have = {p for p, _ in vocab}
    k = 0
    while len(vocab) < a.vocab - 1:
        piece = f"\u2581w{k}"
        k += 1
        if piece not in have:
            vocab.append([piece, FILLER_SCORE])
    vocab.append(mask)
    mask_id = len(vocab) - 1
    for t in tj["added_tokens"]:
        if t["content"] == "<mask>":
            t["id"] = mask_id
    with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tj, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": a.max_positions - 2,
                   "bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>",
                   "mask_token": "<mask>", "cls_token": "<s>", "sep_token": "</s>"}, f, indent=1)
    return k


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--vocab", type=int, default=250002)
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("--layers", type=int, default=24)
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--ffn", type=int, default=4096)
    ap.add_argument("--max-positions", type=int, default=8194)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tokenizer", default=None, help="base tokenizer.json (default: build the fixture one)")
    a = ap.parse_args()

    os.makedirs(os.path.join(a.out, "onnx"), exist_ok=True)
    rng = np.random.default_rng(a.seed)
    fillers = make_tokenizer(a, a.out)

    data_name = "model.onnx_data"
    w = ExternalWriter(os.path.join(a.out, "onnx", data_name + ".tmp"), data_name, rng)
    model = build_graph(a, w)
    w.close()
    onnx.save_model(model, os.path.join(a.out, "onnx", "model.onnx.tmp"))
    os.replace(os.path.join(a.out, "onnx", data_name + ".tmp"), os.path.join(a.out, "onnx", data_name))
    onnx.checker.check_model(os.path.join(a.out, "onnx", "model.onnx.tmp"))
    os.replace(os.path.join(a.out, "onnx", "model.onnx.tmp"), os.path.join(a.out, "onnx", "model.onnx"))

    import torch  # heads in the BAAI/bge-m3 format: torch.save(state_dict), fp16
    H = a.hidden
    g = torch.Generator().manual_seed(a.seed + 1)
    torch.save({"weight": (torch.randn(1, H, generator=g) * 0.05).half(), "bias": torch.zeros(1).half()},
               os.path.join(a.out, "sparse_linear.pt"))
    torch.save({"weight": (torch.randn(H, H, generator=g) / np.sqrt(H)).half(), "bias": torch.zeros(H).half()},
               os.path.join(a.out, "colbert_linear.pt"))

    params = sum(int(np.prod(t.dims)) for t in w.initializers)
    config = {
        "architectures": ["XLMRobertaModel"], "model_type": "xlm-roberta",
        "vocab_size": a.vocab, "hidden_size": H, "num_hidden_layers": a.layers,
        "num_attention_heads": a.heads, "intermediate_size": a.ffn,
        "max_position_embeddings": a.max_positions, "type_vocab_size": 1, "pad_token_id": 1,
        "bos_token_id": 0, "eos_token_id": 2, "layer_norm_eps": 1e-5, "hidden_act": "gelu",
        "transformers.js_config": {"use_external_data_format": True},
        "_bench_note": f"random weights (seed {a.seed}), {params} parameters; tokenizer padded with "
                       f"{fillers} filler pieces to vocab {a.vocab}",
    }
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    print(f"model: {params / 1e6:.1f}M parameters, {w.offset / 2**30:.2f} GiB -> {a.out}")


if __name__ == "__main__":
    main()
