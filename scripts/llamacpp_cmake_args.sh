#!/usr/bin/env bash
# Print the CMAKE_ARGS that build llama.cpp for this CPU.
# Native (-march=native) is right unless the CPU advertises AMX that the machine does not
# enable (seen on VMs: `tilezero` raises SIGILL); then the build lists the instruction
# sets it may use, without AMX.
set -euo pipefail
[ "$(uname -m)" = "x86_64" ] || exit 0
flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
has() { [[ "$flags" == *" $1 "* ]]; }
has amx_tile || exit 0
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
if gcc -O2 -mamx-tile "$(dirname "$0")/probes/amx_tile.c" -o "$probe/amx" 2>/dev/null \
   && { "$probe/amx"; } 2>/dev/null; then
  exit 0
fi
args="-DGGML_NATIVE=OFF"
for pair in sse4_2:SSE42 avx:AVX avx2:AVX2 bmi2:BMI2 fma:FMA f16c:F16C avx_vnni:AVX_VNNI \
            avx512f:AVX512 avx512vbmi:AVX512_VBMI avx512_vnni:AVX512_VNNI \
            avx512_bf16:AVX512_BF16; do
  if has "${pair%%:*}"; then args+=" -DGGML_${pair##*:}=ON"; else args+=" -DGGML_${pair##*:}=OFF"; fi
done
echo "$args"
