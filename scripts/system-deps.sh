#!/usr/bin/env bash
# Debian packages the engines need to build or run; installed only when missing.
# gcc/g++/cmake build llama.cpp; clang is what tinygrad's CPU device compiles kernels with.
# The site's browser test (tests/test_site.py) drives Debian's chromium and chromium-driver;
# elsewhere (Ubuntu's chromium is a snap) a Chrome with its chromedriver on PATH serves.
set -euo pipefail
packages=(python3-venv gcc g++ cmake git clang)
os_id=$(. /etc/os-release 2>/dev/null && echo "${ID:-}")
[ "$os_id" = debian ] && packages+=(chromium chromium-driver)
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
