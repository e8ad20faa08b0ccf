#!/usr/bin/env bash
# Apple M1/M2 runner (Xcode command line tools, Homebrew python3.11 and rustup): llama.cpp
# with Metal, candle and burn with their metal features. CTranslate2 has no macOS arm64
# GPU path; its CPU wheel is installed with the rest.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CMAKE_ARGS="-DGGML_METAL=on"
export CARGO_FEATURES_candle=metal CARGO_FEATURES_burn=metal
make setup EXTRAS=all,dev RUNNERS="candle burn" PYTHON="${PYTHON:-python3.11}"
