#!/usr/bin/env python3
"""Train a small BGE-M3-architecture model (XLM-RoBERTa encoder + sparse_linear + colbert_linear)
on query/passage pairs, the way the M3 paper trains BGE-M3, on the CPU, seeded.

  stage 1  dense only: InfoNCE over in-batch + hard negatives, logits s_dense / tau.
  stage 2  unified fine-tuning with self-knowledge distillation, per batch:
             L      = (l1*L_dense + l2*L_lex + l3*L_mul) / 3            (InfoNCE per mode)
             s_inter = w1*s_dense + w2*s_lex + w3*s_mul                 (the teacher, no gradient)
             L'_*   = -sum p(s_inter) * log p(s_*)                      (p = softmax(. / tau))
             L'     = (l1*L'_dense + l2*L'_lex + l3*L'_mul) / 3
             L_final = (L + L') / 2
           defaults w = l = (1, 0.3, 1): the lexical mode weighs less (its head starts random and
           its scores are on another scale), as in the BGE-M3 reference weights.
Every epoch prints each mode's loss and in-batch accuracy (the positive ranked first among the
batch's passages). Writes the BAAI encoder-only layout through scripts/fixtures/make_model.py's
writer (export.py): onnx/model.onnx + model.onnx_data (fp32), onnx/model_quantized.onnx (int8),
sparse_linear.pt, colbert_linear.pt (fp16), tokenizer.json, config.json (with "_training").

Usage:
  train.py --pairs train.jsonl --tokenizer DIR_WITH_spm.model_AND_tokenizer.json --out MODEL_DIR
           [--seed 21] [--hidden 128 --layers 2 --heads 4 --ffn 256]
           [--stage1-steps 300 --stage2-steps 300] [--batch 32] [--lr 1e-3] [--tau 0.05]
           [--query-len 32 --passage-len 96] [--steps-per-epoch 100] [--threads 2]
           [--log FILE.json]
"""
import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np
import sentencepiece as spm
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from model import M3Model, scores  # noqa: E402
import export  # noqa: E402


def read_pairs(path, limit=None):
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            r = json.loads(line)
            if not isinstance(r.get("query"), str) or not isinstance(r.get("positive"), str):
                raise SystemExit(f"{path}:{n}: a pair needs string fields query and positive")
            rows.append(r)
            if limit and len(rows) >= limit:
                break
    return rows


class Tok:
    """SentencePiece ids -> the tokenizer.json ids (<s>=0 <pad>=1 </s>=2 <unk>=3, piece = spm id + 1)."""

    def __init__(self, model_path):
        self.sp = spm.SentencePieceProcessor(model_file=model_path)

    def ids(self, text, max_len):
        c = [3 if i == 0 else i + 1 for i in self.sp.encode(text)][: max_len - 2]
        return [0] + c + [2]


def batchify(lists):
    L = max(len(x) for x in lists)
    ids = torch.full((len(lists), L), 1, dtype=torch.long)
    mask = torch.zeros((len(lists), L), dtype=torch.long)
    for i, x in enumerate(lists):
        ids[i, : len(x)] = torch.tensor(x)
        mask[i, : len(x)] = 1
    return ids, mask


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", required=True)
    ap.add_argument("--tokenizer", required=True, help="folder with spm.model and tokenizer.json (tokenizer.py)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--ffn", type=int, default=256)
    ap.add_argument("--max-positions", type=int, default=514)
    ap.add_argument("--stage1-steps", type=int, default=300)
    ap.add_argument("--stage2-steps", type=int, default=300)
    ap.add_argument("--steps-per-epoch", type=int, default=100)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--negatives", type=int, default=1, help="hard negatives per query")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--tau", type=float, default=0.05)
    ap.add_argument("--w", type=float, nargs=3, default=[1.0, 0.3, 1.0], help="teacher weights w1 w2 w3")
    ap.add_argument("--lam", type=float, nargs=3, default=[1.0, 0.3, 1.0], help="loss weights l1 l2 l3")
    ap.add_argument("--query-len", type=int, default=32)
    ap.add_argument("--passage-len", type=int, default=96)
    ap.add_argument("--max-pairs", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--log", default=None, help="write the per-epoch log here as JSON")
    ap.add_argument("--no-int8", action="store_true")
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    torch.use_deterministic_algorithms(True)
    rng = random.Random(a.seed)
    t0 = time.time()
    tok = Tok(os.path.join(a.tokenizer, "spm.model"))
    with open(os.path.join(a.tokenizer, "tokenizer.json"), encoding="utf-8") as f:
        vocab = len(json.load(f)["model"]["vocab"])
    pairs = read_pairs(a.pairs, a.max_pairs)
    enc = [(tok.ids(r["query"], a.query_len), tok.ids(r["positive"], a.passage_len),
            [tok.ids(n, a.passage_len) for n in (r.get("negatives") or [])]) for r in pairs]
    print(f"{len(enc)} pairs tokenized in {time.time() - t0:.1f}s; vocab {vocab}", flush=True)
    model = M3Model(vocab, a.hidden, a.layers, a.heads, a.ffn, a.max_positions, a.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.01)
    total = a.stage1_steps + a.stage2_steps
    warm = max(1, total // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * max(0.05, 0.5 * (1 + math.cos(math.pi * min(s, total) / total))))
    order = list(range(len(enc)))
    rng.shuffle(order)
    cursor = 0
    log, acc_epoch = [], None
    n_neg = a.negatives

    def next_batch():
        nonlocal cursor
        if cursor + a.batch > len(order):
            rng.shuffle(order)
            cursor = 0
        idx = order[cursor: cursor + a.batch]
        cursor += a.batch
        qs, ps = [], []
        for i in idx:
            q, p, negs = enc[i]
            qs.append(q)
            ps.append(p)
            for k in range(n_neg):  # a hard negative, else a random passage of another pair
                ps.append(negs[k] if k < len(negs) else enc[rng.randrange(len(enc))][1])
        return batchify(qs), batchify(ps)

    def new_epoch():
        return {m: [0.0, 0, 0] for m in ("dense", "lex", "mul", "final")}

    acc_epoch = new_epoch()
    model.train()
    step_t = time.time()
    for step in range(total):
        stage = 1 if step < a.stage1_steps else 2
        (qi, qm), (pi, pm) = next_batch()
        q = model.heads(qi, qm)
        p = model.heads(pi, pm)
        sd, sl, sm = scores(q, p)
        target = torch.arange(qi.shape[0]) * (1 + n_neg)
        logits = {"dense": sd / a.tau, "lex": sl / a.tau, "mul": sm / a.tau}
        ce = {m: F.cross_entropy(v, target) for m, v in logits.items()}
        if stage == 1:
            loss = ce["dense"]
        else:
            l1, l2, l3 = a.lam
            w1, w2, w3 = a.w
            L = (l1 * ce["dense"] + l2 * ce["lex"] + l3 * ce["mul"]) / 3
            s_inter = (w1 * sd + w2 * sl + w3 * sm).detach()
            teacher = torch.softmax(s_inter / a.tau, -1)
            kd = {m: -(teacher * torch.log_softmax(v, -1)).sum(-1).mean() for m, v in logits.items()}
            Lp = (l1 * kd["dense"] + l2 * kd["lex"] + l3 * kd["mul"]) / 3
            loss = (L + Lp) / 2
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        with torch.no_grad():
            for m, v in logits.items():
                e = acc_epoch[m]
                e[0] += float(ce[m])
                e[1] += int((v.argmax(-1) == target).sum())
                e[2] += qi.shape[0]
            acc_epoch["final"][0] += float(loss)
            acc_epoch["final"][2] += qi.shape[0]
        if (step + 1) % a.steps_per_epoch == 0 or step + 1 == total:
            n_steps = (step % a.steps_per_epoch) + 1
            row = {"epoch": len(log) + 1, "stage": stage, "steps": step + 1, "seconds": round(time.time() - step_t, 1),
                   "loss": round(acc_epoch["final"][0] / n_steps, 4)}
            for m in ("dense", "lex", "mul"):
                row[f"{m}_loss"] = round(acc_epoch[m][0] / n_steps, 4)
                row[f"{m}_acc"] = round(acc_epoch[m][1] / max(1, acc_epoch[m][2]), 4)
            log.append(row)
            print(json.dumps(row), flush=True)
            acc_epoch = new_epoch()
    train_s = time.time() - t0
    meta = {"command": " ".join(["python3", "scripts/train/train.py"] + sys.argv[1:]), "seed": a.seed,
            "pairs": len(enc), "seconds": round(train_s, 1), "threads": a.threads, "epochs": log,
            "tau": a.tau, "w": a.w, "lambda": a.lam, "load_average": os.getloadavg()[0]}
    export.write(model, os.path.join(a.tokenizer, "tokenizer.json"), a.out, meta, int8=not a.no_int8)
    if a.log:
        with open(a.log, "w") as f:
            json.dump(meta, f, indent=1)
    print(f"trained in {train_s:.0f}s -> {a.out}", flush=True)


if __name__ == "__main__":
    main()
