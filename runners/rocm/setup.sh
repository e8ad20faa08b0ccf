#!/usr/bin/env bash
# AMD GPU runner (ROCm 6 with hipcc): PyTorch's ROCm wheel from its own index, installed
# before the rest so that pip keeps it; llama.cpp built with GGML_HIP; burn with rocm.
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 -m venv .venv
.venv/bin/pip install --quiet --index-url https://download.pytorch.org/whl/rocm6.4 torch
export CMAKE_ARGS="-DGGML_HIP=on"
export CARGO_FEATURES_burn=rocm
make setup EXTRAS=torch,llamacpp,site,models,dev RUNNERS="burn"
