#!/usr/bin/env bash
# Build llama-cpp-python for this machine once and install it; later installs reuse the
# wheel. Wheels are kept under the enginebench cache, keyed by version and CMAKE_ARGS
# (pip's own wheel cache ignores CMAKE_ARGS, so a GPU or no-AMX build would be mixed up).
#   usage: scripts/install_llamacpp.sh [PYTHON]      (CMAKE_ARGS from the environment or
#          scripts/llamacpp_cmake_args.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
py=${1:-.venv/bin/python}
version=$(sed -n 's/.*"llama-cpp-python==\([0-9.]*\)".*/\1/p' "$here/../pyproject.toml" | head -1)
args=${CMAKE_ARGS-$(bash "$here/llamacpp_cmake_args.sh")}
key=$(printf '%s|%s' "$version" "$args" | sha256sum | cut -c1-12)
wheels="${ENGINEBENCH_CACHE:-$HOME/.cache/enginebench}/wheels/llama-cpp-python-$version-$key"
if ! ls "$wheels"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  echo "building llama-cpp-python $version (CMAKE_ARGS='$args'); about 7 minutes on 2 cores"
  mkdir -p "$wheels.tmp"
  CMAKE_ARGS="$args" CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
    "$py" -m pip wheel --quiet --no-deps --no-cache-dir "llama-cpp-python==$version" \
    -w "$wheels.tmp"
  rm -rf "$wheels" && mv "$wheels.tmp" "$wheels"
fi
"$py" -m pip install --quiet --force-reinstall --no-deps "$wheels"/llama_cpp_python-*.whl
printf '%s\n' "$args" > "$wheels/CMAKE_ARGS"
