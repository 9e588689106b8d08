"""Write a trained M3Model in the BAAI encoder-only layout through the project's own ONNX writer
(scripts/fixtures/make_model.py: Builder, build_encoder, write_model, save_pt): the writer takes a
callable name -> array, here the trained weights instead of seeded random ones."""
import json
import os
import shutil
import sys

import numpy as np
from onnx import TensorProto, helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import make_model as mm  # noqa: E402


class Trained:
    def __init__(self, arrays):
        self.arrays = arrays

    def __call__(self, name):
        return np.ascontiguousarray(self.arrays[name], dtype=np.float32)


def write(model, tokenizer_json, out, training_meta, int8=True):
    c = model.cfg
    W = Trained(model.named_arrays())
    tmp = out.rstrip("/") + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    od = os.path.join(tmp, "onnx")
    os.makedirs(od)
    config = {
        "architectures": ["XLMRobertaModel"], "model_type": "xlm-roberta",
        "vocab_size": c["vocab"], "hidden_size": c["hidden"], "num_hidden_layers": c["layers"],
        "num_attention_heads": c["heads"], "intermediate_size": c["ffn"],
        "max_position_embeddings": c["max_positions"], "type_vocab_size": 1,
        "hidden_act": "gelu", "layer_norm_eps": 1e-05, "pad_token_id": 1, "bos_token_id": 0,
        "eos_token_id": 2, "position_embedding_type": "absolute", "torch_dtype": "float32",
        "_training": {"what": "a small model trained by this repository (scripts/train), not BGE-M3", **training_meta},
    }
    with open(os.path.join(tmp, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    for p in (os.path.join(tmp, "tokenizer.json"), os.path.join(od, "tokenizer.json")):
        shutil.copyfile(tokenizer_json, p)
    seq = ["batch_size", "sequence_length"]
    modes = [("fp32", "model.onnx", "model.onnx_data")] + ([("int8", "model_quantized.onnx", None)] if int8 else [])
    for mode, fname, data in modes:
        b = mm.Builder(W, mode)
        x = mm.build_encoder(b, c)
        b.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="output"))
        mm.write_model(b, [("last_hidden_state", TensorProto.FLOAT, seq + [c["hidden"]])], os.path.join(od, fname), data,
                       doc="small BGE-M3-architecture model trained by langchain-m3 scripts/train (not BGE-M3)")
    mm.save_pt(os.path.join(tmp, "sparse_linear.pt"), W("sparse_linear.weight"), W("sparse_linear.bias"))
    mm.save_pt(os.path.join(tmp, "colbert_linear.pt"), W("colbert_linear.weight"), W("colbert_linear.bias"))
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
