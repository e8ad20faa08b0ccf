#!/usr/bin/env bash
# Build the Rust runners (runners/rust) in release mode and put their binaries in
# runners/rust/bin, where enginebench finds them.
#   bash scripts/build_runners.sh [candle] [burn]      (default: both)
#   CARGO_FEATURES_candle=cuda ... passes cargo features per runner (runners/README.md).
# Cargo's target directory defaults to a cache outside the checkout, so a fresh clone on
# the same machine reuses earlier builds: ENGINEBENCH_CARGO_TARGET overrides it.
set -euo pipefail
cd "$(dirname "$0")/.."
MIN_RUST=1.95
runners=("$@")
[ ${#runners[@]} -gt 0 ] || runners=(candle burn)

PATH="$HOME/.cargo/bin:$PATH"
if ! command -v cargo >/dev/null; then
    echo "build_runners: cargo not found; install Rust >= $MIN_RUST (https://rustup.rs)," \
         "or skip the Rust runners with: make setup RUNNERS=" >&2
    exit 1
fi
have=$(cargo --version | awk '{print $2}')
if [ "$(printf '%s\n' "$MIN_RUST" "$have" | sort -V | head -1)" != "$MIN_RUST" ]; then
    if command -v rustup >/dev/null; then
        rustup toolchain install "$MIN_RUST" --profile minimal
        export RUSTUP_TOOLCHAIN=$MIN_RUST
    else
        echo "build_runners: cargo $have is older than $MIN_RUST; update Rust" >&2
        exit 1
    fi
fi

export CARGO_TARGET_DIR=${ENGINEBENCH_CARGO_TARGET:-${ENGINEBENCH_CACHE:-$HOME/.cache/enginebench}/cargo-target}
mkdir -p runners/rust/bin
for r in "${runners[@]}"; do
    case $r in candle|burn) ;; *) echo "build_runners: unknown runner '$r' (candle, burn)" >&2; exit 2;; esac
    features_var=CARGO_FEATURES_$r
    features=${!features_var:-}
    start=$(date +%s)
    (cd runners/rust && cargo build --release --locked -p "enginebench-$r" \
        ${features:+--features "$features"})
    install -m 755 "$CARGO_TARGET_DIR/release/enginebench-$r" runners/rust/bin/
    echo "build_runners: enginebench-$r built in $(( $(date +%s) - start )) s" \
         "${features:+(features: $features)}"
done
