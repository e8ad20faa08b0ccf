#!/usr/bin/env bash
# Debian packages the engines need to build or run; installed only when missing.
# gcc/g++/cmake build llama.cpp; clang is what tinygrad's CPU device compiles kernels with;
# chromium and chromium-driver run the site's browser test (tests/test_site.py).
set -euo pipefail
packages=(python3-venv gcc g++ cmake git clang chromium chromium-driver)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "missing system packages ${missing[*]} and no apt-get: install them yourself" >&2
  exit 1
fi
sudo_=""
[ "$(id -u)" -eq 0 ] || sudo_="sudo"
$sudo_ apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "${missing[@]}"
