#!/usr/bin/env bash
# The project's test command (`npm test`): set-up, build, type-check, a fresh model from the
# independent Python oracle, unit + integration tests (vitest), the README's snippets from the
# packed tarball (newest and oldest @langchain/core), notebooks, benchmark smoke run.
# The last line printed is "N passed, N failed" (failed set-up/build/notebook/bench steps count
# as failures).
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .tmp
failed_steps=0
step() { # name, command...
  local name=$1; shift
  echo "── $name"
  if "$@"; then echo "   ok: $name"; else echo "   FAILED: $name"; failed_steps=$((failed_steps + 1)); fi
}
have_python_oracle() { /usr/bin/python3 -c "import torch, onnx, sentencepiece, numpy" >/dev/null 2>&1; }

step setup bash scripts/setup.sh
step build npm run --silent build
step typecheck npx tsc --noEmit -p tsconfig.json

# A model folder that is not one of the committed fixtures: new seed, other sizes, built and
# scored by the Python oracle now; the golden tests run on it too (M3_EXTRA_FIXTURES).
if have_python_oracle; then
  seed=${M3_FRESH_SEED:-$(( $(date +%s) % 100000 ))}
  rm -rf .tmp/fresh-fixtures
  if step "fresh oracle model (seed $seed)" bash scripts/fixtures/make-fixtures.sh .tmp/fresh-fixtures "$seed" --hidden 48 --layers 3; then
    export M3_EXTRA_FIXTURES="$PWD/.tmp/fresh-fixtures"
  fi
elif [ "${CI:-}" = true ]; then
  echo "   FAILED: python3-torch/onnx/sentencepiece missing in CI"; failed_steps=$((failed_steps + 1))
else
  echo "── fresh oracle model: skipped (python3-torch, python3-onnx, python3-sentencepiece not installed)"
fi

rm -f .tmp/vitest.json
npx vitest run --reporter=default --reporter=json --outputFile.json=.tmp/vitest.json

# The README's snippets, from the packed tarball: on the installed @langchain/core (the lock
# file's, the newest the peer range allows) and on the oldest version the peer range claims
# (installed once into .tmp from the npm registry).
step "README snippets (packed tarball)" node scripts/readme-snippets.mjs
oldest_core=$(node -p "require('./package.json').peerDependencies['@langchain/core'].match(/>=\\s*([0-9.]+)/)[1]")
if [ -f ".tmp/langchain-core-$oldest_core/node_modules/@langchain/core/package.json" ] || timeout 20 npm ping >/dev/null 2>&1; then
  step "README snippets on @langchain/core $oldest_core (oldest supported)" node scripts/readme-snippets.mjs --core "$oldest_core"
elif [ "${CI:-}" = true ]; then
  echo "   FAILED: the npm registry is unreachable in CI (needed for @langchain/core $oldest_core)"; failed_steps=$((failed_steps + 1))
else
  echo "── README snippets on @langchain/core $oldest_core: skipped (npm registry unreachable)"
fi

if command -v jupyter-nbconvert >/dev/null 2>&1; then
  step notebooks bash scripts/notebooks.sh
elif [ "${CI:-}" = true ]; then
  echo "   FAILED: jupyter-nbconvert missing in CI"; failed_steps=$((failed_steps + 1))
else
  echo "── notebooks: skipped (jupyter-nbconvert not installed)"
fi
step "benchmark smoke" bash scripts/bench.sh --smoke

node scripts/summarize-tests.mjs .tmp/vitest.json "$failed_steps"
