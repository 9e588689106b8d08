#!/usr/bin/env bash
# Writes a random-weight model with BGE-M3's exact shapes (vocab 250002, hidden 1024, 24 layers,
# 16 heads, FFN 4096, 8194 positions), fp32 with external data, in the BAAI/bge-m3 encoder-only
# layout (onnx/model.onnx + onnx/model.onnx_data, sparse_linear.pt, colbert_linear.pt,
# tokenizer.json padded to 250002 pieces), into bench/models/bge-m3-random (~2.3 GB), with
# scripts/fixtures/make_model.py --preset fullsize (the fixture models' writer).
# Skips if present. Needs /usr/bin/python3 with numpy, onnx, torch, sentencepiece.
# Usage: scripts/make-fullsize-model.sh [OUT_DIR] [extra make_model.py args, e.g. --seed 1]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
out=${1:-bench/models/bge-m3-random}
shift || true
if [ -f "$out/onnx/model.onnx" ] && [ -f "$out/onnx/model.onnx_data" ] && [ -f "$out/colbert_linear.pt" ]; then
  echo "full-size model present: $out"
  exit 0
fi
echo "writing full-size random model to $out (takes a few minutes, ~2.3 GB)"
/usr/bin/python3 scripts/fixtures/make_model.py --preset fullsize --out "$out" "$@"
