#!/usr/bin/env bash
# Installs what the project needs on a fresh machine: npm packages (from the lock file) and,
# for the test suite's independent Python oracle and the notebooks, Debian packages.
# Idempotent and quick when everything is already there. Used by `npm test` and `npm run demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
# onnxruntime-node's install script would fetch CUDA files; this package runs on the CPU.
export ONNXRUNTIME_NODE_INSTALL=skip ONNXRUNTIME_NODE_INSTALL_CUDA=skip

want_debian=${M3_SETUP_DEBIAN:-auto}   # auto | no
if [ "$want_debian" != no ]; then
  need=()
  /usr/bin/python3 -c "import torch, onnx, sentencepiece, numpy" >/dev/null 2>&1 ||
    need+=(python3-torch python3-onnx python3-sentencepiece python3-numpy)
  { command -v jupyter-nbconvert >/dev/null 2>&1 && /usr/bin/python3 -c "import ipykernel" >/dev/null 2>&1; } ||
    need+=(jupyter-nbconvert python3-ipykernel)
  if [ ${#need[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    if [ -z "$sudo" ] || command -v sudo >/dev/null 2>&1; then
      echo "setup: installing Debian packages: ${need[*]}"
      $sudo apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    else
      echo "setup: cannot install ${need[*]} (not root, no sudo); the oracle and notebook checks will be skipped"
    fi
  fi
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
