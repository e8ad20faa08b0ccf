#!/usr/bin/env bash
# Run a runner profile through the asv suite (the nightly): one measurement gives asv's
# results JSON under data/asv/results/<machine>/ and the full run documents (raw samples,
# quality, roofline) under OUT/<machine>/.
#   bash scripts/asv_run.sh runners/cpu [OUT]     (OUT: nightly-results)
# Needs `make setup` (or the profile's setup.sh) first; asv records the results under this
# checkout's commit (asv's existing environment saves nothing without one).
set -euo pipefail
profile=${1:?usage: scripts/asv_run.sh PROFILE_DIR [OUT]}
out=${2:-nightly-results}
cd "$(dirname "$0")/.."
[ -f "$profile/profile.yaml" ] || { echo "$profile: no profile.yaml there (runners/cpu, ...)" >&2; exit 2; }
bin=.venv/bin
machine=$("$bin/python" -c 'from enginebench.measure.environment import default_machine_label as m; print(m())')
commit=$(git rev-parse HEAD)
# asv files results under the machine's name: the same label as `enginebench run`'s
"$bin/asv" machine --yes --machine "$machine" >/dev/null
mkdir -p "$out"
ENGINEBENCH_ASV_PROFILE=$profile ENGINEBENCH_ASV_OUT=$(realpath "$out") \
  "$bin/asv" run --machine "$machine" --environment "existing:$bin/python" \
  --set-commit-hash "$commit" --bench '^engines\.' --show-stderr
echo "asv results: data/asv/results/$machine/; run documents: $out/$machine/"
