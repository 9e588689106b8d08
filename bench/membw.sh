#!/usr/bin/env bash
# Memory read bandwidth of this machine (bench/lib/membw.c): 1 GiB buffer, best of 7 passes,
# 1 and 2 threads; prints JSON. The floor of one short query is the weights' bytes over this.
# Usage: bench/membw.sh [MiB] [max threads]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)/membw
gcc -O3 -march=native -o "$bin" bench/lib/membw.c -lpthread
"$bin" "${1:-1024}" "${2:-2}"
