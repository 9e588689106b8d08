#!/usr/bin/env python3
"""Train the small model's tokenizer: a SentencePiece Unigram (nmt_nfkc) on the training text,
written as tokenizer.json in the XLM-R layout by scripts/fixtures/make_tokenizer.py's converter.
XLM-R's own 250k-piece vocabulary would make the embedding table alone ~128 MB at hidden 128.

Usage: tokenizer.py --text tokenizer-text.txt --out DIR [--vocab-size 8000]
Writes DIR/spm.model and DIR/tokenizer.json."""
import argparse
import io
import json
import os
import sys

import sentencepiece as spm

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
from make_tokenizer import tokenizer_json  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--text", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--vocab-size", type=int, default=8000)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    spm.set_random_generator_seed(21)
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        input=a.text, model_writer=buf, model_type="unigram", vocab_size=a.vocab_size,
        character_coverage=0.9995, normalization_rule_name="nmt_nfkc", num_threads=1,
        input_sentence_size=200000, shuffle_input_sentence=True, max_sentence_length=8192,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, minloglevel=2)
    with open(os.path.join(a.out, "spm.model"), "wb") as f:
        f.write(buf.getvalue())
    tj = tokenizer_json(buf.getvalue())
    with open(os.path.join(a.out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tj, f, ensure_ascii=False, indent=1)
    print(f"tokenizer: vocab {len(tj['model']['vocab'])} -> {a.out}/tokenizer.json")


if __name__ == "__main__":
    main()
