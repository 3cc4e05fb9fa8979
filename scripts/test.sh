#!/usr/bin/env bash
# Build the `bcos` binary and run every test of the workspace (unit, model, end-to-end).
# Extra arguments go to the test runner (e.g. a filter).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# A target dir that outlives the clone, so a warm machine rebuilds only what changed.
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
  CARGO_TARGET_DIR=/var/cache/bcos-target
  if ! mkdir -p "$CARGO_TARGET_DIR" 2>/dev/null || [ ! -w "$CARGO_TARGET_DIR" ]; then
    CARGO_TARGET_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/bcos-target"
    mkdir -p "$CARGO_TARGET_DIR"
  fi
fi
export CARGO_TARGET_DIR
echo "test: CARGO_TARGET_DIR=$CARGO_TARGET_DIR"

scripts/setup.sh

cargo build --release --bin bcos
# The end-to-end tests find the binary here (they also look next to their own executables).
export BCOS_BIN="$CARGO_TARGET_DIR/release/bcos"

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --release --workspace --no-fail-fast "$@"
else
  echo "test: cargo-nextest not found, using cargo test"
  cargo test --release --workspace --no-fail-fast "$@"
fi

# Loom model checks of the hand-synchronised structures (the sender cache, the pool/sealer
# doorbell). `--cfg loom` changes every crate's fingerprint, so they get a target dir of
# their own; these crates do not depend on RocksDB.
loom_test() { CARGO_TARGET_DIR="$CARGO_TARGET_DIR-loom" RUSTFLAGS="--cfg loom" cargo test --release "$@"; }
loom_test -p bcos-sync --lib
loom_test -p bcos-crypto --test loom_sender_cache
