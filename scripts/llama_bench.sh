#!/usr/bin/env bash
# Run llama.cpp's own llama-bench, to cross-check the llamacpp adapter's rates on the same GGUF.
# It is built once from the llama.cpp vendored in the llama-cpp-python sdist of the version
# pinned in pyproject.toml, with the CMAKE_ARGS the adapter's build uses, and kept under the
# enginebench cache keyed by version and CMAKE_ARGS (as scripts/install_llamacpp.sh does).
#   usage: scripts/llama_bench.sh [llama-bench args...]   (CMAKE_ARGS from the environment or
#          scripts/llamacpp_cmake_args.sh; PYTHON, default .venv/bin/python, runs pip)
#   e.g.   scripts/llama_bench.sh -m model.gguf -t 2 -p 0 -n 128 -d 2048   (tg128 @ d2048)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-$here/../.venv/bin/python}
version=$(sed -n 's/.*"llama-cpp-python==\([0-9.]*\)".*/\1/p' "$here/../pyproject.toml" | head -1)
args=${CMAKE_ARGS-$(bash "$here/llamacpp_cmake_args.sh")}
key=$(printf '%s|%s' "$version" "$args" | sha256sum | cut -c1-12)
dir="${ENGINEBENCH_CACHE:-$HOME/.cache/enginebench}/tools/llama-bench-$version-$key"
if [ ! -x "$dir/llama-bench" ]; then
  echo "building llama-bench $version (CMAKE_ARGS='$args')" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  "$py" -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$version" -d "$tmp"
  tar -xzf "$tmp/llama_cpp_python-$version.tar.gz" -C "$tmp"
  # Static libraries, so the one binary can be cached on its own; same compiler flags.
  # shellcheck disable=SC2086  # $args is a list of -D options
  cmake -S "$tmp/llama_cpp_python-$version/vendor/llama.cpp" -B "$tmp/build" \
    -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TOOLS=ON \
    -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF \
    -DLLAMA_BUILD_APP=OFF -DLLAMA_OPENSSL=OFF $args >&2
  cmake --build "$tmp/build" --target llama-bench -j "$(nproc)" >&2
  mkdir -p "$dir.tmp"
  cp "$tmp/build/bin/llama-bench" "$dir.tmp/"
  printf '%s\n' "$args" > "$dir.tmp/CMAKE_ARGS"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
  rm -rf "$tmp"
  trap - EXIT
fi
exec "$dir/llama-bench" "$@"
