#!/usr/bin/env bash
# Executes every notebook in notebooks/ on the tslab (TypeScript) kernel and writes the outputs
# back into the notebook (plots included); fails on any cell error.
# Needs: Debian jupyter-nbconvert + python3-ipykernel (scripts/setup.sh installs them), the npm
# devDependency tslab, and a build (dist/). The tslab kernel spec is installed into .tmp/jupyter
# (no global state), pointing at node_modules/.bin/tslab.
# Usage: scripts/notebooks.sh            execute into a temp copy (CI; notebooks/ stays untouched)
#        scripts/notebooks.sh --update   execute in place, so the committed notebooks carry fresh outputs
# Env: M3_MODEL_DIR=<BGE-M3 folder> runs them on the real model instead of the tiny test model.
set -euo pipefail
cd "$(dirname "$0")/.."
check=yes
[ "${1:-}" = --update ] && check=no

command -v jupyter-nbconvert >/dev/null 2>&1 || { echo "notebooks: jupyter-nbconvert not found (apt-get install jupyter-nbconvert python3-ipykernel)"; exit 1; }
[ -f dist/index.cjs ] || npm run --silent build

kernels="$PWD/.tmp/jupyter"
if [ ! -f "$kernels/share/jupyter/kernels/tslab/kernel.json" ] || ! grep -q "$PWD/node_modules/.bin/tslab" "$kernels/share/jupyter/kernels/tslab/kernel.json"; then
  npx --no-install tslab install --python=/usr/bin/python3 --binary "$PWD/node_modules/.bin/tslab" --prefix "$kernels" >/dev/null
fi
export JUPYTER_PATH="$kernels/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
export PYTHONWARNINGS=ignore

out_dir=""
if [ $check = yes ]; then out_dir=$(mktemp -d); trap 'rm -rf "$out_dir"' EXIT; fi
failed=0
for nb in notebooks/*.ipynb; do
  start=$(date +%s)
  if [ $check = yes ]; then
    args=(--output-dir "$out_dir")
  else
    args=(--inplace)
  fi
  if log=$(jupyter nbconvert --to notebook --execute "${args[@]}" \
        --ExecutePreprocessor.kernel_name=tslab --ExecutePreprocessor.timeout=900 --ExecutePreprocessor.startup_timeout=300 "$nb" 2>&1); then
    echo "notebooks: ok   $nb ($(( $(date +%s) - start )) s)"
  else
    echo "notebooks: FAIL $nb"
    echo "$log" | grep -v "^\[NbConvertApp\]" | tail -25
    failed=$((failed + 1))
  fi
done
[ $failed -eq 0 ]
