#!/usr/bin/env bash
# `npm run demo [-- --model <dir or repo id>]`: indexes the bundled multilingual sample corpus
# (data/sample-corpus, 288 documents in 9 languages) with the m3 CLI and answers the sample
# queries, showing the dense, sparse and ColBERT rankings beside the hybrid one.
# Model: --model, else $M3_MODEL_DIR, else BAAI/bge-m3 from the Hugging Face cache (never
# downloaded here; `node dist/cli/main.js download` does that), else the small model trained by
# this repository (data/manpages/model, not BGE-M3), which searches held-out man pages instead
# of the sample corpus (see scripts/demo.ts), as the demo's banner says.
set -euo pipefail
cd "$(dirname "$0")/.."
M3_SETUP_DEBIAN=no bash scripts/setup.sh
if [ ! -f dist/cli/main.js ] || [ -n "$(find src -name '*.ts' -newer dist/cli/main.js -print -quit)" ]; then
  echo "demo: building (npm run build)"
  npm run --silent build >/dev/null
fi
exec node --import tsx scripts/demo.ts "$@"
