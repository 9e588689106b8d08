"""Held-out retrieval quality of an M3Model in torch, during training (train.py --eval).

The same task as bench/quality.ts (data/manpages/eval.json[.gz], written by manpages.py): every
query is a held-out page's NAME description, the corpus is the first chunks of every language
version of the held-out pages, and a query's target is its page (any passage of it). Scoring is
exhaustive (every passage), a page scores its best passage, and the fused rows combine the raw
mode scores as the package does (src/math/scores.ts combineScores: sum of w*s over the modes
scored, divided by the sum of their weights), by default with the package's weights
{dense 0.4, sparse 0.2, colbert 0.4}. bench/quality.ts stays the reference (it runs the ONNX
export through the package); this is the quick look between training stages, with the same
texts, tokenizer and truncation (512 tokens)."""
import gzip
import json

import torch


DEFAULT_WEIGHTS = (0.4, 0.2, 0.4)


def load_eval(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def _encode(model, tok, texts, max_len, batch=64):
    """Per text (dense [H], lexical [V], colbert [L-1, H]) in eval mode, no gradient; sorted by
    length so batches pad little."""
    ids = [tok.ids(t, max_len) for t in texts]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = [None] * len(ids)
    with torch.no_grad():
        for s in range(0, len(order), batch):
            chunk = order[s: s + batch]
            L = max(len(ids[i]) for i in chunk)
            x = torch.full((len(chunk), L), 1, dtype=torch.long)
            m = torch.zeros((len(chunk), L), dtype=torch.long)
            for r, i in enumerate(chunk):
                x[r, : len(ids[i])] = torch.tensor(ids[i])
                m[r, : len(ids[i])] = 1
            d, lex, col, cm = model.heads(x, m)
            for r, i in enumerate(chunk):
                n = int(cm[r].sum())
                out[i] = (d[r], lex[r], col[r, :n])
    return out


def _colbert(qs, ps, rows=4096, bucket=64):
    """ColBERT score matrix [Q, P]: every query row against passages grouped by length (little
    padding), the best passage row per query row, then the mean over each query's rows."""
    qrow = torch.cat([q[2] for q in qs])
    owner = torch.cat([torch.full((q[2].shape[0],), i) for i, q in enumerate(qs)])
    nrows = torch.bincount(owner, minlength=len(qs)).clamp(min=1).float()
    order = sorted(range(len(ps)), key=lambda i: ps[i][2].shape[0])
    out = torch.zeros(len(qs), len(ps))
    for s in range(0, len(order), bucket):
        chunk = order[s: s + bucket]
        L = max(1, max(ps[i][2].shape[0] for i in chunk))
        t = torch.zeros(len(chunk), L, qrow.shape[1])
        pad = torch.ones(len(chunk), L, dtype=torch.bool)
        for r, i in enumerate(chunk):
            n = ps[i][2].shape[0]
            t[r, :n] = ps[i][2]
            pad[r, :n] = False
        flat = t.reshape(-1, t.shape[-1]).T
        best = torch.empty(qrow.shape[0], len(chunk))
        for a in range(0, qrow.shape[0], rows):
            sim = (qrow[a: a + rows] @ flat).view(-1, len(chunk), L).masked_fill(pad[None], -1e4)
            best[a: a + rows] = sim.max(-1).values
        sums = torch.zeros(len(qs), len(chunk)).index_add_(0, owner, best)
        out[:, chunk] = sums / nrows[:, None]
    return out


def mode_scores(model, tok, ev, max_len=512):
    """Query x passage score matrices (dense, lexical, colbert) of the eval set, each [Q, P]."""
    was = model.training
    model.eval()
    qs = _encode(model, tok, [q["text"] for q in ev["queries"]], max_len)
    ps = _encode(model, tok, [c["text"] for c in ev["corpus"]], max_len)
    model.train(was)
    qd = torch.stack([q[0] for q in qs])
    pd = torch.stack([p[0] for p in ps])
    ql = torch.stack([q[1] for q in qs])
    pl = torch.stack([p[1] for p in ps])
    sd = qd @ pd.T
    sl = ql @ pl.T
    sm = _colbert(qs, ps)
    return sd, sl, sm


def page_recall(ev, fused, k=10):
    """recall@k of the target page, a page scoring its best passage."""
    pages = sorted({c["page"] for c in ev["corpus"]})
    col = {p: i for i, p in enumerate(pages)}
    idx = torch.tensor([col[c["page"]] for c in ev["corpus"]])
    per_page = torch.full((fused.shape[0], len(pages)), -1e30)
    per_page = per_page.scatter_reduce(1, idx.expand(fused.shape[0], -1), fused, "amax", include_self=True)
    top = per_page.topk(min(k, len(pages)), dim=1).indices
    target = torch.tensor([col[q["page"]] for q in ev["queries"]])
    return float((top == target[:, None]).any(1).float().mean())


def fuse(sd, sl, sm, w):
    den = w[0] + w[1] + w[2]
    return (w[0] * sd + w[1] * sl + w[2] * sm) / den


def report(model, tok, ev, weights=DEFAULT_WEIGHTS):
    """recall@10 per mode row (the paper's table rows, the package's fused weights) and the mean
    lexical / dense score of the target passages (the scales the fused score adds)."""
    sd, sl, sm = mode_scores(model, tok, ev)
    w = weights
    rows = {"Dense": (1, 0, 0), "Sparse": (0, 1, 0), "Multi-vec": (0, 0, 1),
            "Dense+Sparse": (w[0], w[1], 0), "All": tuple(w)}
    out = {name: round(page_recall(ev, fuse(sd, sl, sm, r)), 4) for name, r in rows.items()}
    out["lex_scale"] = round(float(sl.max(1).values.mean()), 4)
    out["dense_scale"] = round(float(sd.max(1).values.mean()), 4)
    return out, (sd, sl, sm)
