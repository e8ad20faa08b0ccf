#!/usr/bin/env bash
# x86-64 CPU runner: every engine built for the CPU (llama.cpp with this CPU's features,
# the Rust runners with -C target-cpu=native). The same as a person's `make setup`.
set -euo pipefail
cd "$(dirname "$0")/../.."
make setup EXTRAS=all,dev RUNNERS="candle burn"
