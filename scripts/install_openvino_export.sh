#!/usr/bin/env bash
# The OpenVINO exporter (optimum-intel) in an environment of its own, inside the main venv:
# optimum-intel 2.2 supports transformers < 5.6 and huggingface-hub < 1.22, older than the
# transformers the other engines run on. The exporter's venv sees the main venv's packages
# (torch, numpy, ...) through a .pth file, after its own: only what optimum-intel pins
# differently (transformers, huggingface-hub, tokenizers) is installed twice.
#   usage: scripts/install_openvino_export.sh [PYTHON]   (PYTHON: the main venv's python)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
py=${1:-.venv/bin/python}
prefix=$("$py" -c 'import sys; print(sys.prefix)')
dest="$prefix/openvino-export"
optimum_intel="optimum-intel==2.2.0"
pin() { sed -n "s/.*\"\($1==[^\"]*\)\".*/\1/p" "$here/../pyproject.toml" | head -1; }
"$py" -m venv "$dest"
purelib=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
own=$("$dest/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
printf '%s\n' "$purelib" > "$own/_enginebench_main.pth"
# pip reports the main venv's packages that want the newer transformers as conflicts:
# they are not imported by the exporter, so its resolver's complaint is expected
"$dest/bin/pip" install --quiet "$optimum_intel" "$(pin openvino)" \
  "$(pin openvino-tokenizers)" "$(pin nncf)" 2>&1 | grep -v -E "dependency (resolver|conflicts)|requires|has requirement|which is incompatible" || true
"$dest/bin/python" -c 'import optimum.exporters.openvino' 2>/dev/null \
  || { echo "the OpenVINO exporter in $dest does not import"; exit 1; }
echo "OpenVINO exporter: $dest/bin/python"
