"""The trainable BGE-M3 architecture in torch: an XLM-RoBERTa encoder (post-LayerNorm, GELU-erf,
position ids cumsum(ids != pad) * (ids != pad) + pad) plus `sparse_linear` (H -> 1) and
`colbert_linear` (H -> H). Parameters carry the names and the MatMul orientation ([in, out]) of
scripts/fixtures/make_model.py, so the trained weights go through the project's own ONNX writer
unchanged (see export.py). Scores follow /work/shared/bge-m3-spec.md: dense = <s> row normalised;
lexical weights = relu(sparse_linear(H_i)), special ids 0-3 and padding dropped, max per token id,
score = sum over shared ids of products; ColBERT rows 1..n-1 normalised, score = mean over query
rows of the best passage row."""
import math

import torch
import torch.nn.functional as F

PAD, N_SPECIAL = 1, 4


class M3Model(torch.nn.Module):
    def __init__(self, vocab, hidden, layers, heads, ffn, max_positions, seed):
        super().__init__()
        self.cfg = dict(vocab=vocab, hidden=hidden, layers=layers, heads=heads, ffn=ffn, max_positions=max_positions)
        g = torch.Generator().manual_seed(seed)
        self.p = torch.nn.ParameterDict()
        H, Fd = hidden, ffn

        def add(name, shape, kind):
            if kind == "emb":
                t = torch.randn(shape, generator=g) * 0.02
            elif kind == "w":
                t = torch.randn(shape, generator=g) * (1.0 / math.sqrt(shape[0]))
            elif kind == "w_small":
                t = torch.randn(shape, generator=g) * (0.05 / math.sqrt(shape[0]))
            elif kind == "tenth":
                t = torch.full(shape, 0.1)
            elif kind == "one":
                t = torch.ones(shape)
            else:
                t = torch.zeros(shape)
            self.p[name.replace(".", "__")] = torch.nn.Parameter(t)

        add("embeddings.word_embeddings.weight", (vocab, H), "emb")
        add("embeddings.position_embeddings.weight", (max_positions, H), "emb")
        add("embeddings.token_type_embeddings.weight", (1, H), "emb")
        add("embeddings.LayerNorm.weight", (H,), "one")
        add("embeddings.LayerNorm.bias", (H,), "zero")
        for i in range(layers):
            pre = f"encoder.layer.{i}."
            for n in ("query", "key", "value"):
                add(pre + f"attention.self.{n}.weight", (H, H), "w")
                add(pre + f"attention.self.{n}.bias", (H,), "zero")
            add(pre + "attention.output.dense.weight", (H, H), "w")
            add(pre + "attention.output.dense.bias", (H,), "zero")
            add(pre + "attention.output.LayerNorm.weight", (H,), "one")
            add(pre + "attention.output.LayerNorm.bias", (H,), "zero")
            add(pre + "intermediate.dense.weight", (H, Fd), "w")
            add(pre + "intermediate.dense.bias", (Fd,), "zero")
            add(pre + "output.dense.weight", (Fd, H), "w")
            add(pre + "output.dense.bias", (H,), "zero")
            add(pre + "output.LayerNorm.weight", (H,), "one")
            add(pre + "output.LayerNorm.bias", (H,), "zero")
        # the lexical head starts random (as the paper notes, its start is poor)
        # small and positive, so that the first lexical scores are on the dense/ColBERT scale and
        # few ReLUs start dead (a large start collapses every weight to 0 in the first steps)
        add("sparse_linear.weight", (H, 1), "w_small")
        add("sparse_linear.bias", (1,), "tenth")
        add("colbert_linear.weight", (H, H), "w")
        add("colbert_linear.bias", (H,), "zero")

    def w(self, name):
        return self.p[name.replace(".", "__")]

    def named_arrays(self):
        """name -> float32 numpy array, MatMul orientation (what make_model.py's Builder reads)."""
        return {k.replace("__", "."): v.detach().cpu().float().numpy().copy() for k, v in self.p.items()}

    def lin(self, x, name):
        return x @ self.w(name + ".weight") + self.w(name + ".bias")

    def ln(self, x, name):
        return F.layer_norm(x, (x.shape[-1],), self.w(name + ".weight"), self.w(name + ".bias"), eps=1e-5)

    def encode(self, ids, mask):
        c = self.cfg
        H, A = c["hidden"], c["heads"]
        D = H // A
        not_pad = (ids != PAD).long()
        pos = torch.cumsum(not_pad, 1) * not_pad + PAD
        x = self.w("embeddings.word_embeddings.weight")[ids] + self.w("embeddings.position_embeddings.weight")[pos]
        x = self.ln(x + self.w("embeddings.token_type_embeddings.weight")[0], "embeddings.LayerNorm")
        B, L = ids.shape
        bias = (1.0 - mask.float())[:, None, None, :] * torch.finfo(torch.float32).min
        for i in range(c["layers"]):
            pre = f"encoder.layer.{i}."
            q, k, v = (self.lin(x, pre + f"attention.self.{n}").view(B, L, A, D).transpose(1, 2)
                       for n in ("query", "key", "value"))
            s = (q @ k.transpose(-1, -2)) / math.sqrt(D) + bias
            ctx = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, L, H)
            x = self.ln(self.lin(ctx, pre + "attention.output.dense") + x, pre + "attention.output.LayerNorm")
            h = F.gelu(self.lin(x, pre + "intermediate.dense"))
            x = self.ln(self.lin(h, pre + "output.dense") + x, pre + "output.LayerNorm")
        return x

    def heads(self, ids, mask):
        """dense [B,H]; lexical [B,V] (max weight per token id, specials dropped); colbert [B,L-1,H]
        (normalised, padding rows zero) and its row mask [B,L-1]."""
        h = self.encode(ids, mask)
        dense = F.normalize(h[:, 0], dim=-1, eps=1e-12)
        w = torch.relu(self.lin(h, "sparse_linear")).squeeze(-1)
        w = w * mask.float() * (ids >= N_SPECIAL).float()
        lex = torch.zeros(ids.shape[0], self.cfg["vocab"], dtype=w.dtype).scatter_reduce(1, ids, w, "amax", include_self=True)
        cm = mask[:, 1:].float()
        col = F.normalize(self.lin(h[:, 1:], "colbert_linear") * cm[..., None], dim=-1, eps=1e-12)
        return dense, lex, col, cm


def scores(q, p):
    """Query x passage score matrices (dense, lexical, colbert), each [Bq, Bp]."""
    qd, ql, qc, qm = q
    pd, pl, pc, pm = p
    s_dense = qd @ pd.T
    s_lex = ql @ pl.T
    sim = torch.einsum("qih,pjh->qpij", qc, pc)
    sim = sim.masked_fill(pm[None, :, None, :] == 0, -1e4)
    best = sim.max(-1).values  # [Bq, Bp, Lq]
    s_mul = (best * qm[:, None, :]).sum(-1) / qm.sum(-1).clamp(min=1)[:, None]
    return s_dense, s_lex, s_mul
