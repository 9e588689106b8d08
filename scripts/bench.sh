#!/usr/bin/env bash
# The benchmarks (`npm run bench`): encoder throughput on a full-size random-weight BGE-M3,
# retrieval on 10k and 100k synthetic documents against LangChain.js's HNSWLib + BM25 +
# EnsembleRetriever, ColBERT codec fidelity. Prints the tables, writes bench/results/*.json and
# bench/results/REPORT.md. Regenerate the README section with `node bench/render-readme.mjs`.
#
#   npm run bench                      # everything (~30–60 min on 2 cores; model ~2.3 GB once)
#   npm run bench -- --smoke           # CI: tiny fixture model, 1.5k docs, seconds; checks the
#                                      # harness produces well-formed results (not timing)
#   npm run bench -- --only encoder    # encoder | retrieval | colbert (comma-separated)
#   env: BENCH_SIZES=10000,100000  BENCH_THREADS=<nproc>  BENCH_MODEL=bench/models/bge-m3-random
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=false
only="encoder,retrieval,colbert"
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=true ;;
    --only) only=$2; shift ;;
    *) echo "bench.sh: unknown argument $1 (use --smoke, --only encoder,retrieval,colbert)" >&2; exit 2 ;;
  esac
  shift
done
want() { [[ ",$only," == *",$1,"* ]]; }
tsx=(node_modules/.bin/tsx)
threads=${BENCH_THREADS:-$(nproc)}
echo "bench: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); $(uptime)"

if $smoke; then
  out=.tmp/bench-smoke
  rm -rf "$out" && mkdir -p "$out"
  model=test/fixtures/models/encoder-only
  if [ ! -f "$model/onnx/model.onnx" ]; then
    model=.tmp/bench-smoke-model
    [ -f "$model/onnx/model.onnx" ] || /usr/bin/python3 scripts/fixtures/make_model.py --preset fullsize --out "$model" \
      --vocab 5000 --hidden 32 --layers 2 --heads 4 --ffn 64 --max-positions 514 >/dev/null
  fi
  want encoder && "${tsx[@]}" bench/encoder.ts --model "$model" --threads "$threads" \
    --queries 6 --passages 2 --mixed 6 --peak-runs 2 --peak-m 256 --out "$out/encoder.json"
  want retrieval && "${tsx[@]}" bench/retrieval.ts --sizes 1500 --dim 128 --queries 10 --gt-queries 10 \
    --lc-queries 10 --threads "$threads" --work .tmp/bench-smoke-work --out-dir "$out"
  want colbert && "${tsx[@]}" bench/colbert-fidelity.ts --small --out "$out/colbert-fidelity.json"
  node bench/report.mjs --dir "$out" --check --parts "$only" --quiet
  node bench/render-readme.mjs --dir "$out" >/dev/null
  echo "bench smoke: ok ($out)"
  exit 0
fi

model=${BENCH_MODEL:-bench/models/bge-m3-random}
if want encoder; then
  [ "$model" = bench/models/bge-m3-random ] && bash scripts/make-fullsize-model.sh "$model"
  # The int8 graph for the int8 and single-query rows, made by the package's own quantiser.
  [ -f "$model/onnx/model_quantized.onnx" ] || "${tsx[@]}" src/cli/main.ts quantize "$model" --no-check -q
  "${tsx[@]}" bench/encoder.ts --model "$model" --threads "$threads" --queries 32 --passages 8 --mixed 24 \
    --out bench/results/encoder.json
fi
if want retrieval; then
  "${tsx[@]}" bench/retrieval.ts --sizes "${BENCH_SIZES:-10000,100000}" --threads "$threads" \
    --queries 100 --gt-queries 20 --lc-queries 20 --queries-large 30 --gt-queries-large 6 --lc-queries-large 6 --parallel \
    --out-dir bench/results
fi
want colbert && "${tsx[@]}" bench/colbert-fidelity.ts --out bench/results/colbert-fidelity.json
node bench/report.mjs --dir bench/results
echo "bench: wrote bench/results/REPORT.md; README section: node bench/render-readme.mjs --write README.md"
