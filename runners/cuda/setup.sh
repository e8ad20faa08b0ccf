#!/usr/bin/env bash
# NVIDIA GPU runner (CUDA 12 toolkit with nvcc on PATH): llama.cpp built with GGML_CUDA,
# ONNX Runtime's GPU packages, candle and burn with their cuda features. PyPI's Linux
# PyTorch and CTranslate2 wheels are already CUDA builds.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CMAKE_ARGS="-DGGML_CUDA=on"
export CARGO_FEATURES_candle=cuda CARGO_FEATURES_burn=cuda
make setup EXTRAS=all,dev RUNNERS="candle burn"
.venv/bin/pip install --quiet onnxruntime-gpu onnxruntime-genai-cuda
