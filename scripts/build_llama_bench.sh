#!/usr/bin/env bash
# Build llama.cpp's own llama-bench from the llama-cpp-python sdist of the installed version,
# with the same CMAKE_ARGS as the adapter's llama.cpp, to check that the llamacpp
# adapter's decode rate matches llama.cpp's own on the same GGUF:
#   scripts/build_llama_bench.sh && build/llama-bench/cmake/bin/llama-bench -m MODEL.gguf -t 2 -n 128
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
version=$($py -c 'import importlib.metadata as m; print(m.version("llama-cpp-python"))')
work=build/llama-bench
mkdir -p "$work"
if [ ! -d "$work/src" ]; then
  $py -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$version" -d "$work"
  tar -xzf "$work/llama_cpp_python-$version.tar.gz" -C "$work"
  mv "$work/llama_cpp_python-$version/vendor/llama.cpp" "$work/src"
fi
cmake -S "$work/src" -B "$work/cmake" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
  ${CMAKE_ARGS-$(bash scripts/llamacpp_cmake_args.sh)}
cmake --build "$work/cmake" --target llama-bench -j "$(nproc)"
echo "built $work/cmake/bin/llama-bench"
