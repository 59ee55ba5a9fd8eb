#!/usr/bin/env bash
# Create .venv in the repository and install Keel with the local model, embeddings and test tools.
# Safe to run again: it only installs what is missing or changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "error: Keel needs Python 3.11 or newer; set PYTHON=/path/to/python3.11 or install it." >&2
    exit 1
fi
for tool in gcc g++; do
    if ! command -v "$tool" >/dev/null; then
        echo "error: $tool is missing; llama-cpp-python compiles from source." >&2
        echo "       On Debian or Ubuntu: sudo apt-get install -y build-essential python3-dev python3-venv" >&2
        exit 1
    fi
done

if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# torch first and pinned, so sentence-transformers does not pull a newer multi-gigabyte CUDA build.
# KEEL_TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu picks PyTorch's CPU wheels on machines
# that can reach that index.
if ! .venv/bin/python -c 'import torch, sys; sys.exit(torch.__version__.split("+")[0] != "2.13.0")' 2>/dev/null; then
    echo "installing torch 2.13.0"
    .venv/bin/python -m pip install --quiet torch==2.13.0 ${KEEL_TORCH_INDEX_URL:+--index-url "$KEEL_TORCH_INDEX_URL"}
fi
if .venv/bin/python -c 'import llama_cpp' 2>/dev/null; then
    echo "installing agentkeel with the local and dev extras"
else
    echo "installing agentkeel with the local and dev extras (llama-cpp-python compiles for about 5 minutes the first time)"
fi
.venv/bin/python -m pip install --quiet -e '.[local,dev]'
