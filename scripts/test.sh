#!/usr/bin/env bash
# The project's test command (`npm test`): build, type-check, unit + integration tests,
# notebooks, benchmark smoke. The last line printed is "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .tmp
failed_steps=0
step() { # name, command...
  local name=$1; shift
  echo "── $name"
  if "$@"; then echo "   ok: $name"; else echo "   FAILED: $name"; failed_steps=$((failed_steps + 1)); fi
}
step build npm run --silent build
step typecheck npx tsc --noEmit -p tsconfig.json
rm -f .tmp/vitest.json
npx vitest run --reporter=default --reporter=json --outputFile.json=.tmp/vitest.json
node scripts/summarize-tests.mjs .tmp/vitest.json "$failed_steps"
