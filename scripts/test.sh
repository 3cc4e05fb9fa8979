#!/usr/bin/env bash
# Build the `bcos` binary and run every test of the workspace (unit, property, model,
# end-to-end with real processes and real clients, loom). Extra arguments go to the test
# runner (e.g. a filter).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup.sh

# The build directory the certification run uses too (.cargo/config.toml), so RocksDB's C++
# is compiled once per machine.
target_dir=${CARGO_TARGET_DIR:-$(sed -n 's/^target-dir *= *"\(.*\)"/\1/p' .cargo/config.toml)}
echo "test: build directory $target_dir"

cargo build --release --bin bcos
# The end-to-end tests find the binary here (they also look next to their own executables).
export BCOS_BIN="$target_dir/release/bcos"

# A throwaway PostgreSQL for the `bcos etl` warehouse test (BCOS_TEST_POSTGRES), stopped on exit.
# shellcheck source=lib/postgres.sh
. scripts/lib/postgres.sh
trap pg_stop EXIT
pg_start

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --release --workspace --no-fail-fast "$@"
else
  echo "test: cargo-nextest not found, using cargo test"
  cargo test --release --workspace --no-fail-fast "$@"
fi

# Loom model checks of the hand-synchronised structures (the sender cache, the pool/sealer
# doorbell). `--cfg loom` changes every crate's fingerprint, so they get a build directory of
# their own beside the main one; these crates do not depend on RocksDB.
loom_test() { CARGO_TARGET_DIR="$target_dir-loom" RUSTFLAGS="--cfg loom" cargo test --release "$@"; }
loom_test -p bcos-sync --lib
loom_test -p bcos-crypto --test loom_sender_cache
